// Saved carts of a legal entity: the current cart kept under a name (products and quantities, never
// prices), seen by its owner and, once shared, by the entity's other contacts. Adding one into the
// current cart prices it anew for the entity, since carts are priced on every read. Only the owner
// changes or deletes it; a saved cart of another entity, or another's unshared one, looks absent.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { addToCart, assertShopper, type AddResult, type Shopper } from './cart.ts';
import { notFound, ShopError } from './errors.ts';
import { priceLines, type PricedLines } from './priced-lines.ts';

type Db = Kysely<Database>;

export interface SavedCartSummary {
  id: number;
  name: string;
  shared: boolean;
  /** The shopper made it (and may change it). */
  own: boolean;
  ownerName: string | null;
  lineCount: number;
  updatedAt: Date;
}

const NAME_MAX = 100;

function checkedName(raw: unknown): string {
  const name = String(raw ?? '').trim().replace(/\s+/g, ' ');
  if (!name) throw new ShopError(400, 'Укажите название корзины', [{ field: 'name', message: 'Укажите название' }]);
  if (name.length > NAME_MAX) throw new ShopError(400, `Название корзины длиннее ${NAME_MAX} символов`, [{ field: 'name', message: `Не более ${NAME_MAX} символов` }]);
  return name;
}

/** The saved carts the shopper sees for its legal entity: its own and the shared ones, newest first. */
export async function listSavedCarts(db: Db, who: Shopper): Promise<SavedCartSummary[]> {
  const r = await sql<{ id: string; name: string; shared: boolean; own: boolean; owner_name: string | null; line_count: number; updated_at: Date }>`
    SELECT s.id::text, s.name, s.shared, s.owner_contact_id IS NOT DISTINCT FROM ${who.contactId}::bigint AS own, c.name AS owner_name,
      (SELECT count(*)::int FROM saved_cart_lines l WHERE l.saved_cart_id = s.id) AS line_count, s.updated_at
    FROM saved_carts s LEFT JOIN contacts c ON c.id = s.owner_contact_id
    WHERE s.legal_entity_id = ${who.legalEntityId} AND (s.owner_contact_id = ${who.contactId} OR s.shared)
      AND EXISTS (SELECT 1 FROM contact_legal_entities cl WHERE cl.contact_id = ${who.contactId} AND cl.legal_entity_id = s.legal_entity_id)
    ORDER BY s.updated_at DESC, s.id DESC`.execute(db);
  return r.rows.map((x) => ({ id: Number(x.id), name: x.name, shared: x.shared, own: x.own, ownerName: x.owner_name, lineCount: x.line_count, updatedAt: x.updated_at }));
}

/** A saved cart the shopper sees (locked for update when `lock`), else 404. */
async function visible(db: Db, who: Shopper, id: number, lock = false): Promise<{ id: number; own: boolean; name: string; shared: boolean }> {
  if (!Number.isSafeInteger(id) || id <= 0) throw notFound('Сохранённая корзина не найдена');
  const r = await sql<{ id: string; own: boolean; name: string; shared: boolean }>`
    SELECT s.id::text, s.owner_contact_id IS NOT DISTINCT FROM ${who.contactId}::bigint AS own, s.name, s.shared FROM saved_carts s
    WHERE s.id = ${id} AND s.legal_entity_id = ${who.legalEntityId} AND (s.owner_contact_id = ${who.contactId} OR s.shared)
    ${lock ? sql`FOR UPDATE` : sql``}`.execute(db);
  const row = r.rows[0];
  if (!row) throw notFound('Сохранённая корзина не найдена');
  return { id: Number(row.id), own: row.own, name: row.name, shared: row.shared };
}

async function owned(db: Db, who: Shopper, id: number): Promise<void> {
  const s = await visible(db, who, id, true);
  if (!s.own) throw new ShopError(403, 'Изменить или удалить общую корзину может только её автор');
}

/** One saved cart with its lines priced now for the shopper's entity. */
export async function savedCartView(db: Db, who: Shopper, id: number): Promise<SavedCartSummary & PricedLines> {
  await assertShopper(db, who);
  const s = await visible(db, who, id);
  const list = (await listSavedCarts(db, who)).find((x) => x.id === s.id)!;
  const priced = await priceLines(db, who, sql`SELECT product_id, quantity, line_no AS ord FROM saved_cart_lines WHERE saved_cart_id = ${s.id}`);
  return { ...list, ...priced };
}

