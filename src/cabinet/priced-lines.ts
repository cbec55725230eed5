// Lines of a cart (the current one, a saved one) priced for a shopper in one statement: carts keep
// products and quantities only, so every read prices them now, in PostgreSQL on numeric, the way an
// order is placed (the price in force now with its validity periods, the quantity's tier, the discount,
// rounded to kopecks) — what the cart shows is what checkout charges.
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../db/index.ts';
import { countedUnitText } from '../orders/units.ts';
import type { Pricing } from '../portal/pricing.ts';
import { priceAtSql, tierValueSql } from '../portal/price-at.ts';

/** Who shops: the contact acting for one legal entity of its client, in a city, at the entity's prices. */
export interface Shopper {
  contactId: number;
  clientId: number;
  legalEntityId: number;
  cityId: number | null;
  /** `resolvePricing` for the client, the legal entity and the city. */
  pricing: Pricing;
  /** A manager works as the contact: the order placed records it. */
  impersonation?: { managerId: number; impersonationId: number } | null;
}

export type LineState = 'ok' | 'unavailable' | 'no-price' | 'fractional';

export interface PricedLine {
  productId: number;
  sku: string;
  name: string;
  article: string | null;
  unit: string | null;
  /** Sold in whole pieces (see src/orders/units.ts). */
  counted: boolean;
  quantity: string;
  /** The price per unit for this quantity with the discount, 2 decimals; null when there is none. */
  price: string | null;
  /** The line amount, only for a line that can be ordered. */
  amount: string | null;
  currency: string | null;
  /** Quantity in the warehouses of the shopper's city; null without a city. */
  stock: string | null;
  state: LineState;
}

export interface PricedLines {
  lines: PricedLine[];
  /** The sum of the amounts of the lines that can be ordered, '0.00' for none. */
  total: string;
  currency: string | null;
}

interface Row {
  product_id: string;
  sku: string;
  name: string;
  article: string | null;
  unit: string | null;
  counted: boolean;
  quantity: string;
  price: string | null;
  amount: string | null;
  currency: string | null;
  stock: string | null;
  state: LineState;
  total: string | null;
}

const PRICE_NOW = priceAtSql('src.pt', 'p.id', 'now()');

/**
 * Prices the rows of `source`, a statement yielding `(product_id, quantity, ord)`; lines come back in
 * `ord` order with their state: `unavailable` (the product was deleted from the catalog), `no-price` (not
 * on sale at the shopper's prices), `fractional` (a part of a piece), else `ok`.
 */
export async function priceLines(db: Kysely<Database>, who: Pick<Shopper, 'cityId' | 'pricing'>, source: RawBuilder<unknown>, opts: { stock?: boolean } = {}): Promise<PricedLines> {
  const stock = opts.stock === false ? sql`NULL::text` : sql`(SELECT trim_scale(coalesce(sum(s.quantity), 0))::text FROM stock s JOIN warehouses w ON w.id = s.warehouse_id
         WHERE s.product_id = p.id AND w.city_id = ${who.cityId}::int)`;
  const r = await sql<Row>`
    WITH src AS (SELECT s.*, ${who.pricing.priceTypeId}::int AS pt FROM (${source}) s),
    priced AS (
      SELECT src.ord, p.id AS product_id, p.code AS sku, p.name, p.article, u.code AS unit, ${sql.raw(countedUnitText('u'))} AS counted,
        src.quantity, x.currency, e.price,
        CASE WHEN p.deleted OR p.placeholder THEN 'unavailable'
             WHEN e.price IS NULL THEN 'no-price'
             WHEN ${sql.raw(countedUnitText('u'))} AND src.quantity <> trunc(src.quantity) THEN 'fractional'
             ELSE 'ok' END AS state,
        ${stock} AS stock
      FROM src
      JOIN products p ON p.id = src.product_id
      LEFT JOIN units u ON u.id = p.unit_id
      LEFT JOIN LATERAL ${sql.raw(PRICE_NOW)} x ON x.value > 0
      LEFT JOIN LATERAL (SELECT round(t.base * (1 - ${who.pricing.discountPercent}::numeric / 100), 2) AS price
        FROM (SELECT ${sql.raw(tierValueSql('x', 'src.quantity'))} AS base) t WHERE x.value IS NOT NULL) e ON true
    ),
    amounts AS (SELECT priced.*, CASE WHEN state = 'ok' THEN round(price * quantity, 2) END AS amount FROM priced)
    SELECT product_id::text, sku, name, article, unit, counted, trim_scale(quantity)::text AS quantity, price::text, amount::text, currency,
      stock, state, (sum(amount) OVER ())::text AS total
    FROM amounts ORDER BY ord, product_id`.execute(db);
  const lines = r.rows.map((x): PricedLine => ({
    productId: Number(x.product_id), sku: x.sku, name: x.name, article: x.article, unit: x.unit, counted: x.counted, quantity: x.quantity,
    price: x.price, amount: x.amount, currency: x.currency, stock: x.stock, state: x.state,
  }));
  const total = r.rows[0]?.total ?? '0.00';
  const currency = who.pricing.currency ?? lines.find((l) => l.currency !== null)?.currency ?? null;
  return { lines, total: total === '0' ? '0.00' : total, currency };
}

/** What a line's state means for the buyer. */
export function lineProblem(l: Pick<PricedLine, 'state' | 'unit'>): string | null {
  switch (l.state) {
    case 'unavailable': return 'Товар снят с продажи — удалите его из корзины';
    case 'no-price': return 'Нет цены для выбранного юрлица — товар сейчас не продаётся';
    case 'fractional': return `Продаётся целыми единицами (${l.unit ?? 'шт'}) — исправьте количество`;
    default: return null;
  }
}
