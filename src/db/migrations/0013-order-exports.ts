// Per-target export bookkeeping of orders: one row per (order, outbound flow) — the order version the
// target last had (or last refused), how many attempts it took, the last error and what the target
// answered (its order number and reference). 1C keeps its pull-based global `orders.exported_at`.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE order_exports (
      order_id        bigint NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
      flow_id         int NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
      -- The order's updated_at the state is about: an order changed after it is due again.
      version         timestamptz NOT NULL,
      -- pending: being sent (retried with the flow's backoff); sent: the target has this version;
      -- failed: the target refused it for good, or every attempt failed (due again once the order changes).
      state           text NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
      -- The last version the target accepted (NULL: never sent): a later send is a repeat or a change.
      sent_version    timestamptz,
      attempts        int NOT NULL DEFAULT 0,
      last_error      text,
      last_error_code text,
      external_number text,
      external_ref    text,
      sent_at         timestamptz,
      created_at      timestamptz NOT NULL DEFAULT now(),
      updated_at      timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (order_id, flow_id)
    );
    CREATE INDEX order_exports_flow ON order_exports(flow_id, state);
    -- The sweeper looks for orders changed since their export: by updated_at per order.
    CREATE INDEX IF NOT EXISTS orders_updated_at ON orders(updated_at);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS order_exports; DROP INDEX IF EXISTS orders_updated_at;`.execute(db);
}
