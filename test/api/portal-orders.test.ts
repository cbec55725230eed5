// Orders through /api/v1 on a store built by the real pipeline: prices resolved server-side (never
// from the request), exact totals, per-line errors, idempotency, reservations without touching stock,
// listing with cursor and filters, and another client's or contact's orders hidden (404).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyOrderChange } from '../../src/orders/index.ts';
import { stockPicture } from '../helpers/pipeline.ts';
import { portalFixture, type PortalFixture } from './portal-fixture.ts';

let fx: PortalFixture;
beforeAll(async () => { fx = await portalFixture('porders'); }, 120_000);
afterAll(async () => { await fx?.close(); });

const as = (client?: string, contact?: string): Record<string, string> => ({
  ...(client ? { 'x-client-id': client } : {}), ...(contact ? { 'x-contact-id': contact } : {}),
});

describe('placing an order', () => {
  it('prices lines from the agreement of the legal entity, with exact amounts and total', async () => {
    const stockBefore = await stockPicture(fx.tp);
    const res = await fx.call('POST', '/api/v1/orders', {
      headers: as('C1', 'K1'),
      body: { legalEntity: 'LE2', lines: [{ sku: 'P2', quantity: 3 }, { sku: 'P3', quantity: '2' }, { sku: 'P1', quantity: '0.333' }], comment: 'к пятнице' },
    });
    expect(res.statusCode, res.body).toBe(201);
    const order = res.json();
    // LE2 buys at dealer −3 %: P2 19.99 → 19.39 × 3 = 58.17; P3 1.005 → 0.97 × 2 = 1.94; P1 80 → 77.60 × 0.333 = 25.8408 → 25.84
    expect(order).toMatchObject({
      number: expect.stringMatching(/^M-\d{6}$/), status: { code: 'new', name: 'Новый', final: false },
      legalEntity: { code: 'LE2', inn: '7810001238' }, contact: 'K1', agreement: 'A1-LE2', priceType: 'dealer', city: 'msk', currency: 'RUB',
      total: '85.95', comment: 'к пятнице', paid: false, shipped: false, cancelled: false, origin: 'portal', deliveryAddress: null, paymentKind: null,
    });
    expect(order.lines).toEqual([
      { lineNo: 1, sku: 'P2', name: 'Автомат 16А', quantity: '3', unit: 'pcs', price: '19.39', basePrice: '19.99', discountPercent: '3', amount: '58.17' },
      { lineNo: 2, sku: 'P3', name: 'Лампа 10 Вт', quantity: '2', unit: 'pcs', price: '0.97', basePrice: '1.005', discountPercent: '3', amount: '1.94' },
      { lineNo: 3, sku: 'P1', name: 'Кабель ВВГнг 3x2,5', quantity: '0.333', unit: 'm', price: '77.60', basePrice: '80.00', discountPercent: '3', amount: '25.84' },
    ]);
    // Reservations recorded against the city's best-stocked warehouse; stock itself untouched.
    const r = await fx.tp.rt.pool.query(`
      SELECT r.line_no, w.code AS wh, r.quantity::text FROM reservations r JOIN orders o ON o.id = r.order_id
      LEFT JOIN warehouses w ON w.id = r.warehouse_id WHERE o.number = $1 ORDER BY r.line_no`, [order.number]);
    expect(r.rows).toEqual([
      { line_no: 1, wh: null, quantity: '3.000000' }, { line_no: 2, wh: 'W-MSK-1', quantity: '2.000000' }, { line_no: 3, wh: 'W-MSK-1', quantity: '0.333000' },
    ]);
    expect(await stockPicture(fx.tp)).toEqual(stockBefore);
  });

  it('another legal entity of the same client buys at the client-wide agreement', async () => {
    const res = await fx.call('POST', '/api/v1/orders', { headers: as('C1'), body: { legalEntity: 'LE1', lines: [{ sku: 'P2', quantity: 2 }] } });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ priceType: 'wholesale', agreement: 'A1', total: '35.00', lines: [{ price: '17.50', amount: '35.00' }] });
  });

  it('refuses a price in the request: prices are never taken from the client', async () => {
    const res = await fx.call('POST', '/api/v1/orders', { headers: as('C1'), body: { legalEntity: 'LE1', lines: [{ sku: 'P2', quantity: 1, price: '0.01' }] } });
    expect(res.statusCode).toBe(400);
    expect(res.json().problems).toEqual([{ path: '/body/lines/0/price', rule: 'additionalProperties', message: 'is not an accepted property' }]);
    const n = await fx.tp.rt.pool.query(`SELECT count(*)::int AS n FROM order_lines WHERE price < 1`);
    expect(n.rows[0].n).toBe(1); // only P3 of the first order (0.97)
  });

  it('lists every line with an unknown SKU or no price and places nothing', async () => {
    const before = (await fx.tp.rt.pool.query(`SELECT count(*)::int AS n FROM orders`)).rows[0].n;
    const res = await fx.call('POST', '/api/v1/orders', {
      headers: as('C3'), body: { legalEntity: 'LE4', lines: [{ sku: 'P1', quantity: 1 }, { sku: 'NOPE', quantity: 1 }, { sku: 'P5', quantity: 1 }, { sku: 'P-DEL', quantity: 1 }] },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().problems).toEqual([
      { path: '/body/lines/1/sku', rule: 'unknown-sku', message: "no product with SKU 'NOPE'" },
      { path: '/body/lines/2/sku', rule: 'no-price', message: "SKU 'P5' has no price for you: it is not on sale" },
      { path: '/body/lines/3/sku', rule: 'unknown-sku', message: "no product with SKU 'P-DEL'" },
    ]);
    expect((await fx.tp.rt.pool.query(`SELECT count(*)::int AS n FROM orders`)).rows[0].n).toBe(before);
  });

  it('rejects bad quantities with their paths', async () => {
    const res = await fx.call('POST', '/api/v1/orders', { headers: as('C3'), body: { legalEntity: 'LE4', lines: [{ sku: 'P1', quantity: -1 }, { sku: 'P1', quantity: '0' }] } });
    expect(res.statusCode).toBe(400);
    expect(res.json().problems.map((p: { path: string }) => p.path)).toEqual(['/body/lines/0/quantity']);
    const zero = await fx.call('POST', '/api/v1/orders', { headers: as('C3'), body: { legalEntity: 'LE4', lines: [{ sku: 'P1', quantity: '0.000' }] } });
    expect(zero.statusCode).toBe(400);
    expect(zero.json().problems).toEqual([{ path: '/body/lines/0/quantity', rule: 'quantity', message: expect.stringContaining('positive') }]);
  });

  it('refuses a fractional quantity of a product sold in pieces; metres take fractions, 2.000 pieces are whole', async () => {
    const before = (await fx.tp.rt.pool.query(`SELECT count(*)::int AS n FROM orders`)).rows[0].n;
    const res = await fx.call('POST', '/api/v1/orders', {
      headers: as('C3'), body: { legalEntity: 'LE4', lines: [{ sku: 'P1', quantity: '1.5' }, { sku: 'P2', quantity: '1.5' }, { sku: 'P3', quantity: '0.5' }] },
    });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().problems).toEqual([
      { path: '/body/lines/1/quantity', rule: 'whole-pieces', message: "SKU 'P2' is sold in whole pieces (unit 'pcs'): 1.5 is not a whole number" },
      { path: '/body/lines/2/quantity', rule: 'whole-pieces', message: "SKU 'P3' is sold in whole pieces (unit 'pcs'): 0.5 is not a whole number" },
    ]);
    expect((await fx.tp.rt.pool.query(`SELECT count(*)::int AS n FROM orders`)).rows[0].n).toBe(before);
    const ok = await fx.call('POST', '/api/v1/orders', { headers: as('C3'), body: { legalEntity: 'LE4', lines: [{ sku: 'P1', quantity: '1.5' }, { sku: 'P2', quantity: '2.000' }] } });
    expect(ok.statusCode, ok.body).toBe(201);
    expect(ok.json().lines.map((l: { quantity: string }) => l.quantity)).toEqual(['1.5', '2']);
  });

  it("another client's legal entity, or one the contact is not linked to, is not found", async () => {
    for (const [headers, le] of [[as('C1'), 'LE3'], [as('C2', 'K3'), 'LE1'], [as('C1', 'K2'), 'LE2']] as const) {
      const res = await fx.call('POST', '/api/v1/orders', { headers, body: { legalEntity: le, lines: [{ sku: 'P1', quantity: 1 }] } });
      expect(res.statusCode, `${JSON.stringify(headers)} ${le}`).toBe(404);
    }
  });

  it('a client registered on the portal and not yet approved cannot order (403), and can once approved', async () => {
    await fx.tp.rt.pool.query(`UPDATE clients SET pending = true WHERE code = 'C3'`);
    try {
      const res = await fx.call('POST', '/api/v1/orders', { headers: as('C3'), body: { legalEntity: 'LE4', lines: [{ sku: 'P1', quantity: 1 }] } });
      expect(res.statusCode).toBe(403);
      expect(res.json().message).toMatch(/awaits approval/);
    } finally {
      await fx.tp.rt.pool.query(`UPDATE clients SET pending = false WHERE code = 'C3'`);
    }
    const ok = await fx.call('POST', '/api/v1/orders', { headers: as('C3'), body: { legalEntity: 'LE4', lines: [{ sku: 'P1', quantity: 1 }] } });
    expect(ok.statusCode).toBe(201);
  });

  it('needs a client and the orders:write scope', async () => {
    const anon = await fx.call('POST', '/api/v1/orders', { body: { legalEntity: 'LE1', lines: [{ sku: 'P1', quantity: 1 }] } });
    expect(anon.statusCode).toBe(403);
    const readOnly = await fx.makeKey({ scopes: ['orders:read'] });
    const res = await fx.call('POST', '/api/v1/orders', { key: readOnly, headers: as('C1'), body: { legalEntity: 'LE1', lines: [{ sku: 'P1', quantity: 1 }] } });
    expect(res.statusCode).toBe(403);
    expect(res.json().message).toBe("this API key lacks the scope 'orders:write'");
  });

  it('an Idempotency-Key makes a retry answer the same order; reusing it for another order conflicts', async () => {
    const body = { legalEntity: 'LE5', lines: [{ sku: 'P1', quantity: 2 }] };
    const first = await fx.call('POST', '/api/v1/orders', { headers: { ...as('C4'), 'idempotency-key': 'k-1' }, body });
    expect(first.statusCode, first.body).toBe(201);
    const again = await fx.call('POST', '/api/v1/orders', { headers: { ...as('C4'), 'idempotency-key': 'k-1' }, body });
    expect(again.statusCode).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json().number).toBe(first.json().number);
    const other = await fx.call('POST', '/api/v1/orders', { headers: { ...as('C4'), 'idempotency-key': 'k-1' }, body: { ...body, lines: [{ sku: 'P1', quantity: 3 }] } });
    expect(other.statusCode).toBe(409);
    expect(other.json().code).toBe('MAG_ERR_CONFLICT');
    // Concurrent retries with one key still make one order.
    const many = await Promise.all(Array.from({ length: 5 }, () => fx.call('POST', '/api/v1/orders', { headers: { ...as('C4'), 'idempotency-key': 'k-2' }, body })));
    expect(new Set(many.map((r) => r.json().number)).size).toBe(1);
    expect(many.map((r) => r.statusCode).sort()).toEqual([200, 200, 200, 200, 201]);
  });
});

