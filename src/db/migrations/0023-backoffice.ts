// The back office's common ground: an append-only audit log (who did what to whom, from where), the
// managers' own sign-in (accounts, one-use links, sessions), a manager working as a client
// (impersonations, and the cabinet session that carries one), who placed an order and whether it waits
// for the head's approval, the rights a head grants inside a client (contact_rights: the staged rights
// the ERP does not know about), the files store's index (stored_files: sha256-named files under the
// data dir, never served by path) and e-mail attachments, recipients and de-duplication in the outbox.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Append-only: a trigger refuses UPDATE and DELETE, so nobody (a manager, a bug) rewrites history.
    CREATE TABLE audit_log (
      id               bigserial PRIMARY KEY,
      at               timestamptz NOT NULL DEFAULT clock_timestamp(),
      actor_kind       text NOT NULL CHECK (actor_kind IN ('manager', 'contact', 'admin', 'console', 'system')),
      actor_id         text,
      actor_name       text,
      action           text NOT NULL,
      outcome          text NOT NULL DEFAULT 'ok' CHECK (outcome IN ('ok', 'denied', 'failed')),
      client_id        bigint,
      impersonation_id bigint,
      ip               text,
      user_agent       text,
      details          jsonb NOT NULL DEFAULT '{}'
    );
    CREATE INDEX audit_log_client ON audit_log(client_id, at) WHERE client_id IS NOT NULL;
    CREATE INDEX audit_log_impersonation ON audit_log(impersonation_id, at) WHERE impersonation_id IS NOT NULL;
    CREATE INDEX audit_log_actor ON audit_log(actor_kind, actor_id, at);
    CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
    CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
      FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

    -- A manager's login to /manager (the manager row itself comes from the CRM or a CSV flow).
    CREATE TABLE manager_accounts (
      manager_id    integer PRIMARY KEY REFERENCES managers(id) ON DELETE CASCADE,
      email         text NOT NULL,
      password_hash text,
      disabled      boolean NOT NULL DEFAULT false,
      created_at    timestamptz NOT NULL DEFAULT now(),
      updated_at    timestamptz NOT NULL DEFAULT now(),
      last_login_at timestamptz
    );
    CREATE UNIQUE INDEX manager_accounts_email ON manager_accounts(lower(email));
    CREATE TABLE manager_tokens (
      token_hash char(64) PRIMARY KEY,
      manager_id integer NOT NULL REFERENCES managers(id) ON DELETE CASCADE,
      kind       text NOT NULL CHECK (kind IN ('invite', 'reset')),
      expires_at timestamptz NOT NULL,
      used_at    timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE manager_sessions (
      id_hash    char(64) PRIMARY KEY,
      manager_id integer NOT NULL REFERENCES managers(id) ON DELETE CASCADE,
      csrf       text NOT NULL,
      ip         text,
      user_agent text,
      created_at timestamptz NOT NULL DEFAULT now(),
      seen_at    timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL
    );
    CREATE INDEX manager_sessions_expires ON manager_sessions(expires_at);
    CREATE TABLE manager_login_attempts (
      id    bigserial PRIMARY KEY,
      email text NOT NULL,
      ip    text NOT NULL,
      ok    boolean NOT NULL,
      at    timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX manager_login_attempts_email ON manager_login_attempts(lower(email), at);
    CREATE INDEX manager_login_attempts_ip ON manager_login_attempts(ip, at);

    -- "Work as client": a manager in a cabinet session of the client's contact, for at most 30 minutes.
    CREATE TABLE impersonations (
      id              bigserial PRIMARY KEY,
      manager_id      integer NOT NULL REFERENCES managers(id),
      client_id       bigint NOT NULL REFERENCES clients(id),
      contact_id      bigint NOT NULL REFERENCES contacts(id),
      legal_entity_id bigint REFERENCES legal_entities(id) ON DELETE SET NULL,
      ip              text,
      user_agent      text,
      started_at      timestamptz NOT NULL DEFAULT now(),
      expires_at      timestamptz NOT NULL,
      ended_at        timestamptz,
      end_reason      text CHECK (end_reason IN ('logout', 'expired', 'ended', 'replaced'))
    );
    CREATE INDEX impersonations_manager ON impersonations(manager_id, started_at);
    CREATE INDEX impersonations_client ON impersonations(client_id, started_at);
    ALTER TABLE cabinet_sessions ADD COLUMN impersonation_id bigint REFERENCES impersonations(id) ON DELETE CASCADE;

    -- Who placed an order (a manager working as the client), and the head's approval of a subordinate's
    -- order above the head's threshold: NULL none needed; 'waiting' holds it (not sent to the ERP).
    ALTER TABLE orders
      ADD COLUMN placed_by_manager_id integer REFERENCES managers(id) ON DELETE SET NULL,
      ADD COLUMN impersonation_id bigint REFERENCES impersonations(id) ON DELETE SET NULL,
      ADD COLUMN approval text CHECK (approval IN ('waiting', 'approved', 'rejected')),
      ADD COLUMN approval_by bigint REFERENCES contacts(id) ON DELETE SET NULL,
      ADD COLUMN approval_at timestamptz,
      ADD COLUMN approval_comment text;
    CREATE INDEX orders_approval_waiting ON orders(legal_entity_id) WHERE approval = 'waiting';

    -- Rights a head grants inside a client (the portal's own data; the role head/subordinate comes from
    -- the ERP in contact_legal_entities). Stage 1 (every contact with an account): order at the client's
    -- prices. Stage 2 (authority confirmed by a head): balance, settlements, reconciliation acts, credit.
    CREATE TABLE contact_rights (
      contact_id             bigint NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
      legal_entity_id        bigint NOT NULL REFERENCES legal_entities(id) ON DELETE CASCADE,
      authority_confirmed_at timestamptz,
      authority_confirmed_by bigint REFERENCES contacts(id) ON DELETE SET NULL,
      approval_above         numeric(20, 2) CHECK (approval_above >= 0),
      updated_at             timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (contact_id, legal_entity_id)
    );

    -- Files the portal keeps (generated invoices and acts, received УПД, contract scans): content under
    -- MAGISTRAL_DATA_DIR/files by sha256; rows elsewhere refer to the sha256. Served only through a row
    -- the viewer may see, never by a path from the request.
    CREATE TABLE stored_files (
      sha256       char(64) PRIMARY KEY,
      size_bytes   bigint NOT NULL,
      content_type text NOT NULL,
      created_at   timestamptz NOT NULL DEFAULT now()
    );

    -- E-mail: who it is for (a contact's preferences decide whether it is written at all), its attached
    -- stored files, and a key that makes one event one message however often it is reported.
    ALTER TABLE email_outbox
      ADD COLUMN contact_id bigint REFERENCES contacts(id) ON DELETE SET NULL,
      ADD COLUMN manager_id integer REFERENCES managers(id) ON DELETE SET NULL,
      ADD COLUMN attachments jsonb NOT NULL DEFAULT '[]',
      ADD COLUMN dedupe_key text;
    CREATE UNIQUE INDEX email_outbox_dedupe ON email_outbox(dedupe_key) WHERE dedupe_key IS NOT NULL;
    CREATE INDEX email_outbox_created ON email_outbox(created_at);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE email_outbox DROP COLUMN IF EXISTS contact_id, DROP COLUMN IF EXISTS manager_id,
      DROP COLUMN IF EXISTS attachments, DROP COLUMN IF EXISTS dedupe_key;
    DROP TABLE IF EXISTS stored_files, contact_rights CASCADE;
    ALTER TABLE orders DROP COLUMN IF EXISTS placed_by_manager_id, DROP COLUMN IF EXISTS impersonation_id,
      DROP COLUMN IF EXISTS approval, DROP COLUMN IF EXISTS approval_by, DROP COLUMN IF EXISTS approval_at,
      DROP COLUMN IF EXISTS approval_comment;
    ALTER TABLE cabinet_sessions DROP COLUMN IF EXISTS impersonation_id;
    DROP TABLE IF EXISTS impersonations, manager_login_attempts, manager_sessions, manager_tokens, manager_accounts, audit_log CASCADE;
    DROP FUNCTION IF EXISTS audit_log_append_only();
  `.execute(db);
}
