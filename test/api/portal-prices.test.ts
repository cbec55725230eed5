// Prices and stock for a client on a store built through the real pipeline: the resolution order
// (agreement's price type → its discount → the city's price type), exact decimals, batches with
// unknown SKUs, and another client's identity refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portalFixture, type PortalFixture } from './portal-fixture.ts';

let fx: PortalFixture;
beforeAll(async () => { fx = await portalFixture('pprices'); }, 120_000);
afterAll(async () => { await fx?.close(); });

const as = (client?: string, contact?: string, city?: string): Record<string, string> => ({
  ...(client ? { 'x-client-id': client } : {}), ...(contact ? { 'x-contact-id': contact } : {}), ...(city ? { 'x-city': city } : {}),
});

describe('price resolution', () => {
  it("uses the agreement's price type", async () => {
    const res = await fx.call('GET', '/api/v1/prices/P1', { headers: as('C1') });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({
      sku: 'P1', name: 'Кабель ВВГнг 3x2,5', price: '90.00', basePrice: '90.00', discountPercent: '0', currency: 'RUB', unit: 'm',
      priceType: 'wholesale', source: 'agreement', tiers: null, validFrom: null, validUntil: null,
    });
  });

  it("applies the agreement's discount to its price type, rounding half up to kopecks", async () => {
    const res = await fx.call('GET', '/api/v1/prices/P2', { headers: as('C4') });
    // 19.99 × 0.975 = 19.49025
    expect(res.json()).toMatchObject({ price: '19.49', basePrice: '19.99', discountPercent: '2.5', priceType: 'dealer', source: 'agreement' });
  });

  it("applies a discount-only agreement to the city's price type", async () => {
    const res = await fx.call('GET', '/api/v1/prices/P1', { headers: as('C2') });
    // 105.50 × 0.95 = 100.225 → 100.23
    expect(res.json()).toMatchObject({ price: '100.23', basePrice: '105.50', discountPercent: '5', priceType: 'retail-spb', source: 'city' });
  });

  it("falls back to the client's city price type without an agreement", async () => {
    const res = await fx.call('GET', '/api/v1/prices/P1', { headers: as('C3') });
    expect(res.json()).toMatchObject({ price: '100.00', discountPercent: '0', priceType: 'retail-msk', source: 'city' });
  });

  it('answers anonymous requests with the price type of the requested city', async () => {
    expect((await fx.call('GET', '/api/v1/prices/P1?city=spb')).json()).toMatchObject({ price: '105.50', priceType: 'retail-spb', source: 'city' });
    expect((await fx.call('GET', '/api/v1/prices/P1', { headers: { 'x-city': 'msk' } })).json()).toMatchObject({ price: '100.00', priceType: 'retail-msk' });
    // A city with no price type has nothing on sale.
    const none = await fx.call('GET', '/api/v1/prices/P1?city=nsk');
    expect(none.statusCode).toBe(404);
    expect(none.json().code).toBe('MAG_ERR_NOT_FOUND');
  });

  it('keeps decimals exact: never through floats', async () => {
    // 1.005 is 1.00499999… as a double: a float would round it down.
    expect((await fx.call('GET', '/api/v1/prices/P3?city=msk')).json()).toMatchObject({ price: '1.01', basePrice: '1.005' });
    const big = (await fx.call('GET', '/api/v1/prices/P4?city=msk')).json();
    expect(big).toMatchObject({ price: '123456789012.35', basePrice: '123456789012.345678' });
    // 123456789012.345678 × 0.975 = 120370369287.03703605 → .04
    expect((await fx.call('GET', '/api/v1/prices/P4', { headers: as('C4') })).json()).toMatchObject({ price: '120370369287.04' });
  });

  it('a per-legal-entity agreement does not leak into the client-wide pricing', async () => {
    // C1 has A1 (client-wide, wholesale) and A1-LE2 (LE2 only, dealer −3 %): the client-wide one applies here.
    expect((await fx.call('GET', '/api/v1/prices/P2', { headers: as('C1') })).json()).toMatchObject({ price: '17.50', priceType: 'wholesale' });
  });
});

