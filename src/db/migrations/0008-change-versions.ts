// Versions of what the portal's derived reads are built from, so the API may keep something it
// resolved or built (a request's context, a city's catalog offers) and still see a change from the
// very next request. A statement-level trigger on each source table bumps the counter of its domain
// in the writing transaction; a reader compares the domain's sum, read in the same snapshot as its
// own data, with the sum it built under. The counter becomes visible exactly when the change does
// (commit), which neither a sequence nor NOTIFY could promise.
//
// Each domain's counter is spread over 128 slots: a writer bumps the first one, from its backend's
// own, that no other open transaction holds, so concurrent writers never wait on each other (nor
// deadlock) here; summing a domain's slots costs a reader about as much as one index probe.
import { sql, type Kysely } from 'kysely';

/** Domains and the tables whose changes bump them. */
export const CHANGE_DOMAINS = {
  // Everything a portal request's context is resolved from (src/api/portal/auth.ts).
  portal_context: ['api_keys', 'clients', 'contacts', 'cities', 'price_types', 'agreements', 'portal_settings'],
  // Everything a city's catalog offers (src/portal/offers.ts) and the autocomplete's ranked matches
  // (src/api/portal/search-query.ts) are built from.
  catalog: ['products', 'product_properties', 'product_search', 'prices', 'stock', 'warehouses', 'cities', 'price_types'],
} as const;

export type ChangeDomain = keyof typeof CHANGE_DOMAINS;

/** The SQL of a domain's current version (text: a bigint sum), for a reader's statement. */
export const changeVersionSql = (domain: ChangeDomain): string =>
  `(SELECT sum(v) FROM change_versions WHERE domain = '${domain}')::text`;

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE change_versions (
      domain text NOT NULL,
      slot   smallint NOT NULL,
      v      bigint NOT NULL DEFAULT 0,
      PRIMARY KEY (domain, slot)
    ) WITH (fillfactor = 50);
    CREATE FUNCTION bump_change_version() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      -- The first slot from the backend's own that no other transaction holds: a writer never waits
      -- here, so two writers can never deadlock on their slots. All 128 held: wait for its own.
      UPDATE change_versions SET v = v + 1 WHERE domain = TG_ARGV[0] AND slot = (
        SELECT c.slot FROM change_versions c WHERE c.domain = TG_ARGV[0]
        ORDER BY (c.slot + 128 - pg_backend_pid() % 128) % 128
        LIMIT 1 FOR UPDATE SKIP LOCKED);
      IF NOT FOUND THEN
        UPDATE change_versions SET v = v + 1 WHERE domain = TG_ARGV[0] AND slot = pg_backend_pid() % 128;
      END IF;
      RETURN NULL;
    END $$`.execute(db);
  for (const [domain, tables] of Object.entries(CHANGE_DOMAINS)) {
    await sql`INSERT INTO change_versions (domain, slot) SELECT ${domain}, g FROM generate_series(0, 127) g`.execute(db);
    for (const t of tables) {
      await sql`CREATE TRIGGER ${sql.raw(`${t}_${domain}_version`)} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${sql.table(t)}
        FOR EACH STATEMENT EXECUTE FUNCTION bump_change_version(${sql.lit(domain)})`.execute(db);
    }
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const [domain, tables] of Object.entries(CHANGE_DOMAINS)) {
    for (const t of tables) await sql`DROP TRIGGER IF EXISTS ${sql.raw(`${t}_${domain}_version`)} ON ${sql.table(t)}`.execute(db);
  }
  await sql`DROP FUNCTION IF EXISTS bump_change_version(); DROP TABLE IF EXISTS change_versions`.execute(db);
}
