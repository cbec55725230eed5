// The current cart of a contact for one legal entity: products and quantities only (quantities add
// up), priced on every read for the entity (src/cabinet/priced-lines.ts). Every statement is bounded by
// the shopper's contact and legal entity, and changes first check the contact may act for the entity.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { countedUnitText } from '../orders/units.ts';
import { priceAtSql } from '../portal/price-at.ts';
import { notFound, ShopError, type FieldProblem } from './errors.ts';
import { cartLinesSql, cartSummary as summary, type CartSummary } from './cart-summary.ts';
import { priceLines, type PricedLines, type Shopper } from './priced-lines.ts';
import { isWhole, parseQuantity } from './quantity.ts';

type Db = Kysely<Database>;

export type { Shopper } from './priced-lines.ts';
export type { CartSummary } from './cart-summary.ts';

/**
 * The contact is linked to the legal entity, which belongs to the shopper's client and is not deleted:
 * anything else (an entity of another client in a form) looks absent.
 */
export async function assertShopper(db: Db, who: Pick<Shopper, 'contactId' | 'clientId' | 'legalEntityId'>): Promise<void> {
  const r = await sql<{ ok: number }>`
    SELECT 1 AS ok FROM contact_legal_entities cl JOIN legal_entities le ON le.id = cl.legal_entity_id
    WHERE cl.contact_id = ${who.contactId} AND cl.legal_entity_id = ${who.legalEntityId} AND le.client_id = ${who.clientId}
      AND NOT le.deleted AND NOT le.placeholder`.execute(db);
  if (!r.rows.length) throw notFound('Юридическое лицо не найдено среди ваших');
}

export type CartView = PricedLines & {
  /** Every line can be ordered and there is at least one. */
  orderable: boolean;
};

export async function cartView(db: Db, who: Shopper): Promise<CartView> {
  const v = await priceLines(db, who, cartLinesSql(who));
  return { ...v, orderable: v.lines.length > 0 && v.lines.every((l) => l.state === 'ok') };
}

/** The context bar's figure: the line count and the total of what can be ordered (same pricing as the view). */
export async function cartSummary(db: Db, who: Shopper): Promise<CartSummary> {
  return summary(db, who);
}

export interface AddLine {
  sku: string;
  /** As typed: a decimal string (a comma is accepted), possibly blank. */
  quantity: unknown;
}

export interface AddResult {
  /** The lines added (their products and the quantities added). */
  added: Array<{ sku: string; name: string; quantity: string }>;
  /** One per refused line, `field` = `lines[i]` (0-based position in the request); the good lines were added. */
  problems: FieldProblem[];
}

interface Resolved {
  i: number;
  sku: string;
  product_id: string | null;
  name: string | null;
  unit: string | null;
  counted: boolean | null;
  priced: boolean | null;
}

/**
 * Adds lines to the cart, quantities adding up to what is there. A line with a blank quantity is skipped
 * (the catalog table posts every row); a bad quantity, an unknown SKU, a product without a price for the
 * entity or a part of a piece is reported with the line's SKU, and the good lines are added anyway.
 */
