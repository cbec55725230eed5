// Lineage (issue 15): each history row of a fact names where its value came from — the inbox file
// (`inbox_id`: the right file of a multi-file payload, and of a merge group), the line, and the element
// path where the line alone does not name the element — and a key's first appearance through a merge
// is a row too (op 'I'). Rows written before this migration keep NULL positions.
import { sql, type Kysely } from 'kysely';

const TABLES = ['price_history', 'stock_history', 'contact_legal_entity_history'] as const;

export async function up(db: Kysely<any>): Promise<void> {
  for (const t of TABLES) {
    // Nullable columns without a default: no rewrite of a history that may hold millions of rows.
    await sql.raw(`
      ALTER TABLE ${t} DROP CONSTRAINT ${t}_op_check,
        ADD CONSTRAINT ${t}_op_check CHECK (op IN ('I', 'U', 'D')),
        ADD COLUMN inbox_id bigint,
        ADD COLUMN line integer,
        ADD COLUMN path text`).execute(db);
  }
  // A lineage page is one key's rows newest first (keyset on at, run_id): read backwards in index order, never
  // sorted. Same leading columns as the index it replaces; stock had none for its key.
  await sql`
    DROP INDEX price_history_key;
    CREATE INDEX price_history_key ON price_history(product_id, price_type_id, at, run_id);
    CREATE INDEX stock_history_key ON stock_history(product_id, warehouse_id, at, run_id);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP INDEX IF EXISTS stock_history_key;
    DROP INDEX IF EXISTS price_history_key;
    CREATE INDEX price_history_key ON price_history(product_id, price_type_id);
  `.execute(db);
  for (const t of TABLES) {
    await sql.raw(`
      DELETE FROM ${t} WHERE op = 'I';
      ALTER TABLE ${t} DROP COLUMN path, DROP COLUMN line, DROP COLUMN inbox_id,
        DROP CONSTRAINT ${t}_op_check, ADD CONSTRAINT ${t}_op_check CHECK (op IN ('U', 'D'))`).execute(db);
  }
}
