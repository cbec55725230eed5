// Catalog offers: per city, the products on sale there (not deleted, a price above zero in the city's
// price type) with what the catalog filters, sorts and counts by — group, the city price, whether any
// of the city's warehouses has it in stock, popularity, name and facet keys. Catalog pages read one
// city's rows by group instead of joining a whole price type and the city's stock at every request.
// Built per city on first read after a change (src/portal/offers.ts), under the `catalog` change
// version of migration 0008, with the city's combos (offers counted by group, stock and facet keys).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE catalog_offers (
      city_id     integer NOT NULL REFERENCES cities(id) ON DELETE CASCADE,
      product_id  bigint NOT NULL,
      group_id    bigint,
      price       numeric(20,6) NOT NULL,
      in_stock    boolean NOT NULL,
      popularity  bigint NOT NULL,
      name        text NOT NULL,
      facets      bigint[] NOT NULL,
      PRIMARY KEY (city_id, product_id)
    );
    CREATE INDEX catalog_offers_group ON catalog_offers (city_id, group_id);
    -- A page's rows: the offers of the group matching every property filter.
    CREATE INDEX catalog_offers_facets ON catalog_offers USING gin (facets);
    -- Offers of a city counted by what facets and totals look at (group, in stock, facet keys):
    -- products alike collapse into one row, so counting walks far fewer rows than products.
    CREATE TABLE catalog_combos (
      city_id   integer NOT NULL REFERENCES cities(id) ON DELETE CASCADE,
      group_id  bigint,
      in_stock  boolean NOT NULL,
      facets    bigint[] NOT NULL,
      n         integer NOT NULL
    );
    CREATE INDEX catalog_combos_group ON catalog_combos (city_id, group_id);
    CREATE TABLE catalog_offers_state (
      city_id   integer PRIMARY KEY REFERENCES cities(id) ON DELETE CASCADE,
      version   text NOT NULL,
      offers    integer NOT NULL,
      built_at  timestamptz NOT NULL DEFAULT now(),
      build_ms  integer NOT NULL
    )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS catalog_combos, catalog_offers_state, catalog_offers`.execute(db);
}
