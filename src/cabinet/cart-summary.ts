// The cart's line count and total for the context bar of every page: the lines of the contact's cart
// for the chosen legal entity, priced now like an order would be (validity periods, quantity tiers,
// the agreement's discount, rounded to kopecks on numeric) by the same statement as the cart page
// (src/cabinet/priced-lines.ts, without the stock column), so the bar and the cart never disagree.
// Lines that cannot be ordered (no price, deleted product, part of a piece) do not count in the total.
// Cost on every page (npm run bench:cart, 100,000 products, tiers, agreement discount; a shared 2-core
// machine): p50 2.8 ms for 10 lines, 4.8 ms for 100, 14 ms for 500 — one statement, a price lookup by key per line.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import type { Pricing } from '../portal/pricing.ts';
import { priceLines, type PricedLines } from './priced-lines.ts';

export interface CartSummary {
  lines: number;
  /** Exact decimal, '0.00' for an empty cart. */
  total: string;
  currency: string | null;
}

/** The current cart's lines (contact and legal entity), in the order they were added: what `priceLines` prices. */
export const cartLinesSql = (who: { contactId: number; legalEntityId: number }) => sql`
  SELECT product_id, quantity, added_at AS ord FROM cart_lines WHERE contact_id = ${who.contactId} AND legal_entity_id = ${who.legalEntityId}`;

/** The bar's figure from lines already priced (the cart page has them: no second statement). */
export const summaryOf = (v: PricedLines): CartSummary => ({ lines: v.lines.length, total: v.total, currency: v.currency });

export async function cartSummary(db: Kysely<Database>, who: { contactId: number; legalEntityId: number; pricing: Pricing }): Promise<CartSummary> {
  return summaryOf(await priceLines(db, { cityId: null, pricing: who.pricing }, cartLinesSql(who), { stock: false }));
}
