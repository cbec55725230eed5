// Documents of the back office: the work the documents worker does after a commit (an invoice for an
// order that became confirmed: a transactional outbox, so the PDF is made once the change is durable and
// never for one that rolled back), where an order's document came from, batches of closing documents
// received as files, and contracts a manager publishes for a client with the scans the client uploads.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- One job per kind and order however often 'confirmed' is reported; retried with backoff, its last
    -- error kept for the manager and the console (e.g. the seller's requisites are not set).
    CREATE TABLE document_jobs (
      id              bigserial PRIMARY KEY,
      kind            text NOT NULL CHECK (kind IN ('invoice')),
      order_id        bigint NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
      created_at      timestamptz NOT NULL DEFAULT now(),
      attempts        integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      done_at         timestamptz,
      last_error      text,
      UNIQUE (kind, order_id)
    );
    CREATE INDEX document_jobs_due ON document_jobs(next_attempt_at) WHERE done_at IS NULL;

    -- Where a document came from ('portal': generated here; 'onec-sale:…': the 1C exchange; 'file:…': a
    -- file batch) and, for a generated invoice, one per order.
    ALTER TABLE order_documents ADD COLUMN source text;
    CREATE UNIQUE INDEX order_documents_one_invoice ON order_documents(order_id) WHERE kind = 'invoice' AND source = 'portal';
    CREATE INDEX order_documents_kind_date ON order_documents(kind, date);

    -- Batches of closing documents received as a zip (PDFs + manifest.csv): what each manifest line
    -- became, so an operator sees the rejected rows with their reasons and nothing is lost silently.
    CREATE TABLE document_batches (
      id          bigserial PRIMARY KEY,
      source      text NOT NULL,
      file_name   text NOT NULL,
      sha256      char(64) NOT NULL,
      received_at timestamptz NOT NULL DEFAULT now(),
      accepted    integer NOT NULL DEFAULT 0,
      rejected    integer NOT NULL DEFAULT 0,
      error       text,
      rows        jsonb NOT NULL DEFAULT '[]'
    );

    -- A contract or supplement a manager publishes for a client (optionally for one legal entity or
    -- agreement); the client downloads it, signs and uploads scans.
    CREATE TABLE client_documents (
      id              bigserial PRIMARY KEY,
      client_id       bigint NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
      legal_entity_id bigint REFERENCES legal_entities(id) ON DELETE SET NULL,
      agreement_id    bigint REFERENCES agreements(id) ON DELETE SET NULL,
      kind            text NOT NULL CHECK (kind IN ('contract', 'supplement')),
      title           text NOT NULL,
      number          text,
      date            date,
      sha256          char(64) NOT NULL REFERENCES stored_files(sha256),
      file_name       text NOT NULL,
      status          text NOT NULL DEFAULT 'published' CHECK (status IN ('published', 'signed-uploaded')),
      published_by    integer REFERENCES managers(id) ON DELETE SET NULL,
      published_at    timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX client_documents_client ON client_documents(client_id, published_at);
    -- Every scan uploaded is kept (a second one replaces none): the manager sees what was sent when.
    CREATE TABLE client_document_scans (
      id           bigserial PRIMARY KEY,
      document_id  bigint NOT NULL REFERENCES client_documents(id) ON DELETE CASCADE,
      sha256       char(64) NOT NULL REFERENCES stored_files(sha256),
      file_name    text NOT NULL,
      content_type text NOT NULL,
      size_bytes   bigint NOT NULL,
      uploaded_by  bigint REFERENCES contacts(id) ON DELETE SET NULL,
      uploaded_at  timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX client_document_scans_document ON client_document_scans(document_id, uploaded_at);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE IF EXISTS client_document_scans, client_documents, document_batches, document_jobs CASCADE;
    DROP INDEX IF EXISTS order_documents_one_invoice;
    DROP INDEX IF EXISTS order_documents_kind_date;
    ALTER TABLE order_documents DROP COLUMN IF EXISTS source;
  `.execute(db);
}
