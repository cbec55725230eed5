// A version of everything a portal request's context is resolved from (API keys, clients, contacts,
// cities, price types, agreements, portal settings), so the API may keep a resolved context and
// still see a change from the very next request: a statement-level trigger on each of those tables
// bumps a counter in the writing transaction, and a reader compares the sum of the counters, read in
// the same snapshot as its own data, with the sum it resolved the context under. The counter becomes
// visible exactly when the change does (commit), which a sequence or NOTIFY could not promise.
//
// The counters are spread over 128 slots (the writer's backend pid picks one), so concurrent writers
// in different sessions almost never wait on each other's row lock; summing 128 rows costs the reader
// about as much as one index probe.
import { sql, type Kysely } from 'kysely';

export const CONTEXT_TABLES = ['api_keys', 'clients', 'contacts', 'cities', 'price_types', 'agreements', 'portal_settings'] as const;

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE portal_context_version (
      slot smallint PRIMARY KEY,
      v    bigint NOT NULL DEFAULT 0
    ) WITH (fillfactor = 50);
    INSERT INTO portal_context_version (slot) SELECT g FROM generate_series(0, 127) g;
    CREATE FUNCTION portal_context_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE portal_context_version SET v = v + 1 WHERE slot = pg_backend_pid() % 128;
      RETURN NULL;
    END $$`.execute(db);
  for (const t of CONTEXT_TABLES) {
    await sql`CREATE TRIGGER ${sql.raw(`${t}_portal_context`)} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${sql.table(t)}
      FOR EACH STATEMENT EXECUTE FUNCTION portal_context_changed()`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of CONTEXT_TABLES) await sql`DROP TRIGGER IF EXISTS ${sql.raw(`${t}_portal_context`)} ON ${sql.table(t)}`.execute(db);
  await sql`DROP FUNCTION IF EXISTS portal_context_changed(); DROP TABLE IF EXISTS portal_context_version`.execute(db);
}
