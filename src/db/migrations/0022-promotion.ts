// A product's promotion: the label the catalog shows on it («Акция», «Распродажа −20 %») and what the
// catalog's "promotion first" sort ranks by. Set by the products flows (canonical field `promotion`);
// catalog offers carry whether a product is promoted, so the sort reads no other table.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE products ADD COLUMN IF NOT EXISTS promotion text;
    ALTER TABLE catalog_offers ADD COLUMN IF NOT EXISTS promoted boolean NOT NULL DEFAULT false`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE catalog_offers DROP COLUMN IF EXISTS promoted;
    ALTER TABLE products DROP COLUMN IF EXISTS promotion`.execute(db);
}
