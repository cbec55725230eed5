// The portal side of the datastore: counterparties (clients → legal entities → contacts, agreements,
// managers), city bindings of price types, API keys of portal frontends, and orders with their history.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- A city's designated price type: the one anonymous visitors and clients without an agreement see
    -- when several price types are bound to the city.
    ALTER TABLE cities ADD COLUMN price_type_id integer REFERENCES price_types(id) ON DELETE SET NULL;
    CREATE INDEX price_types_city ON price_types(city_id);
    CREATE INDEX warehouses_city ON warehouses(city_id);

    CREATE TABLE portal_settings (
      key        text PRIMARY KEY,
      value      text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    );

    -- Counterparties are dimensions merged by code like the catalog (placeholders for codes that are
    -- referenced before they arrive), so every reference column is nullable.
    CREATE TABLE managers (
      id          serial PRIMARY KEY,
      code        text NOT NULL,
      name        text NOT NULL,
      email       text,
      phone       text,
      placeholder boolean NOT NULL DEFAULT false,
      created_at  timestamptz NOT NULL DEFAULT now(),
      updated_at  timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX managers_code ON managers(code);

    CREATE TABLE clients (
      id          bigserial PRIMARY KEY,
      code        text NOT NULL,
      name        text NOT NULL,
      manager_id  integer REFERENCES managers(id) ON DELETE SET NULL,
      city_id     integer REFERENCES cities(id) ON DELETE SET NULL,
      email       text,
      phone       text,
      blocked     boolean NOT NULL DEFAULT false,
      placeholder boolean NOT NULL DEFAULT false,
      created_at  timestamptz NOT NULL DEFAULT now(),
      updated_at  timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX clients_code ON clients(code);

    CREATE TABLE legal_entities (
      id           bigserial PRIMARY KEY,
      code         text NOT NULL,
      client_id    bigint REFERENCES clients(id) ON DELETE SET NULL,
      name         text NOT NULL,
      full_name    text,
      inn          text,
      kpp          text,
      ogrn         text,
      address      text,
      bank_name    text,
      bik          text,
      account      text,
      corr_account text,
      deleted      boolean NOT NULL DEFAULT false,
      placeholder  boolean NOT NULL DEFAULT false,
      created_at   timestamptz NOT NULL DEFAULT now(),
      updated_at   timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX legal_entities_code ON legal_entities(code);
    CREATE INDEX legal_entities_client ON legal_entities(client_id);
    CREATE INDEX legal_entities_inn ON legal_entities(inn);

    CREATE TABLE contacts (
      id          bigserial PRIMARY KEY,
      code        text NOT NULL,
      client_id   bigint REFERENCES clients(id) ON DELETE SET NULL,
      name        text NOT NULL,
      email       text,
      phone       text,
      position    text,
      deleted     boolean NOT NULL DEFAULT false,
      placeholder boolean NOT NULL DEFAULT false,
      created_at  timestamptz NOT NULL DEFAULT now(),
      updated_at  timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX contacts_code ON contacts(code);
    CREATE INDEX contacts_client ON contacts(client_id);

    -- Many to many: a contact may act for several legal entities, as their head or a subordinate.
    -- Merged like a fact (flow_id, run_id, history) so a snapshot can replace the links of a flow.
    CREATE TABLE contact_legal_entities (
      legal_entity_id bigint NOT NULL REFERENCES legal_entities(id) ON DELETE CASCADE,
      contact_id      bigint NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
      role            text NOT NULL DEFAULT 'subordinate' CHECK (role IN ('head', 'subordinate')),
      flow_id         integer NOT NULL,
      run_id          bigint NOT NULL,
      updated_at      timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (legal_entity_id, contact_id)
    );
    CREATE INDEX contact_legal_entities_contact ON contact_legal_entities(contact_id);
    CREATE TABLE contact_legal_entity_history (
      run_id          bigint NOT NULL,
      legal_entity_id bigint NOT NULL,
      contact_id      bigint NOT NULL,
      op              char(1) NOT NULL CHECK (op IN ('U', 'D')),
      old_role        text,
      new_role        text,
      at              timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX contact_legal_entity_history_run ON contact_legal_entity_history(run_id);

    CREATE TABLE agreements (
      id                 bigserial PRIMARY KEY,
      code               text NOT NULL,
      name               text NOT NULL,
      client_id          bigint REFERENCES clients(id) ON DELETE SET NULL,
      -- NULL: the agreement holds for every legal entity of the client.
      legal_entity_id    bigint REFERENCES legal_entities(id) ON DELETE SET NULL,
      price_type_id      integer REFERENCES price_types(id) ON DELETE SET NULL,
      discount_percent   numeric(7, 4) NOT NULL DEFAULT 0 CHECK (discount_percent >= 0 AND discount_percent <= 100),
      credit_limit       numeric(20, 2),
      payment_delay_days integer,
      currency           char(3),
      deleted            boolean NOT NULL DEFAULT false,
      placeholder        boolean NOT NULL DEFAULT false,
      created_at         timestamptz NOT NULL DEFAULT now(),
      updated_at         timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX agreements_code ON agreements(code);
    CREATE INDEX agreements_client ON agreements(client_id);

    -- API keys of portal frontends: only the sha256 of the key is stored; the key is shown once.
    CREATE TABLE api_keys (
      id             serial PRIMARY KEY,
      name           text NOT NULL,
      key_hash       char(64) NOT NULL UNIQUE,
      prefix         text NOT NULL,
      scopes         text[] NOT NULL,
      -- A client's own app acts only for its client; NULL: a trusted frontend acting for any client.
      client_id      bigint REFERENCES clients(id) ON DELETE CASCADE,
      rate_per_min   integer NOT NULL DEFAULT 600 CHECK (rate_per_min > 0),
      revoked_at     timestamptz,
      last_used_at   timestamptz,
      created_at     timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE order_statuses (
      code  text PRIMARY KEY,
      name  text NOT NULL,
      final boolean NOT NULL DEFAULT false,
      sort  integer
    );
    INSERT INTO order_statuses (code, name, final, sort) VALUES
      ('new', 'Новый', false, 10),
      ('accepted', 'Принят', false, 20),
      ('confirmed', 'Подтвержден', false, 30),
      ('in_work', 'В работе', false, 40),
      ('shipped', 'Отгружен', false, 50),
      ('completed', 'Выполнен', true, 60),
      ('cancelled', 'Отменен', true, 70);

    CREATE SEQUENCE order_number_seq;
    CREATE TABLE orders (
      id               bigserial PRIMARY KEY,
      number           text NOT NULL UNIQUE,
      client_id        bigint NOT NULL REFERENCES clients(id),
      legal_entity_id  bigint NOT NULL REFERENCES legal_entities(id),
      contact_id       bigint REFERENCES contacts(id),
      agreement_id     bigint REFERENCES agreements(id),
      city_id          integer REFERENCES cities(id),
      price_type_id    integer REFERENCES price_types(id),
      currency         char(3) NOT NULL,
      status           text NOT NULL DEFAULT 'new' REFERENCES order_statuses(code),
      total            numeric(20, 2) NOT NULL,
      comment          text,
      erp_number       text,
      erp_date         timestamptz,
      paid             boolean NOT NULL DEFAULT false,
      paid_at          timestamptz,
      shipped          boolean NOT NULL DEFAULT false,
      shipped_at       timestamptz,
      cancelled        boolean NOT NULL DEFAULT false,
      -- The caller's Idempotency-Key and a digest of its request: a retry answers the same order.
      idempotency_key  text,
      request_hash     text,
      api_key_id       integer REFERENCES api_keys(id) ON DELETE SET NULL,
      created_at       timestamptz NOT NULL DEFAULT now(),
      updated_at       timestamptz NOT NULL DEFAULT now(),
      exported_at      timestamptz,
      UNIQUE (client_id, idempotency_key)
    );
    -- A client's orders newest first (cursor by id); the sale exchange's pending orders.
    CREATE INDEX orders_client ON orders(client_id, id DESC);
    CREATE INDEX orders_pending ON orders(updated_at) WHERE exported_at IS NULL OR updated_at > exported_at;

    CREATE TABLE order_lines (
      order_id         bigint NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
      line_no          integer NOT NULL,
      product_id       bigint NOT NULL REFERENCES products(id),
      sku              text NOT NULL,
      name             text NOT NULL,
      quantity         numeric(20, 6) NOT NULL CHECK (quantity > 0),
      unit             text,
      price            numeric(20, 6) NOT NULL,
      base_price       numeric(20, 6),
      discount_percent numeric(7, 4),
      amount           numeric(20, 2) NOT NULL,
      PRIMARY KEY (order_id, line_no)
    );

    CREATE TABLE order_events (
      id       bigserial PRIMARY KEY,
      order_id bigint NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
      at       timestamptz NOT NULL DEFAULT now(),
      source   text,
      change   jsonb
    );
    CREATE INDEX order_events_order ON order_events(order_id, id);

    -- Recorded for the ERP, never subtracted from stock: the ERP owns the quantities.
    CREATE TABLE reservations (
      order_id     bigint NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
      line_no      integer NOT NULL,
      product_id   bigint NOT NULL,
      warehouse_id integer REFERENCES warehouses(id) ON DELETE SET NULL,
      quantity     numeric(20, 6) NOT NULL,
      created_at   timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX reservations_order ON reservations(order_id, line_no);
    CREATE INDEX reservations_product ON reservations(product_id);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE IF EXISTS reservations, order_events, order_lines, orders, order_statuses, api_keys, agreements,
      contact_legal_entity_history, contact_legal_entities, contacts, legal_entities, clients, managers, portal_settings CASCADE;
    DROP SEQUENCE IF EXISTS order_number_seq;
    DROP INDEX IF EXISTS price_types_city, warehouses_city;
    ALTER TABLE cities DROP COLUMN IF EXISTS price_type_id;
  `.execute(db);
}