describe('reading orders', () => {
  let c1Orders: string[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 3; i++) {
      const res = await fx.call('POST', '/api/v1/orders', { headers: as('C1', 'K2'), body: { legalEntity: 'LE1', lines: [{ sku: 'P3', quantity: i + 1 }] } });
      expect(res.statusCode, res.body).toBe(201);
    }
    const list = await fx.call('GET', '/api/v1/orders?limit=100', { headers: as('C1') });
    c1Orders = list.json().orders.map((o: { number: string }) => o.number);
  });

  it('pages newest first with a cursor', async () => {
    expect(c1Orders.length).toBe(5);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await fx.call('GET', `/api/v1/orders?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { headers: as('C1') });
      expect(res.statusCode, res.body).toBe(200);
      seen.push(...res.json().orders.map((o: { number: string }) => o.number));
      cursor = res.json().nextCursor;
    } while (cursor);
    expect(seen).toEqual(c1Orders);
    expect([...c1Orders].sort().reverse()).toEqual(c1Orders);
    const bad = await fx.call('GET', '/api/v1/orders?cursor=garbage', { headers: as('C1') });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().problems[0].path).toBe('/querystring/cursor');
  });

  it('filters by status and legal entity', async () => {
    const [newest] = c1Orders;
    expect(await applyOrderChange(fx.tp.rt.db, { number: newest }, { status: 'accepted', erpNumber: 'ЗК-001' }, 'test')).toEqual({ found: true, changed: ['status', 'erpNumber'] });
    const accepted = (await fx.call('GET', '/api/v1/orders?status=accepted', { headers: as('C1') })).json();
    expect(accepted.orders.map((o: { number: string }) => o.number)).toEqual([newest]);
    expect(accepted.orders[0]).toMatchObject({ status: { code: 'accepted', name: 'Принят' }, erpNumber: 'ЗК-001' });
    const le2 = (await fx.call('GET', '/api/v1/orders?legalEntity=LE2', { headers: as('C1') })).json();
    expect(le2.orders).toHaveLength(1);
  });

  it('a head sees the orders of its legal entities; a subordinate only its own (another\'s: 403, issue 14)', async () => {
    const head = (await fx.call('GET', '/api/v1/orders?limit=100', { headers: as('C1', 'K1') })).json().orders;
    expect(head).toHaveLength(5);
    const sub = (await fx.call('GET', '/api/v1/orders?limit=100', { headers: as('C1', 'K2') })).json().orders;
    expect(sub).toHaveLength(3);
    expect(sub.every((o: { contact: string }) => o.contact === 'K2')).toBe(true);
    const someoneElses = c1Orders.find((n) => !sub.some((o: { number: string }) => o.number === n))!;
    // Issue 14: a subordinate asking for another contact's order of its client is refused (403, audited), not told it is absent.
    expect((await fx.call('GET', `/api/v1/orders/${someoneElses}`, { headers: as('C1', 'K2') })).statusCode).toBe(403);
    expect((await fx.call('GET', `/api/v1/orders/${someoneElses}`, { headers: as('C1', 'K1') })).statusCode).toBe(200);
  });

  it("another client's order is 404, never its data", async () => {
    const [n] = c1Orders;
    const own = await fx.call('GET', `/api/v1/orders/${n}`, { headers: as('C1') });
    expect(own.statusCode).toBe(200);
    expect(own.json().lines.length).toBeGreaterThan(0);
    for (const headers of [as('C2'), as('C2', 'K3')]) {
      const res = await fx.call('GET', `/api/v1/orders/${n}`, { headers });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({ code: 'MAG_ERR_NOT_FOUND', message: `no order ${n}` });
    }
    const bound = await fx.makeKey({ client: 'C2', scopes: ['orders:read'] });
    expect((await fx.call('GET', `/api/v1/orders/${n}`, { key: bound })).statusCode).toBe(404);
    expect((await fx.call('GET', '/api/v1/orders', { key: bound })).json().orders).toEqual([]);
  });

  it('lists the order statuses', async () => {
    const res = await fx.call('GET', '/api/v1/order-statuses');
    expect(res.json().statuses.map((s: { code: string }) => s.code)).toEqual(['new', 'accepted', 'confirmed', 'in_work', 'shipped', 'completed', 'cancelled']);
  });
});

describe('applyOrderChange (the contract of the 1C sale exchange)', () => {
  it('changes only what differs, bumps updated_at then, and keeps history', async () => {
    const res = await fx.call('POST', '/api/v1/orders', { headers: as('C3'), body: { legalEntity: 'LE4', lines: [{ sku: 'P1', quantity: 1 }] } });
    const number = res.json().number as string;
    const db = fx.tp.rt.db;
    const at = async () => (await db.selectFrom('orders').select('updated_at').where('number', '=', number).executeTakeFirstOrThrow()).updated_at.getTime();
    const t0 = await at();
    const paidAt = new Date('2026-03-01T10:00:00Z');
    expect(await applyOrderChange(db, { number }, { status: 'shipped', paid: true, paidAt, shipped: true }, 'onec-sale'))
      .toEqual({ found: true, changed: ['status', 'paid', 'paidAt', 'shipped', 'shippedAt'] });
    const t1 = await at();
    expect(t1).toBeGreaterThan(t0);
    expect(await applyOrderChange(db, { number }, { status: 'shipped', paid: true, paidAt }, 'onec-sale')).toEqual({ found: true, changed: [] });
    expect(await at()).toBe(t1);
    expect(await applyOrderChange(db, { number: 'M-999999' }, { status: 'shipped' }, 'onec-sale')).toEqual({ found: false, changed: [] });
    await expect(applyOrderChange(db, { number }, { status: 'lost' }, 'onec-sale')).rejects.toThrow("unknown order status 'lost'");
    const events = await db.selectFrom('order_events as e').innerJoin('orders as o', 'o.id', 'e.order_id').select(['e.source', 'e.change'])
      .where('o.number', '=', number).orderBy('e.id').execute();
    expect(events.map((e) => e.source)).toEqual(['portal', 'onec-sale']);
    expect(events[1]!.change).toMatchObject({ status: { from: 'new', to: 'shipped' }, paid: { from: false, to: true } });
    const view = (await fx.call('GET', `/api/v1/orders/${number}`, { headers: as('C3') })).json();
    expect(view).toMatchObject({ status: { code: 'shipped', name: 'Отгружен' }, paid: true, paidAt: '2026-03-01T10:00:00.000Z', shipped: true });
  });
});
