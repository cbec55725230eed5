// The flow's rows per partition key, counted while a fingerprinted snapshot is read (issue 16): the merge
// takes its partition locks and checks the fingerprint against the store with them instead of scanning
// the flow's rows itself (prices have no index on flow_id; the scan was most of a 10M-row 1 % merge).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE runs ADD COLUMN fingerprint_held jsonb`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE runs DROP COLUMN fingerprint_held`.execute(db);
}
