// The onec.commerceml connector and the mappings in mappings/onec/ through the real pipeline (PostgreSQL,
// Redis, workers): the samples land as groups, products, SKUs, properties, price types, warehouses,
// prices and stock, with exact decimals; a bad row is rejected with its element path.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ONEC_SAMPLES } from '../helpers/samples.ts';
import { listRejects } from '../../src/pipeline/runs.ts';
import { createTestPipeline, pricesPicture, stockPicture, type TestPipeline } from '../helpers/pipeline.ts';

const SAMPLES = ONEC_SAMPLES;
const read = (name: string): Buffer => readFileSync(path.join(SAMPLES, name));

const flow = (name: string, target: string, mappings: string[], mode = 'delta'): string => `
apiVersion: magistral/v1
kind: Flow
name: ${name}
source: { connector: onec.commerceml, system: onec }
mapping: [${mappings.map((m) => `onec/${m}.yaml`).join(', ')}]
target: ${target}
mode: ${mode}
`;

describe('CommerceML samples through the pipeline', () => {
  let tp: TestPipeline;
  beforeAll(async () => {
    tp = await createTestPipeline('onec-cml');
    await tp.applyFlowYaml([
      flow('onec-groups', 'groups', ['groups']),
      flow('onec-products', 'products', ['products', 'offers']),
      flow('onec-properties', 'properties', ['properties']),
      flow('onec-property-values', 'propertyValues', ['property-values']),
      flow('onec-product-properties', 'productProperties', ['product-properties']),
      flow('onec-price-types', 'priceTypes', ['price-types']),
      flow('onec-warehouses', 'warehouses', ['warehouses']),
      flow('onec-prices', 'prices', ['prices']),
      flow('onec-stock', 'stock', ['stock']),
    ].join('---\n'));
  });
  afterAll(async () => {
    await tp?.close();
  });

  it('01 (catalog): groups, properties, dictionary values, 36 products with their group and values', async () => {
    const file = read('01_import0_1_cml207_unf-style.xml');
    for (const f of ['onec-groups', 'onec-properties', 'onec-property-values', 'onec-products', 'onec-product-properties']) {
      const run = await tp.ingest(f, file, 'import0_1.xml');
      expect(run.state, `${f}: ${run.error?.message}`).toBe('done');
      expect(run.rows.rejected).toBe(0);
    }
    const q = async (sql: string): Promise<unknown[]> => (await tp.rt.pool.query(sql)).rows;
    expect(await q(`SELECT code, name FROM groups`)).toEqual([{ code: '82cfb8dc-18f9-11e7-80c2-0cc47ab29cd1', name: 'Коврики для дома' }]);
    expect(await q(`SELECT count(*)::int AS n, count(group_id)::int AS grouped, count(*) FILTER (WHERE deleted)::int AS deleted, count(barcode)::int AS barcodes FROM products`)).toEqual([{ n: 36, grouped: 36, deleted: 1, barcodes: 22 }]);
    expect(await q(`SELECT p.name, p.article, p.barcode, u.code AS unit FROM products p JOIN units u ON u.id = p.unit_id WHERE p.code = 'bd8c4e15-18f9-11e7-80c2-0cc47ab29cd1'`)).toEqual([
      { name: 'Портативный коврик Portable 140x200x1 см, Деревянные лошадки', article: 'PM-421-WP', barcode: '8809288404089', unit: 'PCE' },
    ]);
    expect(await q(`SELECT value_type, count(*)::int AS n FROM properties GROUP BY 1 ORDER BY 1`)).toEqual([{ value_type: 'number', n: 7 }, { value_type: 'reference', n: 3 }, { value_type: 'string', n: 2 }]);
    expect(await q(`SELECT count(*)::int AS n FROM property_values`)).toEqual([{ n: 12 }]);
    const pp = await q(`
      SELECT pr.name AS property, x.value, pv.value AS entry
      FROM product_properties x JOIN products p ON p.id = x.product_id JOIN properties pr ON pr.id = x.property_id
      LEFT JOIN property_values pv ON pv.id = x.value_id
      WHERE p.code = 'bd8c4e15-18f9-11e7-80c2-0cc47ab29cd1' AND pr.name IN ('Страна производства', 'Габарит_Вес') ORDER BY 1`);
    expect(pp).toEqual([
      { property: 'Габарит_Вес', value: '1,4', entry: null },
      { property: 'Страна производства', value: 'af848a7e-18fa-11e7-80c2-0cc47ab29cd1', entry: 'КОРЕЯ, РЕСПУБЛИКА' },
    ]);
    expect(await q(`SELECT count(*)::int AS n FROM product_properties`)).toEqual([{ n: 415 }]);
  });

  it('02 (offers): price type, warehouses, 44 prices and 132 stock rows on the catalog products', async () => {
    const file = read('02_offers0_1_cml207_warehouse-attrs.xml');
    for (const f of ['onec-price-types', 'onec-warehouses', 'onec-prices', 'onec-stock', 'onec-products']) {
      const run = await tp.ingest(f, file, 'offers0_1.xml');
      expect(run.state, `${f}: ${run.error?.message}`).toBe('done');
      expect(run.rows.rejected).toBe(0);
    }
    const prices = await pricesPicture(tp);
    expect(prices).toHaveLength(44);
    expect(prices).toContain('bd8c4e15-18f9-11e7-80c2-0cc47ab29cd1|279b6812-740b-11e8-80c8-0cc47ab29cd1|100.000000|RUB');
    const stock = await stockPicture(tp);
    expect(stock).toHaveLength(132);
    expect(stock).toContain('bd8c4e15-18f9-11e7-80c2-0cc47ab29cd1|dd306af1-19c9-11e7-80c2-0cc47ab29cd1|376.000000');
    // Plain offers are the catalog's products: the offers file names no product of its own, and the
    // offers whose product the catalog lacks exist as placeholders (created by their prices and stock).
    const ids = (f: string, re: RegExp): Set<string> => new Set([...read(f).toString('utf8').matchAll(re)].map((m) => m[1]!));
    const catalog = ids('01_import0_1_cml207_unf-style.xml', /<Товар(?: [^>]*)?>\s*<Ид>([^<]+)<\/Ид>/g);
    const offers = ids('02_offers0_1_cml207_warehouse-attrs.xml', /<Предложение>\s*<Ид>([^<]+)<\/Ид>/g);
    const missing = [...offers].filter((id) => !catalog.has(id));
    expect([catalog.size, offers.size, missing.length]).toEqual([36, 44, 8]);
    const r = await tp.rt.pool.query(`SELECT code FROM products WHERE placeholder ORDER BY code`);
    expect(r.rows.map((x) => x.code)).toEqual(missing.sort());
    expect((await tp.rt.pool.query(`SELECT count(*)::int AS n FROM products`)).rows[0].n).toBe(44);
    const w = await tp.rt.pool.query(`SELECT name FROM warehouses ORDER BY name`);
    expect(w.rows.map((x) => x.name)).toEqual(['Владивосток', 'Москва', 'Новосибирск']);
  });

  it('05 (characteristics): SKUs product#characteristic with their names, prices per type in RUB', async () => {
    const file = read('05_offers_cml208_3-price-types.xml');
    for (const f of ['onec-price-types', 'onec-products', 'onec-prices']) {
      const run = await tp.ingest(f, file, 'offers.xml');
      expect(run.state, `${f}: ${run.error?.message}`).toBe('done');
      expect(run.rows.rejected).toBe(0);
    }
    const sku = 'ffce323d-c133-11e8-8111-0050569b2b72#8a4e5eaa-d129-11e8-8112-0050569b2b72';
    const p = await tp.rt.pool.query(`SELECT name, placeholder FROM products WHERE code = $1`, [sku]);
    expect(p.rows).toEqual([{ name: 'Test Offer 2', placeholder: false }]);
    const prices = (await pricesPicture(tp)).filter((x) => x.startsWith(sku));
    expect(prices).toEqual([
      `${sku}|913eb9e7-7df9-11e8-80fc-0050569b0657|10500.000000|RUB`,
      `${sku}|a5d63ccd-7df9-11e8-80fc-0050569b0657|15500.000000|RUB`,
      `${sku}|db7b09f3-94c2-11e8-810b-0050569b5454|10500.000000|RUB`,
    ]);
    const pt = await tp.rt.pool.query(`SELECT currency FROM price_types WHERE name = 'Цена поставщика'`);
    expect(pt.rows).toEqual([{ currency: 'RUB' }]);
  });

  it('04 (rests, delta): the negative quantity is rejected with its element path, the other 977 land', async () => {
    const run = await tp.ingest('onec-stock', read('04_rests___cml209_bitrix-module.xml'), 'rests.xml');
    expect(run.state, run.error?.message).toBe('done');
    expect(run.rows).toMatchObject({ read: 978, rejected: 1 });
    const rejects = await listRejects(tp.rt.db, run.id, { limit: 10, offset: 0 });
    expect(rejects).toEqual([expect.objectContaining({
      file: 'rests.xml', line: 1179, path: '/КоммерческаяИнформация/ПакетПредложений/Предложения/Предложение[107]/Остатки/Остаток[1]/Склад[1]',
      field: 'quantity', reason: expect.stringContaining('quantity: "-1" is not a non-negative decimal number'),
    })]);
    const n = await tp.rt.pool.query(`SELECT count(*)::int AS n FROM stock s JOIN warehouses w ON w.id = s.warehouse_id WHERE w.code = '5d1caeb1-44b2-11e4-a628-003048c64779'`);
    expect(n.rows[0].n).toBe(977);
  });

  it('a malformed file fails the run with file, line and column, and changes nothing', async () => {
    const before = await pricesPicture(tp);
    const text = read('03_prices___cml209_bitrix-module.xml').toString('utf8').replace('</ЦенаЗаЕдиницу>', '</Цена>');
    const run = await tp.ingest('onec-prices', Buffer.from(text), 'prices.xml');
    expect(run.state).toBe('failed');
    expect(run.error?.message).toBe('prices.xml:15:25: closing tag </Цена> does not match the open element <ЦенаЗаЕдиницу> (/КоммерческаяИнформация/ПакетПредложений/Предложения/Предложение/Цены/Цена/ЦенаЗаЕдиницу)');
    expect(await pricesPicture(tp)).toEqual(before);
  });
});
