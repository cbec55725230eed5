// Closing documents through flows (target orderDocuments, connector file.documents): the merge upserts by
// (order, kind, number) and records the flow and run that last wrote a row, like every keyed target.
// `noticed_sha256`: the file the buyer was last told about ("new document" e-mail), set in the transaction
// that writes the e-mail, so a file is announced once however it arrived (flow, batch upload) and a replaced
// file is announced again. Existing rows count as announced: the migration must not mail old documents.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Earlier writers checked (order, kind, number) before inserting, but a row twice would stop the
    -- unique index below: such a repeat keeps its row and gets its id appended to its number (nothing lost).
    UPDATE order_documents d SET number = d.number || ' (' || d.id || ')'
    WHERE EXISTS (SELECT 1 FROM order_documents x WHERE x.order_id = d.order_id AND x.kind = d.kind AND x.number = d.number AND x.id < d.id);
    ALTER TABLE order_documents
      ADD COLUMN flow_id integer,
      ADD COLUMN run_id bigint,
      ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
      ADD COLUMN noticed_sha256 char(64);
    UPDATE order_documents SET noticed_sha256 = sha256 WHERE sha256 IS NOT NULL;
    CREATE UNIQUE INDEX order_documents_key ON order_documents(order_id, kind, number);
    -- The notifier's queue: files not announced yet (few at any time).
    CREATE INDEX order_documents_unnoticed ON order_documents(id) WHERE sha256 IS NOT NULL AND noticed_sha256 IS DISTINCT FROM sha256;
    CREATE INDEX IF NOT EXISTS orders_erp_number ON orders(erp_number) WHERE erp_number IS NOT NULL;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP INDEX IF EXISTS orders_erp_number;
    DROP INDEX IF EXISTS order_documents_unnoticed;
    DROP INDEX IF EXISTS order_documents_key;
    ALTER TABLE order_documents DROP COLUMN IF EXISTS flow_id, DROP COLUMN IF EXISTS run_id, DROP COLUMN IF EXISTS updated_at, DROP COLUMN IF EXISTS noticed_sha256;
  `.execute(db);
}
