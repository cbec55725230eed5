// Prices with validity and quantity tiers (SAP condition records), and products' alternative units.
// `prices` stays one row per (price type, product): the price in force now, which every portal read
// uses unchanged. A source that sends validity (DATAB/DATBI) keeps every period of a key in
// `price_periods`; the merge and the price roll (src/pipeline/price-roll.ts) put the period in force
// into `prices`, and a read at another instant (`at`) looks the periods up. The new columns of `prices`
// are nullable without defaults: adding them rewrites nothing of a 90-million-row table.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE prices
      ADD COLUMN tiers       jsonb,
      ADD COLUMN valid_from  timestamptz,
      ADD COLUMN valid_until timestamptz;

    CREATE TABLE price_periods (
      price_type_id integer     NOT NULL,
      product_id    bigint      NOT NULL,
      -- '-infinity' when the source gives no start; valid_until is exclusive, NULL when open-ended.
      valid_from    timestamptz NOT NULL,
      valid_until   timestamptz,
      value         numeric(20, 6) NOT NULL,
      currency      char(3)     NOT NULL,
      unit          text,
      factor        numeric(20, 6) NOT NULL DEFAULT 1,
      tiers         jsonb,
      flow_id       integer     NOT NULL,
      run_id        bigint      NOT NULL,
      updated_at    timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (price_type_id, product_id, valid_from),
      CHECK (valid_until IS NULL OR valid_until > valid_from)
    );
    -- The roll finds the periods whose start or end passed since it last looked.
    CREATE INDEX price_periods_from ON price_periods(valid_from);
    CREATE INDEX price_periods_until ON price_periods(valid_until) WHERE valid_until IS NOT NULL;

    -- Where the roll stopped: it applies the boundaries in (rolled_to, now].
    CREATE TABLE price_roll_state (
      id        boolean PRIMARY KEY DEFAULT true CHECK (id),
      rolled_to timestamptz NOT NULL
    );
    INSERT INTO price_roll_state (rolled_to) VALUES (now());

    CREATE TABLE product_units (
      product_id bigint  NOT NULL REFERENCES products(id) ON DELETE CASCADE,
      unit       text    NOT NULL,
      factor     numeric(20, 6) NOT NULL CHECK (factor > 0),
      barcode    text,
      flow_id    integer,
      run_id     bigint,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (product_id, unit)
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE IF EXISTS product_units;
    DROP TABLE IF EXISTS price_roll_state;
    DROP TABLE IF EXISTS price_periods;
    ALTER TABLE prices DROP COLUMN IF EXISTS tiers, DROP COLUMN IF EXISTS valid_from, DROP COLUMN IF EXISTS valid_until;
  `.execute(db);
}