describe('a resolved context is reused only while it holds', () => {
  // The one-product price keeps the context it resolved per key, client and city (ContextCache) and
  // checks the context version in the same snapshot as the price: a change shows from the next request.
  it('a changed agreement prices the next request', async () => {
    const price = async () => (await fx.call('GET', '/api/v1/prices/P1', { headers: as('C2') })).json().price;
    expect(await price()).toBe('100.23');
    expect(await price()).toBe('100.23'); // the cached context
    const pool = fx.tp.rt.pool;
    await pool.query(`UPDATE agreements SET discount_percent = 10 WHERE code = 'A2'`);
    try {
      // 105.50 × 0.90 = 94.95
      expect(await price()).toBe('94.95');
    } finally {
      await pool.query(`UPDATE agreements SET discount_percent = 5 WHERE code = 'A2'`);
    }
    expect(await price()).toBe('100.23');
  });

  it('a moved client is priced in its new city; a deleted contact no longer acts', async () => {
    const pool = fx.tp.rt.pool;
    const c3 = async () => (await fx.call('GET', '/api/v1/prices/P1', { headers: as('C3') })).json();
    expect(await c3()).toMatchObject({ priceType: 'retail-msk' });
    await pool.query(`UPDATE clients SET city_id = (SELECT id FROM cities WHERE code = 'spb') WHERE code = 'C3'`);
    try {
      expect(await c3()).toMatchObject({ price: '105.50', priceType: 'retail-spb' });
    } finally {
      await pool.query(`UPDATE clients SET city_id = (SELECT id FROM cities WHERE code = 'msk') WHERE code = 'C3'`);
    }
    expect((await fx.call('GET', '/api/v1/prices/P1', { headers: as(undefined, 'K5') })).statusCode).toBe(200);
    await pool.query(`UPDATE contacts SET deleted = true WHERE code = 'K5'`);
    try {
      expect((await fx.call('GET', '/api/v1/prices/P1', { headers: as(undefined, 'K5') })).statusCode).toBe(404);
    } finally {
      await pool.query(`UPDATE contacts SET deleted = false WHERE code = 'K5'`);
    }
  });
});

describe('unknown, deleted and unpriced products', () => {
  it('404 for an unknown SKU, a deleted product and a zero price', async () => {
    for (const sku of ['NOPE', 'P-DEL', 'P5']) {
      const res = await fx.call('GET', `/api/v1/prices/${sku}?city=msk`);
      expect(res.statusCode, sku).toBe(404);
    }
    expect((await fx.call('GET', '/api/v1/prices/NOPE?city=msk')).json().message).toBe("no product with SKU 'NOPE'");
    expect((await fx.call('GET', '/api/v1/prices/P5?city=msk')).json().message).toMatch(/no price/);
  });

  it('a batch answers every line in order and reports the bad ones on their own', async () => {
    const res = await fx.call('POST', '/api/v1/prices/batch', { headers: as('C4'), body: { skus: ['P1', 'NOPE', 'P3', 'P5', 'P1'] } });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.found).toBe(3);
    expect(body.missing).toBe(2);
    expect(body.items.map((i: { line: number; sku: string; price?: string; error?: { code: string } }) => [i.line, i.sku, i.price ?? i.error?.code])).toEqual([
      [0, 'P1', '78.00'], [1, 'NOPE', 'unknown-sku'], [2, 'P3', '0.98'], [3, 'P5', 'no-price'], [4, 'P1', '78.00'],
    ]);
  });

  it('a batch of 1,000 SKUs is answered; 1,001 is refused with the path and rule', async () => {
    const skus = Array.from({ length: 1000 }, (_, i) => (i % 2 ? 'P2' : `X-${i}`));
    const res = await fx.call('POST', '/api/v1/prices/batch?city=msk', { body: { skus } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ found: 500, missing: 500 });
    const over = await fx.call('POST', '/api/v1/prices/batch?city=msk', { body: { skus: [...skus, 'P1'] } });
    expect(over.statusCode).toBe(400);
    expect(over.json().problems).toEqual([{ path: '/body/skus', rule: 'maxItems', message: 'must NOT have more than 1000 items' }]);
  });
});

