// "Is an earlier run of this flow still open?" — asked by every claim of every run (lifecycle/claim.ts).
// With runs_flow (flow_id, id) it walked past every finished run of the flow: measured by bench:sap at
// 2,000 IDoc messages (one run each), the claim was PostgreSQL's top statement (14–24 % of samples) and
// slowed as runs accumulated. This partial index holds the open runs only, and the claim names the same
// predicate literally so the planner can use it.
import { sql, type Kysely } from 'kysely';

export const OPEN_RUN_PREDICATE = "state NOT IN ('done', 'failed', 'rejected')";

export async function up(db: Kysely<any>): Promise<void> {
  await sql.raw(`CREATE INDEX runs_flow_open ON runs(flow_id, id) WHERE ${OPEN_RUN_PREDICATE}`).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS runs_flow_open`.execute(db);
}
