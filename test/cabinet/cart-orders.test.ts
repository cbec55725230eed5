// The cabinet's cart, saved carts, checkout, order list and repeat order as services, on a store filled
// through the real CSV flows (test/api/portal-fixture.ts): prices computed in SQL for the legal entity,
// bad quantities refused in Russian with the good lines kept, and nothing of another contact, legal
// entity or client reachable.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addToCart, cartSummary, cartView, clearCart, removeFromCart, setCartQuantity, type Shopper } from '../../src/cabinet/cart.ts';
import { checkout } from '../../src/cabinet/checkout.ts';
import { ShopError } from '../../src/cabinet/errors.ts';
import { repeatOrder } from '../../src/cabinet/repeat.ts';
import {
  addSavedCartToCart, deleteSavedCart, listSavedCarts, renameSavedCart, replaceSavedCart, saveCart, savedCartView, shareSavedCart,
} from '../../src/cabinet/saved-carts.ts';
import type { Db } from '../../src/db/index.ts';
import { orderDetails } from '../../src/orders/history.ts';
import { listOrders } from '../../src/orders/read.ts';
import { resolvePricing } from '../../src/portal/pricing.ts';
import { portalFixture, type PortalFixture } from '../api/portal-fixture.ts';

let fx: PortalFixture;
let db: Db['db'];

beforeAll(async () => {
  fx = await portalFixture('cabcart');
  db = fx.tp.rt.db;
}, 120_000);
afterAll(async () => { await fx?.close(); });

/** The shopper a signed-in contact is for one of its legal entities (what the cabinet's context holds). */
async function shopper(contact: string, legalEntity: string): Promise<Shopper> {
  const r = await sql<{ contact_id: string; client_id: string; le_id: string; city_id: number | null }>`
    SELECT c.id::text AS contact_id, le.client_id::text, le.id::text AS le_id, cl.city_id
    FROM contacts c, legal_entities le JOIN clients cl ON cl.id = le.client_id
    WHERE c.code = ${contact} AND le.code = ${legalEntity}`.execute(db);
  const x = r.rows[0]!;
  const ids = { contactId: Number(x.contact_id), clientId: Number(x.client_id), legalEntityId: Number(x.le_id), cityId: x.city_id };
  return { ...ids, pricing: await resolvePricing(db, { clientId: ids.clientId, legalEntityId: ids.legalEntityId, cityId: ids.cityId }) };
}

async function refused(p: Promise<unknown>): Promise<ShopError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ShopError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

const productId = async (sku: string): Promise<number> =>
  Number((await db.selectFrom('products').select('id').where('code', '=', sku).executeTakeFirstOrThrow()).id);