export async function addToCart(db: Db, who: Shopper, lines: readonly AddLine[]): Promise<AddResult> {
  await assertShopper(db, who);
  const problems: FieldProblem[] = [];
  const wanted: Array<{ i: number; sku: string; quantity: string }> = [];
  lines.forEach((l, i) => {
    const sku = String(l.sku ?? '').trim();
    const blank = l.quantity === undefined || l.quantity === null || String(l.quantity).trim() === '';
    if (blank && lines.length > 1) return;
    if (!sku) {
      problems.push({ field: `lines[${i}]`, message: `Строка ${i + 1}: не указан товар` });
      return;
    }
    const q = parseQuantity(l.quantity);
    if (!q.ok) problems.push({ field: `lines[${i}]`, message: `${sku}: ${q.message}` });
    else wanted.push({ i, sku, quantity: q.value });
  });
  if (!wanted.length && !problems.length) throw new ShopError(400, 'Укажите количество хотя бы для одного товара', [{ field: 'quantity', message: 'Укажите количество' }]);
  if (!wanted.length) return { added: [], problems };

  const resolved = (await sql<Resolved>`
    SELECT r.i::int, r.sku, p.id::text AS product_id, p.name, u.code AS unit, ${sql.raw(countedUnitText('u'))} AS counted,
      (x.value IS NOT NULL) AS priced
    FROM unnest(${sql.val(wanted.map((w) => w.i))}::int[], ${sql.val(wanted.map((w) => w.sku))}::text[]) AS r(i, sku)
    LEFT JOIN LATERAL (SELECT id, name, unit_id FROM products WHERE code = r.sku AND NOT deleted AND NOT placeholder ORDER BY id LIMIT 1) p ON true
    LEFT JOIN units u ON u.id = p.unit_id
    LEFT JOIN LATERAL ${sql.raw(priceAtSql(`${who.pricing.priceTypeId === null ? 'NULL' : Number(who.pricing.priceTypeId)}::int`, 'p.id', 'now()'))} x ON x.value > 0
    ORDER BY r.i`.execute(db)).rows;
  const byIndex = new Map(resolved.map((r) => [r.i, r]));
  const good: Array<{ productId: number; sku: string; name: string; quantity: string }> = [];
  for (const w of wanted) {
    const r = byIndex.get(w.i);
    const field = `lines[${w.i}]`;
    if (!r || r.product_id === null) problems.push({ field, message: `${w.sku}: такого товара нет в каталоге` });
    else if (!r.priced) problems.push({ field, message: `${w.sku}: товар сейчас не продаётся (нет цены для выбранного юрлица)` });
    else if (r.counted && !isWhole(w.quantity)) problems.push({ field, message: `${w.sku}: продаётся целыми единицами (${r.unit ?? 'шт'}), а указано ${w.quantity.replace('.', ',')}` });
    else good.push({ productId: Number(r.product_id), sku: w.sku, name: r.name as string, quantity: w.quantity });
  }
  if (!good.length) return { added: [], problems };
  // The cart lists lines in the order they were added (added_at); lines added by one request share the
  // transaction's now(), so each is placed a microsecond after the one before it in the request.
  try {
    await sql`
      INSERT INTO cart_lines (contact_id, legal_entity_id, product_id, quantity, added_at)
      SELECT ${who.contactId}, ${who.legalEntityId}, g.product_id, sum(g.qty), now() + make_interval(secs => min(g.ord) / 1e6)
      FROM unnest(${sql.val(good.map((g) => g.productId))}::bigint[], ${sql.val(good.map((g) => g.quantity))}::numeric[]) WITH ORDINALITY AS g(product_id, qty, ord)
      GROUP BY g.product_id
      ON CONFLICT (contact_id, legal_entity_id, product_id)
      DO UPDATE SET quantity = cart_lines.quantity + EXCLUDED.quantity, updated_at = now()`.execute(db);
  } catch (e) {
    // numeric(20, 6) overflows past 14 integer digits: the sum, not any one line, is too large.
    if ((e as { code?: string }).code === '22003') throw new ShopError(400, 'Количество в корзине получилось слишком большим', [{ field: 'quantity', message: 'Слишком большое количество' }]);
    throw e;
  }
  return { added: good.map((g) => ({ sku: g.sku, name: g.name, quantity: g.quantity })), problems };
}

/** Sets one line's quantity (a zero is refused: removing is its own action); refusals name the line's SKU. */
export async function setCartQuantity(db: Db, who: Shopper, productId: number, raw: unknown): Promise<void> {
  await assertShopper(db, who);
  const line = (await sql<{ counted: boolean; unit: string | null; sku: string }>`
    SELECT ${sql.raw(countedUnitText('u'))} AS counted, u.code AS unit, p.code AS sku
    FROM cart_lines c JOIN products p ON p.id = c.product_id LEFT JOIN units u ON u.id = p.unit_id
    WHERE c.contact_id = ${who.contactId} AND c.legal_entity_id = ${who.legalEntityId} AND c.product_id = ${productId}`.execute(db)).rows[0];
  if (!line) throw notFound('Этого товара нет в корзине');
  const q = parseQuantity(raw);
  const refuse = (text: string) => {
    const message = `${line.sku}: ${text}`;
    return new ShopError(400, message, [{ field: 'quantity', message }]);
  };
  if (!q.ok) throw refuse(q.message);
  if (line.counted && !isWhole(q.value)) throw refuse(`продаётся целыми единицами (${line.unit ?? 'шт'}), а указано ${q.value.replace('.', ',')}`);
  await sql`UPDATE cart_lines SET quantity = ${q.value}::numeric, updated_at = now()
    WHERE contact_id = ${who.contactId} AND legal_entity_id = ${who.legalEntityId} AND product_id = ${productId}`.execute(db);
}

export async function removeFromCart(db: Db, who: Shopper, productId: number): Promise<void> {
  await assertShopper(db, who);
  const r = await sql`DELETE FROM cart_lines WHERE contact_id = ${who.contactId} AND legal_entity_id = ${who.legalEntityId} AND product_id = ${productId}`.execute(db);
  if (!Number(r.numAffectedRows ?? 0)) throw notFound('Этого товара нет в корзине');
}

export async function clearCart(db: Db, who: Shopper): Promise<number> {
  await assertShopper(db, who);
  const r = await sql`DELETE FROM cart_lines WHERE contact_id = ${who.contactId} AND legal_entity_id = ${who.legalEntityId}`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}