describe('acting for a client', () => {
  it('a contact acts for its own client', async () => {
    expect((await fx.call('GET', '/api/v1/prices/P1', { headers: as(undefined, 'K3') })).json()).toMatchObject({ price: '100.23', source: 'city' });
    expect((await fx.call('GET', '/api/v1/prices/P1', { headers: as('C1', 'K1') })).json()).toMatchObject({ price: '90.00' });
  });

  it("another client's contact is not found, never priced", async () => {
    const res = await fx.call('GET', '/api/v1/prices/P1', { headers: as('C1', 'K3') });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ code: 'MAG_ERR_NOT_FOUND', message: "no contact 'K3' of this client" });
  });

  it('a key bound to a client cannot act for another client or its contacts', async () => {
    const own = await fx.makeKey({ client: 'C1', scopes: ['prices:read'] });
    expect((await fx.call('GET', '/api/v1/prices/P1', { key: own })).json()).toMatchObject({ price: '90.00', priceType: 'wholesale' });
    expect((await fx.call('GET', '/api/v1/prices/P1', { key: own, headers: as(undefined, 'K2') })).statusCode).toBe(200);
    for (const headers of [as('C2'), as(undefined, 'K3'), as('C404')]) {
      const res = await fx.call('GET', '/api/v1/prices/P1', { key: own, headers });
      expect(res.statusCode, JSON.stringify(headers)).toBe(404);
      expect(res.body).not.toMatch(/105|100\.23/);
    }
  });

  it('an unknown city is a bad request naming where it came from', async () => {
    const q = await fx.call('GET', '/api/v1/prices/P1?city=xxx');
    expect(q.statusCode).toBe(400);
    expect(q.json().problems).toEqual([{ path: '/querystring/city', rule: 'city', message: "'xxx' is not a city code" }]);
    expect((await fx.call('GET', '/api/v1/prices/P1', { headers: { 'x-city': 'xxx' } })).json().problems[0].path).toBe('/headers/x-city');
  });
});

describe('stock', () => {
  it('per warehouse with totals per city, the request city and overall, exact', async () => {
    const res = await fx.call('GET', '/api/v1/stock/P1', { headers: as('C3') });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({
      sku: 'P1', name: 'Кабель ВВГнг 3x2,5', unit: 'm', total: '20.5', inCity: '12.5',
      warehouses: [
        { code: 'W-MSK-1', name: 'Москва 1', city: 'msk', quantity: '10.5' },
        { code: 'W-MSK-2', name: 'Москва 2', city: 'msk', quantity: '2' },
        { code: 'W-SPB', name: 'Петербург', city: 'spb', quantity: '7' },
        { code: 'W-TRANSIT', name: 'Транзит', city: null, quantity: '1' },
      ],
      cities: [{ code: 'msk', name: 'Москва', quantity: '12.5' }, { code: 'spb', name: 'Санкт-Петербург', quantity: '7' }],
    });
  });

  it('a batch answers each line: stock, nothing in stock, or unknown SKU', async () => {
    const res = await fx.call('POST', '/api/v1/stock/batch?city=spb', { body: { skus: ['P2', 'P4', 'NOPE'] } });
    expect(res.statusCode, res.body).toBe(200);
    const [p2, p4, nope] = res.json().items;
    expect(p2).toMatchObject({ line: 0, sku: 'P2', total: '3', inCity: '3', warehouses: [{ code: 'W-SPB', quantity: '3' }] });
    expect(p4).toMatchObject({ line: 1, sku: 'P4', total: '0', inCity: '0', warehouses: [], cities: [] });
    expect(nope).toEqual({ line: 2, sku: 'NOPE', error: { code: 'unknown-sku', message: "no product with SKU 'NOPE'" } });
  });

  it('404 for an unknown SKU', async () => {
    expect((await fx.call('GET', '/api/v1/stock/NOPE')).statusCode).toBe(404);
  });
});
