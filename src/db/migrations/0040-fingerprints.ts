// Snapshot fingerprints (issue 16): the canonical rows of a flow's last accepted snapshot, kept as a file
// under the data dir, let the next snapshot stage only the rows that differ. The store stays the truth:
// a fingerprint is used only while `valid`, and any write to prices or stock that does not come from the
// bus (a person's UPDATE, a restore, a TRUNCATE, on the table or straight on a partition) clears `valid`
// of every fingerprint of that table through a statement trigger. The bus's own merges set
// `magistral.bus_write` and clear what they change themselves (src/pipeline/fingerprints.ts).
import { sql, type Kysely } from 'kysely';
import { PRICE_PARTITIONS, STOCK_PARTITIONS } from './0001-core.ts';

const TABLES: Array<[string, number]> = [['prices', PRICE_PARTITIONS], ['stock', STOCK_PARTITIONS]];

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE fingerprints (
      flow_id         int PRIMARY KEY REFERENCES flows(id) ON DELETE CASCADE,
      target          text NOT NULL,
      run_id          bigint NOT NULL,
      definition_hash text NOT NULL,
      rows            bigint NOT NULL,
      valid           boolean NOT NULL DEFAULT true,
      activated_at    timestamptz NOT NULL DEFAULT now(),
      invalidated_at  timestamptz,
      invalidated_by  text
    )`.execute(db);
  await sql`CREATE INDEX fingerprints_target ON fingerprints (target) WHERE valid`.execute(db);
  await sql`ALTER TABLE runs
    ADD COLUMN rows_skipped bigint NOT NULL DEFAULT 0,
    ADD COLUMN fingerprint_base bigint,
    ADD COLUMN fingerprint_written boolean NOT NULL DEFAULT false,
    ADD COLUMN fingerprint_off boolean NOT NULL DEFAULT false`.execute(db);
  await sql.raw(`
    CREATE FUNCTION magistral_fingerprint_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF coalesce(current_setting('magistral.bus_write', true), '') <> 'on' THEN
        UPDATE fingerprints SET valid = false, invalidated_at = now(),
          invalidated_by = 'a write outside the bus (' || TG_OP || ' on ' || TG_TABLE_NAME || ')'
        WHERE target = TG_ARGV[0] AND valid;
      END IF;
      RETURN NULL;
    END $$`).execute(db);
  for (const [table, parts] of TABLES) {
    // Statement triggers of a partitioned table do not fire for a statement on one partition: each
    // partition gets its own.
    for (const t of [table, ...Array.from({ length: parts }, (_, i) => `${table}_p${i}`)]) {
      await sql.raw(`CREATE TRIGGER fingerprint_guard AFTER INSERT OR UPDATE OR DELETE ON ${t}
        FOR EACH STATEMENT EXECUTE FUNCTION magistral_fingerprint_guard('${table}')`).execute(db);
      await sql.raw(`CREATE TRIGGER fingerprint_guard_truncate AFTER TRUNCATE ON ${t}
        FOR EACH STATEMENT EXECUTE FUNCTION magistral_fingerprint_guard('${table}')`).execute(db);
    }
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const [table, parts] of TABLES) {
    for (const t of [table, ...Array.from({ length: parts }, (_, i) => `${table}_p${i}`)]) {
      await sql.raw(`DROP TRIGGER IF EXISTS fingerprint_guard ON ${t}`).execute(db);
      await sql.raw(`DROP TRIGGER IF EXISTS fingerprint_guard_truncate ON ${t}`).execute(db);
    }
  }
  await sql`DROP FUNCTION IF EXISTS magistral_fingerprint_guard()`.execute(db);
  await sql`ALTER TABLE runs DROP COLUMN IF EXISTS rows_skipped, DROP COLUMN IF EXISTS fingerprint_base,
    DROP COLUMN IF EXISTS fingerprint_written, DROP COLUMN IF EXISTS fingerprint_off`.execute(db);
  await sql`DROP TABLE IF EXISTS fingerprints`.execute(db);
}
