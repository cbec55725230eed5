// Idempotent receipt: a connector receives a payload with a key (a 1C session's file, an IDoc number), and
// receiving it again with the same key makes no new runs but answers the first ones.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE runs ADD COLUMN receipt_key text;
    CREATE INDEX runs_receipt_key ON runs(receipt_key) WHERE receipt_key IS NOT NULL;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS runs_receipt_key; ALTER TABLE runs DROP COLUMN IF EXISTS receipt_key;`.execute(db);
}