const copyCart = (db: Db, who: Shopper, savedId: number) => sql`
  INSERT INTO saved_cart_lines (saved_cart_id, product_id, line_no, quantity)
  SELECT ${savedId}, product_id, row_number() OVER (ORDER BY added_at, product_id), quantity
  FROM cart_lines WHERE contact_id = ${who.contactId} AND legal_entity_id = ${who.legalEntityId}`.execute(db);

async function cartLineCount(db: Db, who: Shopper): Promise<number> {
  const r = await sql<{ n: number }>`SELECT count(*)::int AS n FROM cart_lines WHERE contact_id = ${who.contactId} AND legal_entity_id = ${who.legalEntityId}`.execute(db);
  return r.rows[0]!.n;
}

/** Saves the current cart under a name for the shopper's legal entity; the current cart stays as it is. */
export async function saveCart(db: Db, who: Shopper, rawName: unknown, opts: { shared?: boolean } = {}): Promise<number> {
  const name = checkedName(rawName);
  await assertShopper(db, who);
  return db.transaction().execute(async (trx) => {
    if (!await cartLineCount(trx, who)) throw new ShopError(400, 'Корзина пуста — сохранять нечего');
    const s = await trx.insertInto('saved_carts').values({ legal_entity_id: who.legalEntityId, owner_contact_id: who.contactId, name, shared: opts.shared ?? false })
      .returning('id').executeTakeFirstOrThrow();
    await copyCart(trx, who, Number(s.id));
    return Number(s.id);
  });
}

/** Replaces a saved cart's lines with the current cart (owner only). */
export async function replaceSavedCart(db: Db, who: Shopper, id: number): Promise<void> {
  await assertShopper(db, who);
  await db.transaction().execute(async (trx) => {
    await owned(trx, who, id);
    if (!await cartLineCount(trx, who)) throw new ShopError(400, 'Корзина пуста — нечем заменить сохранённую');
    await sql`DELETE FROM saved_cart_lines WHERE saved_cart_id = ${id}`.execute(trx);
    await copyCart(trx, who, id);
    await sql`UPDATE saved_carts SET updated_at = now() WHERE id = ${id}`.execute(trx);
  });
}

export async function renameSavedCart(db: Db, who: Shopper, id: number, rawName: unknown): Promise<void> {
  const name = checkedName(rawName);
  await assertShopper(db, who);
  await db.transaction().execute(async (trx) => {
    await owned(trx, who, id);
    await sql`UPDATE saved_carts SET name = ${name}, updated_at = now() WHERE id = ${id}`.execute(trx);
  });
}

/** Shares a saved cart with the entity's other contacts, or takes it back (owner only). */
export async function shareSavedCart(db: Db, who: Shopper, id: number, shared: boolean): Promise<void> {
  await assertShopper(db, who);
  await db.transaction().execute(async (trx) => {
    await owned(trx, who, id);
    await sql`UPDATE saved_carts SET shared = ${shared}, updated_at = now() WHERE id = ${id}`.execute(trx);
  });
}

export async function deleteSavedCart(db: Db, who: Shopper, id: number): Promise<void> {
  await assertShopper(db, who);
  await db.transaction().execute(async (trx) => {
    await owned(trx, who, id);
    await sql`DELETE FROM saved_carts WHERE id = ${id}`.execute(trx);
  });
}

/**
 * Adds a saved cart's lines into the current cart (quantities add up); a product since removed from the
 * catalog or no longer on sale is reported by SKU and the rest is added.
 */
export async function addSavedCartToCart(db: Db, who: Shopper, id: number): Promise<AddResult> {
  await assertShopper(db, who);
  const s = await visible(db, who, id);
  const lines = (await sql<{ sku: string; quantity: string }>`
    SELECT p.code AS sku, trim_scale(l.quantity)::text AS quantity FROM saved_cart_lines l JOIN products p ON p.id = l.product_id
    WHERE l.saved_cart_id = ${s.id} ORDER BY l.line_no`.execute(db)).rows;
  if (!lines.length) throw new ShopError(400, 'В сохранённой корзине нет товаров');
  return addToCart(db, who, lines);
}
