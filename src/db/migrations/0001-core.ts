// The portal datastore and the bus's own tables. Prices and stock are the big tables (hundreds of
// millions of rows): hash-partitioned by price type / warehouse, keyed by internal ids only.
import { sql, type Kysely } from 'kysely';

export const PRICE_PARTITIONS = 16;
export const STOCK_PARTITIONS = 8;

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE SCHEMA IF NOT EXISTS staging;

    CREATE TABLE cities (
      id          serial PRIMARY KEY,
      code        text NOT NULL UNIQUE,
      name        text NOT NULL,
      placeholder boolean NOT NULL DEFAULT false,
      created_at  timestamptz NOT NULL DEFAULT now(),
      updated_at  timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE units (
      id         serial PRIMARY KEY,
      code       text NOT NULL UNIQUE,
      name       text NOT NULL,
      okei       text
    );

    CREATE TABLE groups (
      id          bigserial PRIMARY KEY,
      parent_id   bigint REFERENCES groups(id) ON DELETE SET NULL,
      code        text NOT NULL,
      name        text NOT NULL,
      placeholder boolean NOT NULL DEFAULT false,
      deleted     boolean NOT NULL DEFAULT false,
      run_id      bigint,
      created_at  timestamptz NOT NULL DEFAULT now(),
      updated_at  timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX groups_parent ON groups(parent_id);

    CREATE TABLE products (
      id          bigserial PRIMARY KEY,
      code        text NOT NULL,
      name        text NOT NULL,
      article     text,
      barcode     text,
      group_id    bigint REFERENCES groups(id) ON DELETE SET NULL,
      unit_id     integer REFERENCES units(id),
      placeholder boolean NOT NULL DEFAULT false,
      deleted     boolean NOT NULL DEFAULT false,
      run_id      bigint,
      created_at  timestamptz NOT NULL DEFAULT now(),
      updated_at  timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX products_group ON products(group_id);
    CREATE INDEX products_code ON products(code);

    CREATE TABLE properties (
      id         bigserial PRIMARY KEY,
      code       text NOT NULL UNIQUE,
      name       text NOT NULL,
      value_type text NOT NULL DEFAULT 'string' CHECK (value_type IN ('string', 'number', 'boolean', 'reference'))
    );
    CREATE TABLE property_values (
      id          bigserial PRIMARY KEY,
      property_id bigint NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
      code        text NOT NULL,
      value       text NOT NULL,
      UNIQUE (property_id, code)
    );
    CREATE TABLE product_properties (
      product_id  bigint NOT NULL REFERENCES products(id) ON DELETE CASCADE,
      property_id bigint NOT NULL REFERENCES properties(id) ON DELETE CASCADE,
      value_id    bigint REFERENCES property_values(id) ON DELETE CASCADE,
      value       text,
      PRIMARY KEY (product_id, property_id)
    );

    CREATE TABLE price_types (
      id          serial PRIMARY KEY,
      code        text NOT NULL,
      name        text NOT NULL,
      currency    char(3),
      city_id     integer REFERENCES cities(id) ON DELETE SET NULL,
      placeholder boolean NOT NULL DEFAULT false,
      created_at  timestamptz NOT NULL DEFAULT now(),
      updated_at  timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE warehouses (
      id          serial PRIMARY KEY,
      code        text NOT NULL,
      name        text NOT NULL,
      city_id     integer REFERENCES cities(id) ON DELETE SET NULL,
      placeholder boolean NOT NULL DEFAULT false,
      created_at  timestamptz NOT NULL DEFAULT now(),
      updated_at  timestamptz NOT NULL DEFAULT now()
    );

    -- Every entity keeps its ids in each source system, so the same product from SAP and 1C is one row.
    CREATE TABLE external_ids (
      entity      text   NOT NULL CHECK (entity IN ('product', 'group', 'priceType', 'warehouse', 'city', 'unit')),
      system      text   NOT NULL,
      external_id text   NOT NULL,
      internal_id bigint NOT NULL,
      created_at  timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (entity, system, external_id)
    );
    CREATE INDEX external_ids_internal ON external_ids(entity, internal_id);

    -- The bus's own tables.
    CREATE TABLE flows (
      id          serial PRIMARY KEY,
      name        text NOT NULL UNIQUE,
      definition  jsonb NOT NULL,
      version     integer NOT NULL DEFAULT 1,
      paused      boolean NOT NULL DEFAULT false,
      created_at  timestamptz NOT NULL DEFAULT now(),
      updated_at  timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE inbox (
      id           bigserial PRIMARY KEY,
      flow_id      integer NOT NULL REFERENCES flows(id),
      file_name    text NOT NULL,
      path         text NOT NULL,
      sha256       char(64) NOT NULL,
      size_bytes   bigint NOT NULL,
      content_type text,
      received_at  timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX inbox_flow ON inbox(flow_id, id);

    CREATE TABLE runs (
      id            bigserial PRIMARY KEY,
      flow_id       integer NOT NULL REFERENCES flows(id),
      inbox_ids     bigint[] NOT NULL,
      state         text NOT NULL DEFAULT 'received'
                    CHECK (state IN ('received', 'extracting', 'staged', 'merging', 'held', 'done', 'failed', 'rejected')),
      mode          text NOT NULL CHECK (mode IN ('delta', 'snapshot')),
      target        text NOT NULL,
      approved      boolean NOT NULL DEFAULT false,
      load_path     text NOT NULL DEFAULT 'staged' CHECK (load_path IN ('staged', 'direct')),
      replay_of     bigint REFERENCES runs(id),
      attempts      integer NOT NULL DEFAULT 0,
      rows_read     bigint NOT NULL DEFAULT 0,
      rows_staged   bigint NOT NULL DEFAULT 0,
      rows_rejected bigint NOT NULL DEFAULT 0,
      rows_inserted bigint NOT NULL DEFAULT 0,
      rows_updated  bigint NOT NULL DEFAULT 0,
      rows_unchanged bigint NOT NULL DEFAULT 0,
      rows_removed  bigint NOT NULL DEFAULT 0,
      rows_in_scope bigint,
      error_code    text,
      error         text,
      held_reason   text,
      received_at   timestamptz NOT NULL DEFAULT now(),
      started_at    timestamptz,
      staged_at     timestamptz,
      finished_at   timestamptz,
      extract_ms    integer,
      merge_ms      integer
    );
    CREATE INDEX runs_flow ON runs(flow_id, id);
    CREATE INDEX runs_open ON runs(state) WHERE state NOT IN ('done', 'failed', 'rejected');

    CREATE TABLE rejects (
      id        bigserial PRIMARY KEY,
      run_id    bigint NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
      file_name text,
      line      integer,
      path      text,
      field     text,
      rule      text,
      reason    text NOT NULL,
      record    jsonb
    );
    CREATE INDEX rejects_run ON rejects(run_id, id);

    CREATE TABLE change_log (
      id         bigserial PRIMARY KEY,
      run_id     bigint NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
      entity     text NOT NULL,
      inserted   bigint NOT NULL DEFAULT 0,
      updated    bigint NOT NULL DEFAULT 0,
      removed    bigint NOT NULL DEFAULT 0,
      at         timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX change_log_run ON change_log(run_id);

    CREATE TABLE prices (
      price_type_id integer  NOT NULL,
      product_id    bigint   NOT NULL,
      value         numeric(20, 6) NOT NULL,
      currency      char(3)  NOT NULL,
      unit          text,
      factor        numeric(20, 6) NOT NULL DEFAULT 1,
      flow_id       integer  NOT NULL,
      run_id        bigint   NOT NULL,
      updated_at    timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (price_type_id, product_id)
    ) PARTITION BY HASH (price_type_id);

    CREATE TABLE stock (
      warehouse_id integer NOT NULL,
      product_id   bigint  NOT NULL,
      quantity     numeric(20, 6) NOT NULL,
      flow_id      integer NOT NULL,
      run_id       bigint  NOT NULL,
      updated_at   timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (warehouse_id, product_id)
    ) PARTITION BY HASH (warehouse_id);

    -- Row-level history of updated and removed prices and stock (inserts are the rows themselves).
    CREATE TABLE price_history (
      run_id        bigint  NOT NULL,
      price_type_id integer NOT NULL,
      product_id    bigint  NOT NULL,
      op            char(1) NOT NULL CHECK (op IN ('U', 'D')),
      old_value     numeric(20, 6),
      new_value     numeric(20, 6),
      at            timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX price_history_run ON price_history(run_id);
    CREATE INDEX price_history_key ON price_history(product_id, price_type_id);

    CREATE TABLE stock_history (
      run_id       bigint  NOT NULL,
      warehouse_id integer NOT NULL,
      product_id   bigint  NOT NULL,
      op           char(1) NOT NULL CHECK (op IN ('U', 'D')),
      old_quantity numeric(20, 6),
      new_quantity numeric(20, 6),
      at           timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX stock_history_run ON stock_history(run_id);
  `.execute(db);

  for (let i = 0; i < PRICE_PARTITIONS; i++) {
    await sql.raw(`CREATE TABLE prices_p${i} PARTITION OF prices FOR VALUES WITH (MODULUS ${PRICE_PARTITIONS}, REMAINDER ${i})`).execute(db);
  }
  for (let i = 0; i < STOCK_PARTITIONS; i++) {
    await sql.raw(`CREATE TABLE stock_p${i} PARTITION OF stock FOR VALUES WITH (MODULUS ${STOCK_PARTITIONS}, REMAINDER ${i})`).execute(db);
  }
  // Index only what the portal reads: a client's price is a primary-key lookup (price type, product);
  // stock is read per product across the warehouses of a city. Every extra index on prices would
  // cost every merge of tens of millions of rows.
  await sql`CREATE INDEX stock_product ON stock(product_id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE IF EXISTS stock_history, price_history, stock, prices, change_log, rejects, runs, inbox, flows,
      external_ids, warehouses, price_types, product_properties, property_values, properties, products, groups,
      units, cities CASCADE;
    DROP SCHEMA IF EXISTS staging CASCADE;
  `.execute(db);
}
