// The console's flow list (src/console/flows.ts) reads, per flow, its last finished run and its last
// successful one. With only runs(flow_id, id) a flow failing for days walks back over every failed run to
// its last success (bench:console, 100 000 runs, one flow in ten failing for its last 200 runs: 6 682
// buffers and 9.2 ms for the list's statement); these partial indexes make each a one-entry read.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE INDEX runs_flow_done ON runs(flow_id, id) WHERE state = 'done';
    CREATE INDEX runs_flow_finished ON runs(flow_id, id) WHERE state IN ('done', 'failed', 'rejected');
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS runs_flow_done, runs_flow_finished`.execute(db);
}
