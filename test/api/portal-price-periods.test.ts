// Prices with validity and quantity tiers (SAP condition records, or any source with valid_from /
// valid_to), through the real pipeline and the portal API: a future-dated price shows the old price before
// its date and the new one after (the query's clock moves, `at=`, not the system's), the price roll puts
// a period in force on its day without another payload, deletions, tiers in answers and in order pricing,
// and a period that ends before it starts is rejected with its line while the rest lands.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csv } from '../helpers/pipeline.ts';
import { rollPrices } from '../../src/pipeline/price-roll.ts';
import { portalFixture, STORE, type PortalFixture } from './portal-fixture.ts';

// P3 in retail-msk belongs to the validity flow here, not to the plain price list.
const store = { ...STORE, prices: STORE.prices!.split('\n').filter((l) => !l.startsWith('P3;retail-msk')).join('\n') };
const HEAD = 'sku;price_type;price;currency;valid_from;valid_to;tiers;deleted';
// C3 (Светотехника) buys at its city's price type, retail-msk, without a discount.
const C3 = { 'x-client-id': 'C3' };

let fx: PortalFixture;
beforeAll(async () => {
  fx = await portalFixture('pperiods', store);
  await fx.tp.applyFlowFile('ops/flows/price-periods-csv.yaml');
}, 120_000);
afterAll(async () => { await fx?.close(); });

async function load(rows: string[]) {
  const run = await fx.tp.ingest('price-periods-csv', csv(HEAD, rows), 'periods.csv');
  expect(run.state, run.error?.message).toBe('done');
  return run;
}

const price = async (sku: string, at?: string) => {
  const res = await fx.call('GET', `/api/v1/prices/${sku}${at ? `?at=${encodeURIComponent(at)}` : ''}`, { headers: C3 });
  return res.statusCode === 200 ? res.json() as Record<string, unknown> : { status: res.statusCode, body: res.json() as unknown };
};

const live = async (sku: string) => (await fx.tp.db.pool.query(
  `SELECT x.value::text, x.valid_from, x.valid_until, x.tiers FROM prices x JOIN products p ON p.id = x.product_id
   JOIN price_types t ON t.id = x.price_type_id WHERE p.code = $1 AND t.code = 'retail-msk'`, [sku])).rows;

describe('prices with validity', () => {
  it('a future-dated price: the old one before its date, the new one after, by the query clock', async () => {
    await load(['P3;retail-msk;10;RUB;2020-01-01;2030-06-30;;', 'P3;retail-msk;12.5;RUB;2030-07-01;;;']);
    // In force now: the first period, up to the end of 30 June 2030 in Moscow.
    expect(await live('P3')).toEqual([{ value: '10.000000', valid_from: new Date('2019-12-31T21:00:00Z'), valid_until: new Date('2030-06-30T21:00:00Z'), tiers: null }]);
    expect(await price('P3')).toMatchObject({ price: '10.00', basePrice: '10.00', validUntil: '2030-06-30T21:00:00.000Z' });
    expect(await price('P3', '2030-06-30T23:59:59+03:00')).toMatchObject({ price: '10.00' });
    expect(await price('P3', '2030-07-01T00:00:00+03:00')).toMatchObject({ price: '12.50', validFrom: '2030-06-30T21:00:00.000Z', validUntil: null });
    // Before the first period began there was no price.
    expect(await price('P3', '2019-06-01T00:00:00Z')).toMatchObject({ status: 404 });
    // A batch at an instant, line by line.
    const batch = await fx.call('POST', `/api/v1/prices/batch?at=${encodeURIComponent('2030-07-01T00:00:00+03:00')}`, { headers: C3, body: { skus: ['P3', 'P1'] } });
    expect(batch.statusCode, batch.body).toBe(200);
    expect((batch.json() as { items: unknown[] }).items).toMatchObject([{ sku: 'P3', price: '12.50' }, { sku: 'P1', price: '100.00', validUntil: null }]);
  });

  it('the price roll puts a period in force on its day without another payload, with history', async () => {
    // A period beginning in a few seconds (an instant: a date would mean waiting for midnight).
    const soon = new Date(Date.now() + 5000);
    await load([`P3;retail-msk;11;RUB;${soon.toISOString()};;;`]);
    expect((await live('P3'))[0]).toMatchObject({ value: '10.000000' });
    expect(await price('P3')).toMatchObject({ price: '10.00' });
    await new Promise((r) => setTimeout(r, soon.getTime() - Date.now() + 100));
    // Before the roll the row in prices is still the old period, but its end is the new period's start:
    // the API sees that and answers the new period without waiting for the roll.
    expect((await live('P3'))[0]).toMatchObject({ value: '10.000000', valid_until: soon });
    expect(await price('P3')).toMatchObject({ price: '11.00' });
    const r = await rollPrices(fx.tp.rt.pool);
    expect(r.rolled).toBe(true);
    expect(r.counts).toMatchObject({ upd: 1 });
    expect((await live('P3'))[0]).toMatchObject({ value: '11.000000', valid_until: new Date('2030-06-30T21:00:00Z') });
    const hist = await fx.tp.db.pool.query(
      `SELECT h.op, h.old_value::text, h.new_value::text FROM price_history h JOIN products p ON p.id = h.product_id WHERE p.code = 'P3' ORDER BY h.at DESC LIMIT 1`);
    expect(hist.rows).toEqual([{ op: 'U', old_value: '10.000000', new_value: '11.000000' }]);
    // Rolling again changes nothing.
    expect((await rollPrices(fx.tp.rt.pool)).counts).toEqual({ ins: 0, upd: 0, del: 0 });
  });

  it('a deleted period goes; deleting the period in force removes the price until the next one', async () => {
    const soon = (await fx.tp.db.pool.query(`SELECT to_json(valid_from) #>> '{}' AS t FROM price_periods WHERE value = 11`)).rows[0].t as string;
    await load([`P3;retail-msk;0;RUB;${soon};;;yes`]);
    // The 10.00 period (to 30 June 2030) is in force again.
    expect((await live('P3'))[0]).toMatchObject({ value: '10.000000' });
    await load(['P3;retail-msk;0;RUB;2020-01-01;;;yes']);
    expect(await live('P3')).toEqual([]);
    expect(await price('P3')).toMatchObject({ status: 404 });
    expect(await price('P3', '2031-01-01T00:00:00Z')).toMatchObject({ price: '12.50' });
  });

  it('a period that ends before it starts is rejected with its line; the rest lands', async () => {
    const run = await load(['P3;retail-msk;9;RUB;2021-05-10;2021-05-01;;', 'P3;retail-msk;9.9;RUB;2021-01-01;;;']);
    expect(run.rows.rejected).toBe(1);
    const rej = await fx.tp.db.pool.query('SELECT line, field, rule, reason FROM rejects WHERE run_id = $1', [run.id]);
    expect(rej.rows).toEqual([{ line: 2, field: 'validTo', rule: 'validity', reason: 'validTo 2021-05-01 is before validFrom 2021-05-10: the price would never hold' }]);
    expect((await live('P3'))[0]).toMatchObject({ value: '9.900000' });
  });
});

