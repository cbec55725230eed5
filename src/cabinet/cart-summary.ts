// The cart's line count and total for the context bar of every page: the lines of the contact's cart
// for the chosen legal entity, priced now like an order would be (validity periods, quantity tiers,
// the agreement's discount, rounded to kopecks on numeric). Lines without a price do not count.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { priceAtSql, tierValueSql } from '../portal/price-at.ts';
import type { Pricing } from '../portal/pricing.ts';

export interface CartSummary {
  lines: number;
  /** Exact decimal, '0' for an empty cart. */
  total: string;
  currency: string | null;
}

const PRICE_AT = priceAtSql('$3::int', 'c.product_id', 'now()');

export async function cartSummary(db: Kysely<Database>, who: { contactId: number; legalEntityId: number; pricing: Pick<Pricing, 'priceTypeId' | 'discountPercent' | 'currency'> }): Promise<CartSummary> {
  const r = await sql<{ lines: number; total: string }>`
    SELECT count(*)::int AS lines, coalesce(sum(round(round(${sql.raw(tierValueSql('x', 'c.quantity'))} * (1 - ${who.pricing.discountPercent}::numeric / 100), 2) * c.quantity, 2)), 0)::text AS total
    FROM cart_lines c
    LEFT JOIN LATERAL ${sql.raw(PRICE_AT.replaceAll('$3::int', String(who.pricing.priceTypeId ?? 'NULL') + '::int'))} x ON x.value > 0
    WHERE c.contact_id = ${who.contactId} AND c.legal_entity_id = ${who.legalEntityId}`.execute(db);
  const row = r.rows[0]!;
  return { lines: row.lines, total: row.total, currency: who.pricing.currency };
}
