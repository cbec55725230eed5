// The SAP connector's own tables, applied after the core's and recorded in its own bookkeeping table
// (kysely_migration_sap).
import { sql, type Kysely, type Migration } from 'kysely';

const idocMessages: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    // One row per IDoc message the endpoint handed to port.receive: which stored file answers a receipt
    // key (so a resend of the same DOCNUMs in other bytes is not kept beside it), and the DOCNUMs it
    // carried (lineage: DOCNUM → message → runs by runs.receipt_key).
    await sql`
    CREATE TABLE IF NOT EXISTS sap_idoc_messages (
      receipt_key  text PRIMARY KEY,
      endpoint     text NOT NULL,
      path         text NOT NULL,
      sha256       text NOT NULL,
      size_bytes   bigint NOT NULL,
      file_name    text NOT NULL,
      idocs        integer NOT NULL,
      docnums      text[] NOT NULL,
      received_at  timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX IF NOT EXISTS sap_idoc_messages_docnums ON sap_idoc_messages USING gin (docnums);
    `.execute(db);
  },
  async down(db: Kysely<any>): Promise<void> {
    await sql`DROP TABLE IF EXISTS sap_idoc_messages`.execute(db);
  },
};

export const sapMigrations: Readonly<Record<string, Migration>> = { '0001_idoc_messages': idocMessages };
