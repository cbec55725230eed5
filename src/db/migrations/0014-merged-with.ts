// Group merges: a run whose rows were merged in the transaction of an earlier run of its flow (a backlog
// of small deltas, e.g. IDoc messages, merged as one) names that run.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE runs ADD COLUMN merged_with bigint`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE runs DROP COLUMN IF EXISTS merged_with`.execute(db);
}
