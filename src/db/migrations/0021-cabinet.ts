// The client cabinet (/cabinet): contacts' sign-in (accounts, invitation and reset links, sessions,
// login attempts for rate limiting), self-registered clients awaiting approval, carts per contact and
// legal entity, saved carts, where an order came from (portal or offline) with its delivery details
// and documents, and the e-mail outbox (written in the transaction of the change that sends it).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- A contact's cabinet login. password_hash is NULL until the invitation link is used.
    CREATE TABLE cabinet_accounts (
      contact_id    bigint PRIMARY KEY REFERENCES contacts(id) ON DELETE CASCADE,
      email         text NOT NULL,
      password_hash text,
      prefs         jsonb NOT NULL DEFAULT '{}',
      disabled      boolean NOT NULL DEFAULT false,
      created_at    timestamptz NOT NULL DEFAULT now(),
      updated_at    timestamptz NOT NULL DEFAULT now(),
      last_login_at timestamptz
    );
    CREATE UNIQUE INDEX cabinet_accounts_email ON cabinet_accounts(lower(email));

    -- Invitation and password-reset links: only the sha256 of the token is stored; one use each.
    CREATE TABLE cabinet_tokens (
      token_hash char(64) PRIMARY KEY,
      contact_id bigint NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
      kind       text NOT NULL CHECK (kind IN ('invite', 'reset')),
      expires_at timestamptz NOT NULL,
      used_at    timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX cabinet_tokens_contact ON cabinet_tokens(contact_id);

    -- Browser sessions (anonymous ones too: a visitor's city and CSRF token). The cookie carries the
    -- id; only its sha256 is stored.
    CREATE TABLE cabinet_sessions (
      id_hash         char(64) PRIMARY KEY,
      contact_id      bigint REFERENCES contacts(id) ON DELETE CASCADE,
      legal_entity_id bigint REFERENCES legal_entities(id) ON DELETE SET NULL,
      city_id         integer REFERENCES cities(id) ON DELETE SET NULL,
      csrf            text NOT NULL,
      prefs           jsonb NOT NULL DEFAULT '{}',
      created_at      timestamptz NOT NULL DEFAULT now(),
      seen_at         timestamptz NOT NULL DEFAULT now(),
      expires_at      timestamptz NOT NULL
    );
    CREATE INDEX cabinet_sessions_expires ON cabinet_sessions(expires_at);
    CREATE INDEX cabinet_sessions_contact ON cabinet_sessions(contact_id);

    CREATE TABLE cabinet_login_attempts (
      id    bigserial PRIMARY KEY,
      email text NOT NULL,
      ip    text NOT NULL,
      ok    boolean NOT NULL,
      at    timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX cabinet_login_attempts_email ON cabinet_login_attempts(lower(email), at);
    CREATE INDEX cabinet_login_attempts_ip ON cabinet_login_attempts(ip, at);

    -- A wholesale buyer who registered on the portal: its client is pending until a manager approves
    -- it (it sees the catalog with base prices and cannot order until then).
    ALTER TABLE clients ADD COLUMN pending boolean NOT NULL DEFAULT false;
    CREATE TABLE cabinet_signups (
      id              bigserial PRIMARY KEY,
      client_id       bigint REFERENCES clients(id) ON DELETE CASCADE,
      legal_entity_id bigint REFERENCES legal_entities(id) ON DELETE SET NULL,
      contact_id      bigint REFERENCES contacts(id) ON DELETE SET NULL,
      company         text NOT NULL,
      inn             text NOT NULL,
      kpp             text,
      contact_name    text NOT NULL,
      email           text NOT NULL,
      phone           text,
      city_id         integer REFERENCES cities(id) ON DELETE SET NULL,
      status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
      decided_at      timestamptz,
      decided_by      text,
      reason          text,
      created_at      timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX cabinet_signups_pending ON cabinet_signups(created_at) WHERE status = 'pending';

    -- The current cart: one per contact and legal entity.
    CREATE TABLE cart_lines (
      contact_id      bigint NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
      legal_entity_id bigint NOT NULL REFERENCES legal_entities(id) ON DELETE CASCADE,
      product_id      bigint NOT NULL REFERENCES products(id) ON DELETE CASCADE,
      quantity        numeric(20, 6) NOT NULL CHECK (quantity > 0),
      added_at        timestamptz NOT NULL DEFAULT now(),
      updated_at      timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (contact_id, legal_entity_id, product_id)
    );

    -- Saved carts belong to a legal entity; shared ones are seen by its other contacts.
    CREATE TABLE saved_carts (
      id               bigserial PRIMARY KEY,
      legal_entity_id  bigint NOT NULL REFERENCES legal_entities(id) ON DELETE CASCADE,
      owner_contact_id bigint REFERENCES contacts(id) ON DELETE SET NULL,
      name             text NOT NULL,
      shared           boolean NOT NULL DEFAULT false,
      created_at       timestamptz NOT NULL DEFAULT now(),
      updated_at       timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX saved_carts_legal_entity ON saved_carts(legal_entity_id);
    CREATE TABLE saved_cart_lines (
      saved_cart_id bigint NOT NULL REFERENCES saved_carts(id) ON DELETE CASCADE,
      product_id    bigint NOT NULL REFERENCES products(id) ON DELETE CASCADE,
      line_no       integer NOT NULL,
      quantity      numeric(20, 6) NOT NULL CHECK (quantity > 0),
      PRIMARY KEY (saved_cart_id, product_id)
    );

    -- Orders placed outside the portal (ERP, phone) arrive through the sale exchange or SAP as 'offline'.
    ALTER TABLE orders ADD COLUMN origin text NOT NULL DEFAULT 'portal' CHECK (origin IN ('portal', 'offline')),
      ADD COLUMN delivery_address text,
      ADD COLUMN payment_kind text;

    -- Documents of an order (invoice, УПД, act …): a file under the data dir by sha256, never served by path.
    CREATE TABLE order_documents (
      id           bigserial PRIMARY KEY,
      order_id     bigint NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
      kind         text NOT NULL,
      number       text,
      date         date,
      amount       numeric(20, 2),
      file_name    text,
      sha256       char(64),
      content_type text,
      size_bytes   bigint,
      created_at   timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX order_documents_order ON order_documents(order_id);

    -- Transactional e-mail: written with the change that causes it, sent by a worker (SMTP_URL), or
    -- written as .eml files under the data dir without one.
    CREATE TABLE email_outbox (
      id              bigserial PRIMARY KEY,
      to_address      text NOT NULL,
      reply_to        text,
      subject         text NOT NULL,
      text_body       text NOT NULL,
      html_body       text,
      kind            text NOT NULL,
      created_at      timestamptz NOT NULL DEFAULT now(),
      attempts        integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      sent_at         timestamptz,
      last_error      text
    );
    CREATE INDEX email_outbox_due ON email_outbox(next_attempt_at) WHERE sent_at IS NULL;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE IF EXISTS email_outbox, order_documents, saved_cart_lines, saved_carts, cart_lines, cabinet_signups,
      cabinet_login_attempts, cabinet_sessions, cabinet_tokens, cabinet_accounts CASCADE;
    ALTER TABLE orders DROP COLUMN IF EXISTS origin, DROP COLUMN IF EXISTS delivery_address, DROP COLUMN IF EXISTS payment_kind;
    ALTER TABLE clients DROP COLUMN IF EXISTS pending;
  `.execute(db);
}
