// Adds a quick order's lines to the contact's current cart of a legal entity. A minimal stand-in for
// helper H3's cart service (src/cabinet/cart.ts, addToCart): when that lands, the page calls it
// instead and this file goes. Authorization here, not in the page: the legal entity must be one the
// contact acts for, else nothing is written and the caller shows "not found".
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';

export interface CartLineInput {
  productId: number;
  /** Exact decimal text. */
  quantity: string;
}

/** Quantities add up to what the cart holds; returns the number of lines written, null when the legal entity is not the contact's. */
export async function addQuickOrderToCart(db: Kysely<Database>, contactId: number, legalEntityId: number, lines: CartLineInput[]): Promise<number | null> {
  const r = await sql<{ n: number | null }>`
    WITH le AS (
      SELECT cl.legal_entity_id FROM contact_legal_entities cl JOIN legal_entities le ON le.id = cl.legal_entity_id
      WHERE cl.contact_id = ${contactId} AND cl.legal_entity_id = ${legalEntityId} AND NOT le.deleted AND NOT le.placeholder
    ), ins AS (
      INSERT INTO cart_lines AS c (contact_id, legal_entity_id, product_id, quantity)
      SELECT ${contactId}, le.legal_entity_id, l.product_id, l.quantity
      FROM le, unnest(${lines.map((l) => l.productId)}::bigint[], ${lines.map((l) => l.quantity)}::numeric[]) AS l(product_id, quantity)
      ON CONFLICT (contact_id, legal_entity_id, product_id) DO UPDATE SET quantity = c.quantity + excluded.quantity, updated_at = now()
      RETURNING 1
    )
    SELECT CASE WHEN EXISTS (SELECT 1 FROM le) THEN (SELECT count(*)::int FROM ins) END AS n`.execute(db);
  return r.rows[0]?.n ?? null;
}
