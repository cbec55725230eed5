// Coalesced receipts: many small messages of one flow (IDoc packets, webhook events) join the flow's
// newest run while it has not started reading, instead of making a run each. bench:sap measured one run
// per 100-IDoc message at 21 ms of worker CPU and 22 ms of PostgreSQL CPU per run (claims, staging
// tables, job hand-offs): 1,050 runs for 100,000 conditions, 2,461 conditions/s end to end.
//   - runs.coalesce_bytes: set on a run made by a coalescing receipt (the bytes of its files); only such
//     a run takes joiners, and only while it is received (not yet claimed) and the flow's newest run.
//   - run_receipts: every receipt key a run answers for, with the inbox row it brought (a run now holds
//     the messages of many receipts; runs.receipt_key stays the key of the receipt that made the run).
//     A coalesced run that fails to read is split into one run per message: the keys follow their files.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE runs ADD COLUMN coalesce_bytes bigint;
    CREATE TABLE run_receipts (
      key       text NOT NULL,
      run_id    bigint NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
      inbox_id  bigint REFERENCES inbox(id) ON DELETE CASCADE
    );
    CREATE INDEX run_receipts_key ON run_receipts(key);
    CREATE INDEX run_receipts_run ON run_receipts(run_id);
    INSERT INTO run_receipts (key, run_id) SELECT receipt_key, id FROM runs WHERE receipt_key IS NOT NULL;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS run_receipts; ALTER TABLE runs DROP COLUMN IF EXISTS coalesce_bytes;`.execute(db);
}
