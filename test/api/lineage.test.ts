// GET /admin/api/lineage on a real store: a price's history page by page, a product's live values, the
// query validated, and a clear 404 for a code nobody knows. The body is the service's result field for
// field (the route's response schema drops what it does not describe: a field added to one only fails here).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lineageHistory, lineageOverview } from '../../src/pipeline/lineage.ts';
import { seedPriceHistory, type SeededHistory } from '../helpers/lineage.ts';
import { apiFixture, type ApiFixture } from './api-fixture.ts';

let fx: ApiFixture;
let seeded: SeededHistory;

beforeAll(async () => {
  fx = await apiFixture('lineage-api');
  seeded = await seedPriceHistory(fx.db.pool, { product: 'SKU-1', priceType: 'retail', changes: 120, noiseProducts: 3 });
});
afterAll(async () => { await fx?.close(); });

const get = (query: string) => fx.app.inject({ method: 'GET', url: `/admin/api/lineage?${query}`, headers: fx.auth });
const asJson = (x: unknown): unknown => JSON.parse(JSON.stringify(x));

describe('lineage admin API', () => {
  it('answers a price\'s history newest first, page by page, as the service gives it', async () => {
    const res = await get('product=SKU-1&priceType=retail&limit=50');
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body).toEqual(asJson(await lineageHistory(fx.db.db, { product: 'SKU-1', priceType: 'retail', limit: 50 })));
    expect(body.current).toMatchObject({ value: '120.000000', currency: 'RUB', run: { id: seeded.runIds[119], flow: 'seeded-prices', loadPath: 'staged' } });
    expect(body.entries).toHaveLength(50);
    expect(body.entries[0]).toMatchObject({ op: 'update', oldValue: '119.000000', newValue: '120.000000', file: 'prices-120.csv', line: 121, path: null });
    let pages = 1;
    let before: string | null = body.nextBefore;
    let last = body;
    const values: string[] = body.entries.map((e: { newValue: string }) => e.newValue);
    while (before) {
      const r = await get(`product=SKU-1&priceType=retail&limit=50&before=${before}`);
      expect(r.statusCode, r.body).toBe(200);
      last = r.json();
      values.push(...last.entries.map((e: { newValue: string }) => e.newValue));
      before = last.nextBefore;
      pages++;
    }
    expect(pages).toBe(3);
    expect(values).toEqual(Array.from({ length: 120 }, (_, i) => `${120 - i}.000000`));
    expect(last.entries.at(-1)).toMatchObject({ op: 'insert', oldValue: null, newValue: '1.000000', file: 'prices-1.csv', line: 2 });
    expect(last.origin).toBeNull();
  });

  it('lists every live value of a product without a price type or warehouse', async () => {
    const res = await get('product=SKU-1');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual(asJson(await lineageOverview(fx.db.db, 'SKU-1')));
    expect(res.json()).toMatchObject({ product: { code: 'SKU-1' }, prices: [{ priceType: { code: 'retail' }, value: '120.000000' }], stock: [] });
  });

  it('answers 404 naming how an unknown product or price type was looked up', async () => {
    const res = await get('product=NOPE&priceType=retail');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ code: 'MAG_ERR_NOT_FOUND', message: 'product NOPE not found (looked up by code and external id)' });
    const pt = await get('product=SKU-1&warehouse=nowhere');
    expect(pt.statusCode).toBe(404);
    expect(pt.json().message).toBe('warehouse nowhere not found (looked up by code and external id)');
  });

  it('names the candidates rather than pick one when a code matches several products', async () => {
    // SKU-1-noise-1 is also known to SAP under the code of another product.
    await fx.db.pool.query(`INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT 'product', 'sap', 'SKU-1', id FROM products WHERE code = 'SKU-1-noise-1'`);
    const res = await get('product=SKU-1&priceType=retail');
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/^product SKU-1 is ambiguous: 2 match by code or external id \(#\d+ SKU-1 \(SKU-1\), #\d+ SKU-1-noise-1 \(SKU-1-noise-1\)\)/);
    await fx.db.pool.query(`DELETE FROM external_ids WHERE system = 'sap'`);
  });

  it('refuses a bad query with the field and rule', async () => {
    const noProduct = await get('priceType=retail');
    expect(noProduct.statusCode).toBe(400);
    expect(noProduct.json()).toMatchObject({ code: 'MAG_ERR_BAD_REQUEST', problems: [{ path: '/querystring/product', rule: 'required' }] });
    const limit = await get('product=SKU-1&priceType=retail&limit=501');
    expect(limit.json()).toMatchObject({ code: 'MAG_ERR_BAD_REQUEST', problems: [{ path: '/querystring/limit', rule: 'maximum' }] });
    const cursor = await get('product=SKU-1&priceType=retail&before=yesterday');
    expect(cursor.json()).toMatchObject({ code: 'MAG_ERR_BAD_REQUEST', problems: [{ path: '/querystring/before', rule: 'pattern' }] });
    const both = await get('product=SKU-1&priceType=retail&warehouse=main');
    expect(both.statusCode).toBe(400);
    expect(both.json().message).toMatch(/a price type or a warehouse/);
  });

  it('needs the admin token', async () => {
    const res = await fx.app.inject({ method: 'GET', url: '/admin/api/lineage?product=SKU-1' });
    expect(res.statusCode).toBe(401);
  });
});