const orderCount = async (): Promise<number> => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM orders`.execute(db)).rows[0]!.n;

describe('the cart', () => {
  it('adds up quantities and prices every line in SQL for the legal entity (LE2: dealer −3 %)', async () => {
    const k1le2 = await shopper('K1', 'LE2');
    const r = await addToCart(db, k1le2, [{ sku: 'P2', quantity: '2' }, { sku: 'P1', quantity: '0,333' }]);
    expect(r.problems).toEqual([]);
    await addToCart(db, k1le2, [{ sku: 'P2', quantity: '1' }]);
    const v = await cartView(db, k1le2);
    // P2 19.99 → 19.39 × 3 = 58.17; P1 80 → 77.60 × 0.333 = 25.84
    expect(v.lines.map((l) => [l.sku, l.quantity, l.price, l.amount, l.state, l.unit])).toEqual([
      ['P2', '3', '19.39', '58.17', 'ok', 'pcs'], ['P1', '0.333', '77.60', '25.84', 'ok', 'm'],
    ]);
    expect(v).toMatchObject({ total: '84.01', currency: 'RUB', orderable: true });
    expect(await cartSummary(db, k1le2)).toEqual({ lines: 2, total: '84.01', currency: 'RUB' });
    // The same contact's cart of its other legal entity is another cart, priced by that entity (A1: wholesale).
    const k1le1 = await shopper('K1', 'LE1');
    expect(await cartSummary(db, k1le1)).toEqual({ lines: 0, total: '0.00', currency: 'RUB' });
    await addToCart(db, k1le1, [{ sku: 'P2', quantity: '2' }]);
    expect(await cartSummary(db, k1le1)).toEqual({ lines: 1, total: '35.00', currency: 'RUB' });
    // Another contact of the same entity has its own cart.
    expect((await cartSummary(db, await shopper('K2', 'LE1'))).lines).toBe(0);
    await clearCart(db, k1le1);
    await clearCart(db, k1le2);
  });

  it('refuses bad quantities in Russian, naming the SKU, and keeps the good lines', async () => {
    const who = await shopper('K1', 'LE1');
    const r = await addToCart(db, who, [
      { sku: 'P2', quantity: '1,5' }, { sku: 'P1', quantity: '-2' }, { sku: 'P1', quantity: '0' }, { sku: 'P3', quantity: 'пять' },
      { sku: 'NOPE', quantity: '1' }, { sku: 'P5', quantity: '1' }, { sku: 'P1', quantity: '2,5' }, { sku: 'P3', quantity: '' }, { sku: 'P2', quantity: '4' },
    ]);
    expect(r.problems).toEqual([
      { field: 'lines[1]', message: 'P1: Количество не может быть отрицательным: «-2»' },
      { field: 'lines[2]', message: 'P1: Количество должно быть больше нуля' },
      { field: 'lines[3]', message: 'P3: «пять» — не число; укажите количество цифрами, например 5 или 2,5' },
      { field: 'lines[0]', message: 'P2: продаётся целыми единицами (pcs), а указано 1,5' },
      { field: 'lines[4]', message: 'NOPE: такого товара нет в каталоге' },
      { field: 'lines[5]', message: 'P5: товар сейчас не продаётся (нет цены для выбранного юрлица)' },
    ]);
    expect(r.added).toEqual([{ sku: 'P1', name: 'Кабель ВВГнг 3x2,5', quantity: '2.5' }, { sku: 'P2', name: 'Автомат 16А', quantity: '4' }]);
    expect((await cartView(db, who)).lines.map((l) => [l.sku, l.quantity])).toEqual([['P1', '2.5'], ['P2', '4']]);
    // One line with no quantity at all is refused, not a silent nothing; several blank rows (the catalog table) too.
    expect((await addToCart(db, who, [{ sku: 'P2', quantity: ' ' }])).problems).toEqual([{ field: 'lines[0]', message: 'P2: Укажите количество' }]);
    expect((await refused(addToCart(db, who, [{ sku: 'P2', quantity: '' }, { sku: 'P1', quantity: '' }]))).message).toBe('Укажите количество хотя бы для одного товара');
    const p2 = await productId('P2');
    expect((await refused(setCartQuantity(db, who, p2, '2.5'))).message).toBe('P2: продаётся целыми единицами (pcs), а указано 2,5');
    expect((await refused(setCartQuantity(db, who, p2, '0'))).message).toBe('P2: Количество должно быть больше нуля');
    await setCartQuantity(db, who, p2, '7');
    expect((await cartView(db, who)).lines.find((l) => l.sku === 'P2')?.quantity).toBe('7');
    await removeFromCart(db, who, p2);
    expect((await refused(removeFromCart(db, who, p2))).status).toBe(404);
    await clearCart(db, who);
  });

  it('a product deleted after it was added is flagged, left out of the total, and stops checkout', async () => {
    const who = await shopper('K1', 'LE1');
    await addToCart(db, who, [{ sku: 'P1', quantity: '1' }, { sku: 'P3', quantity: '3' }]);
    await sql`UPDATE products SET deleted = true WHERE code = 'P3'`.execute(db);
    try {
      const v = await cartView(db, who);
      expect(v.lines.map((l) => [l.sku, l.state, l.amount])).toEqual([['P1', 'ok', '90.00'], ['P3', 'unavailable', null]]);
      expect(v).toMatchObject({ total: '90.00', orderable: false });
      const before = await orderCount();
      const e = await refused(checkout(db, who, { delivery: 'other', address: 'Москва, ул. Лесная, 5', paymentKind: 'Безналичный расчёт', idempotencyKey: 'key-deleted-1' }));
      expect(e.message).toBe('Заказ нельзя оформить, пока в корзине есть строки с ошибками');
      expect(e.problems.map((p) => p.message)).toEqual(['P3 Лампа 10 Вт: Товар снят с продажи — удалите его из корзины']);
      expect(await orderCount()).toBe(before);
    } finally {
      await sql`UPDATE products SET deleted = false WHERE code = 'P3'`.execute(db);
      await clearCart(db, who);
    }
  });

  it("a legal entity of another client, or one the contact is not linked to, looks absent", async () => {
    const k1 = await shopper('K1', 'LE1');
    for (const who of [{ ...k1, legalEntityId: (await shopper('K3', 'LE3')).legalEntityId }, await shopper('K2', 'LE2')]) {
      const e = await refused(addToCart(db, who, [{ sku: 'P1', quantity: '1' }]));
      expect([e.status, e.message]).toEqual([404, 'Юридическое лицо не найдено среди ваших']);
    }
    expect(await sql`SELECT 1 FROM cart_lines`.execute(db).then((r) => r.rows.length)).toBe(0);
  });
});

describe('saved carts', () => {
  it('save, list, share with the entity, add into the current cart at prices of now; only the owner changes it', async () => {
    const k1 = await shopper('K1', 'LE1');
    const k2 = await shopper('K2', 'LE1');
    expect((await refused(saveCart(db, k1, 'Пустая'))).message).toBe('Корзина пуста — сохранять нечего');
    await addToCart(db, k1, [{ sku: 'P2', quantity: '10' }, { sku: 'P1', quantity: '5' }]);
    expect((await refused(saveCart(db, k1, '   '))).message).toBe('Укажите название корзины');
    const id = await saveCart(db, k1, '  Объект  на Лесной ');
    expect(await listSavedCarts(db, k1)).toMatchObject([{ id, name: 'Объект на Лесной', shared: false, own: true, ownerName: 'Алексей Смирнов', lineCount: 2 }]);
    // Not shared: the entity's other contact does not see it; neither does the owner from its other entity.
    expect(await listSavedCarts(db, k2)).toEqual([]);
    expect((await refused(addSavedCartToCart(db, k2, id))).status).toBe(404);
    expect(await listSavedCarts(db, await shopper('K1', 'LE2'))).toEqual([]);
    expect((await refused(savedCartView(db, await shopper('K1', 'LE2'), id))).status).toBe(404);
    expect((await refused(savedCartView(db, await shopper('K3', 'LE3'), id))).status).toBe(404);

    await shareSavedCart(db, k1, id, true);
    expect(await listSavedCarts(db, k2)).toMatchObject([{ id, shared: true, own: false, ownerName: 'Алексей Смирнов' }]);
    // A price that changed since the save is what the cart shows: carts never keep prices.
    await sql`UPDATE prices SET value = 18.25 WHERE product_id = ${await productId('P2')} AND price_type_id = (SELECT id FROM price_types WHERE code = 'wholesale')`.execute(db);
    try {
      expect(await addSavedCartToCart(db, k2, id)).toMatchObject({ problems: [], added: [{ sku: 'P2', quantity: '10' }, { sku: 'P1', quantity: '5' }] });
      await addSavedCartToCart(db, k2, id);
      const v = await cartView(db, k2);
      expect(v.lines.map((l) => [l.sku, l.quantity, l.price, l.amount])).toEqual([['P2', '20', '18.25', '365.00'], ['P1', '10', '90.00', '900.00']]);
      expect((await savedCartView(db, k2, id)).total).toBe('632.50');
    } finally {
      await sql`UPDATE prices SET value = 17.5 WHERE product_id = ${await productId('P2')} AND price_type_id = (SELECT id FROM price_types WHERE code = 'wholesale')`.execute(db);
    }
    for (const change of [() => renameSavedCart(db, k2, id, 'Моя'), () => shareSavedCart(db, k2, id, false), () => deleteSavedCart(db, k2, id), () => replaceSavedCart(db, k2, id)]) {
      const e = await refused(change());
      expect([e.status, e.message]).toEqual([403, 'Изменить или удалить общую корзину может только её автор']);
    }

    await clearCart(db, k1);
    await addToCart(db, k1, [{ sku: 'P3', quantity: '4' }]);
    await replaceSavedCart(db, k1, id);
    await renameSavedCart(db, k1, id, 'Лесная, вторая очередь');
    expect((await savedCartView(db, k1, id)).lines.map((l) => [l.sku, l.quantity])).toEqual([['P3', '4']]);
    expect((await listSavedCarts(db, k2))[0]?.name).toBe('Лесная, вторая очередь');
    await deleteSavedCart(db, k1, id);
    expect(await listSavedCarts(db, k1)).toEqual([]);
    expect((await refused(deleteSavedCart(db, k1, id))).status).toBe(404);
    await clearCart(db, k1);
    await clearCart(db, k2);
  });
});

describe('checkout and orders', () => {
  it('places the cart as an order with address and payment kind, empties the cart, and a double submit makes one order', async () => {
    const who = await shopper('K1', 'LE2');
    await addToCart(db, who, [{ sku: 'P2', quantity: '3' }, { sku: 'P1', quantity: '0.333' }]);
    const noAddress = await refused(checkout(db, who, { delivery: 'entity', paymentKind: 'Безналичный расчёт', idempotencyKey: 'checkout-key-1' }));
    expect(noAddress.problems).toEqual([{ field: 'address', message: 'У юрлица не указан адрес — введите адрес доставки' }]);
    const badKind = await refused(checkout(db, who, { delivery: 'other', address: 'Склад', paymentKind: 'Бартер', idempotencyKey: 'checkout-key-1' }));
    expect(badKind.problems).toEqual([{ field: 'paymentKind', message: 'Выберите способ оплаты' }]);

    await sql`UPDATE legal_entities SET address = '190000, Санкт-Петербург, Невский пр., 1' WHERE code = 'LE2'`.execute(db);
    const before = await orderCount();
    const input = { delivery: 'entity', paymentKind: 'Оплата при получении', comment: 'Позвонить за час', idempotencyKey: 'checkout-key-1' };
    const [a, b] = await Promise.all([checkout(db, who, input), checkout(db, who, input)]);
    expect(await orderCount()).toBe(before + 1);
    expect(a.order.number).toBe(b.order.number);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    expect(a.order).toMatchObject({
      origin: 'portal', total: '84.01', deliveryAddress: '190000, Санкт-Петербург, Невский пр., 1', paymentKind: 'Оплата при получении', comment: 'Позвонить за час',
      legalEntity: { code: 'LE2' }, contact: 'K1', priceType: 'dealer',
    });
    expect(a.order.lines.map((l) => [l.sku, l.quantity, l.price, l.amount])).toEqual([['P2', '3', '19.39', '58.17'], ['P1', '0.333', '77.60', '25.84']]);
    expect(await cartSummary(db, who)).toMatchObject({ lines: 0 });
    // The same form once more after success still answers that order.
    expect((await checkout(db, who, input)).order.number).toBe(a.order.number);
    const d = await orderDetails(db, { clientId: who.clientId, contactId: who.contactId }, a.order.number);
    expect(d?.events.map((e) => e.source)).toEqual(['portal']);
  });

  it('a subordinate orders and sees only its own orders; the head sees every order of the entity', async () => {
    const k2 = await shopper('K2', 'LE1');
    const k1 = await shopper('K1', 'LE1');
    await addToCart(db, k2, [{ sku: 'P1', quantity: '2' }]);
    const mine = await checkout(db, k2, { delivery: 'other', address: 'Москва, ул. Лесная, 5', paymentKind: 'Безналичный расчёт', idempotencyKey: 'k2-order-1' });
    await addToCart(db, k1, [{ sku: 'P2', quantity: '1' }]);
    const heads = await checkout(db, k1, { delivery: 'other', address: 'Москва, ул. Лесная, 5', paymentKind: 'Безналичный расчёт', idempotencyKey: 'k1-order-1' });
    const seenBy = async (w: Shopper) => (await listOrders(db, { clientId: w.clientId, contactId: w.contactId }, { limit: 50 })).orders.map((o) => o.number);
    expect(await seenBy(k2)).toEqual([mine.order.number]);
    expect(await seenBy(k1)).toEqual(expect.arrayContaining([mine.order.number, heads.order.number]));
    expect(await orderDetails(db, { clientId: k2.clientId, contactId: k2.contactId }, heads.order.number)).toBeUndefined();
    const k3 = await shopper('K3', 'LE3');
    expect(await orderDetails(db, { clientId: k3.clientId, contactId: k3.contactId }, mine.order.number)).toBeUndefined();
    expect((await refused(repeatOrder(db, k3, mine.order.number))).message).toBe(`Заказ ${mine.order.number} не найден`);
  });

  it('filters the list by number, origin, status and period', async () => {
    const k1 = await shopper('K1', 'LE1');
    const viewer = { clientId: k1.clientId, contactId: k1.contactId };
    const all = (await listOrders(db, viewer, { limit: 50 })).orders;
    const one = all[0]!;
    expect((await listOrders(db, viewer, { limit: 50, number: one.number.slice(-3) })).orders.map((o) => o.number)).toContain(one.number);
    expect((await listOrders(db, viewer, { limit: 50, origin: 'offline' })).orders).toEqual([]);
    expect((await listOrders(db, viewer, { limit: 50, origin: 'portal' })).orders).toHaveLength(all.length);
    const today = new Date().toISOString().slice(0, 10);
    expect((await listOrders(db, viewer, { limit: 50, from: today, to: today })).orders).toHaveLength(all.length);
    expect((await listOrders(db, viewer, { limit: 50, to: '2020-01-01' })).orders).toEqual([]);
    expect((await listOrders(db, viewer, { limit: 50, status: 'shipped' })).orders).toEqual([]);
    await expect(listOrders(db, viewer, { limit: 50, from: '2024-02-30' })).rejects.toThrow('from is not a date YYYY-MM-DD');
  });

  it('repeat order puts the lines into the cart at current prices and reports removed products', async () => {
    const k1 = await shopper('K1', 'LE2');
    const number = (await listOrders(db, { clientId: k1.clientId, contactId: k1.contactId }, { limit: 50, legalEntity: 'LE2' })).orders[0]!.number;
    await sql`UPDATE products SET deleted = true WHERE code = 'P1'`.execute(db);
    try {
      const r = await repeatOrder(db, k1, number);
      expect(r.problems).toEqual([{ field: 'lines[1]', message: 'P1: такого товара нет в каталоге' }]);
      expect(r.added).toEqual([{ sku: 'P2', name: 'Автомат 16А', quantity: '3' }]);
      expect((await cartView(db, k1)).lines.map((l) => [l.sku, l.quantity, l.price])).toEqual([['P2', '3', '19.39']]);
    } finally {
      await sql`UPDATE products SET deleted = false WHERE code = 'P1'`.execute(db);
      await clearCart(db, k1);
    }
  });

  it('a blocked or pending client cannot check out, told why in Russian', async () => {
    const who = await shopper('K3', 'LE3');
    await addToCart(db, who, [{ sku: 'P1', quantity: '1' }]);
    const input = { delivery: 'other', address: 'Санкт-Петербург, Литейный, 10', paymentKind: 'Безналичный расчёт', idempotencyKey: 'blocked-1' };
    try {
      await sql`UPDATE clients SET blocked = true WHERE code = 'C2'`.execute(db);
      expect(await refused(checkout(db, who, input))).toMatchObject({ status: 403, message: 'Оформление заказов для вашей компании приостановлено — свяжитесь с вашим менеджером' });
      await sql`UPDATE clients SET blocked = false, pending = true WHERE code = 'C2'`.execute(db);
      expect((await refused(checkout(db, who, input))).message).toMatch(/^Ваша компания ещё не подтверждена менеджером/);
    } finally {
      await sql`UPDATE clients SET blocked = false, pending = false WHERE code = 'C2'`.execute(db);
    }
    expect((await cartSummary(db, who)).lines).toBe(1);
    await clearCart(db, who);
  });
});