describe('quantity tiers', () => {
  it('the API answers the tiers with the discount applied, and an order is priced by its quantity', async () => {
    // A later period (from 2022) than the 9.90 one (from 2021): it is the one in force.
    await load(['P3;retail-msk;10;RUB;2022-01-01;;10:9.5|100:9;']);
    expect(await price('P3')).toMatchObject({
      price: '10.00',
      tiers: [{ minQuantity: '10', price: '9.50', basePrice: '9.5' }, { minQuantity: '100', price: '9.00', basePrice: '9' }],
    });
    const res = await fx.call('POST', '/api/v1/orders', {
      headers: C3,
      body: { legalEntity: 'LE4', lines: [{ sku: 'P3', quantity: '5' }, { sku: 'P3', quantity: '12' }, { sku: 'P3', quantity: '100' }] },
    });
    expect(res.statusCode, res.body).toBe(201);
    const lines = (res.json() as { lines: Array<{ price: string; amount: string }> }).lines;
    expect(lines.map((l) => [l.price, l.amount])).toEqual([['10.00', '50.00'], ['9.50', '114.00'], ['9.00', '900.00']]);
  });
});

describe('alternative units', () => {
  it("a price in a product's alternative unit takes the unit's factor; a product's units are replaced as a set", async () => {
    await fx.tp.applyFlowFile('ops/flows/product-units-csv.yaml');
    let run = await fx.tp.ingest('product-units-csv', csv('sku;unit;factor;barcode', ['P3;box;12;4600000000017', 'P3;pal;480;']), 'units.csv');
    expect(run.state, run.error?.message).toBe('done');
    const plain = await fx.tp.ingest('price-periods-csv', csv('sku;price_type;price;currency;unit;valid_from', ['P3;retail-msk;110;RUB;box;2023-01-01']), 'box.csv');
    expect(plain.state).toBe('done');
    const rows = await fx.tp.db.pool.query(
      `SELECT x.unit, x.factor::text FROM prices x JOIN products p ON p.id = x.product_id JOIN price_types t ON t.id = x.price_type_id WHERE p.code = 'P3' AND t.code = 'retail-msk'`);
    expect(rows.rows).toEqual([{ unit: 'box', factor: '12.000000' }]);
    run = await fx.tp.ingest('product-units-csv', csv('sku;unit;factor', ['P3;box;10']), 'units2.csv');
    expect(run.state).toBe('done');
    const units = await fx.tp.db.pool.query(`SELECT u.unit, u.factor::text, u.barcode FROM product_units u JOIN products p ON p.id = u.product_id WHERE p.code = 'P3'`);
    expect(units.rows).toEqual([{ unit: 'box', factor: '10.000000', barcode: null }]);
  });
});
