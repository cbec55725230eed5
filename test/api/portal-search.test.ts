// Search and autocomplete of /api/v1 on a store built through the real pipeline (CSV flows, workers,
// PostgreSQL, Redis) and read through the real API-key auth: morphology, keyboard layout both ways,
// typos, synonyms (a flow fills them), exact article and barcode first, products not on sale in the
// city never shown, suggestions ranked by priority then popularity, each with its count.
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/api/index.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { createApiKey } from '../../src/portal/keys.ts';
import { switchLayout } from '../../src/search/text.ts';
import { createTestPipeline, csv, type TestPipeline } from '../helpers/pipeline.ts';
import { registry } from '../helpers/registry.ts';

let tp: TestPipeline;
let app: FastifyInstance;
let key: string;

// sku;name;article;barcode;group;popularity;priority — prices decide what is on sale where.
const PRODUCTS = [
  'P-01;Провод ПВС 3x1,5 белый;PVS-315;4601000000011;wires;300;',
  'P-02;Провод ПУГВ 1x2,5 красный;PUGV-125;4601000000028;wires;120;',
  'P-03;Кабель ВВГнг-LS 3x2,5;VVG-325;4601234567890;cables;500;',
  'P-04;Кабель силовой АВВГ 4x16;AVVG-416;;cables;50;',
  'P-05;Автоматический выключатель 1P 16А;AV-116;;breakers;200;',
  'P-06;Розетка Legrand Valena белая;LEG-774420;;sockets;100;',
  'P-07;Розетка двойная Schneider Glossa;SCH-GSL;;sockets;900;',
  'P-08;Розетка наружная IP44;RZ-44;;sockets;10;10',
  'P-09;Удлинитель 5 м на 4 гнезда;UD-54;;extension;80;',
  'P-10;Провод скрытый в Москве;HID-1;;wires;1000;',
  'P-11;Выключатель Legrand Etika;LEG-672201;;switches;40;',
];
// P-10 has no Moscow price: it is on sale in St Petersburg only.
const PRICES = [
  'P-01;retail-msk;45.50', 'P-02;retail-msk;30', 'P-03;retail-msk;120.99', 'P-04;retail-msk;990', 'P-05;retail-msk;350',
  'P-06;retail-msk;410', 'P-07;retail-msk;760', 'P-08;retail-msk;520', 'P-09;retail-msk;1200', 'P-11;retail-msk;300',
  'P-10;retail-spb;99', 'P-01;retail-spb;47',
];

async function flow(name: string, mapping: string, target: string): Promise<void> {
  await tp.applyFlowYaml(`apiVersion: magistral/v1
kind: Flow
name: ${name}
source: { connector: file.csv, system: local, options: { delimiter: auto, encoding: auto } }
mapping: ${mapping}
target: ${target}
mode: delta
autoCreate: true
`);
}

async function load(name: string, content: string): Promise<void> {
  const run = await tp.ingest(name, content, `${name}.csv`);
  expect(run.state, `${name}: ${run.error?.message ?? ''}`).toBe('done');
  expect(run.rows.rejected, `${name} rejected rows`).toBe(0);
}

const get = (path: string, headers: Record<string, string> = {}) => app.inject({ method: 'GET', url: path, headers: { authorization: `Bearer ${key}`, ...headers } });
const search = async (q: string, city = 'msk', extra = '') => {
  const res = await get(`/api/v1/search?city=${city}&q=${encodeURIComponent(q)}${extra}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as { corrected: string | null; ignored: string[]; total: number; nextOffset: number | null; items: Array<{ sku: string; exact: boolean; price: string | null }> };
};
const suggest = async (q: string, city = 'msk') => {
  const res = await get(`/api/v1/search/suggest?city=${city}&q=${encodeURIComponent(q)}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as {
    corrected: string | null;
    suggestions: Array<{ kind: string; text: string; count: number; more: boolean; group?: string; property?: string; value?: string }>;
    products: Array<{ sku: string; price: string | null; imageUrl: string | null; currency: string | null; unit: string | null }>;
  };
};
const skus = (xs: Array<{ sku: string }>) => xs.map((x) => x.sku).sort();

beforeAll(async () => {
  tp = await createTestPipeline('psearch');
  for (const f of ['cities', 'price-types', 'groups', 'products', 'prices', 'clients', 'agreements']) await tp.applyFlowFile(`ops/flows/${f}-csv.yaml`);
  await flow('properties-csv', 'file/properties.yaml', 'properties');
  await flow('property-values-csv', 'file/property-values.yaml', 'propertyValues');
  await flow('product-properties-csv', 'file/product-properties.yaml', 'productProperties');
  await flow('synonyms-csv', 'file/synonyms.yaml', 'synonyms');
  await tp.rt.pool.query(`UPDATE flows SET definition = definition - 'guard'`);

  await load('cities-csv', csv('code;name;price_type', ['msk;Москва;retail-msk', 'spb;Санкт-Петербург;retail-spb']));
  await load('price-types-csv', csv('code;name;currency;city', ['retail-msk;Розница Москва;RUB;msk', 'retail-spb;Розница СПб;RUB;spb']));
  await load('groups-csv', csv('code;name;parent', [
    'electric;Электротехника;', 'wires;Провода;electric', 'cables;Кабели силовые;electric', 'breakers;Автоматика;electric',
    'sockets;Розетки;electric', 'switches;Выключатели;electric', 'extension;Удлинители;electric',
  ]));
  await load('products-csv', csv('sku;name;article;barcode;group;popularity;priority;image', PRODUCTS.map((p) => `${p};https://img.example.com/${p.split(';')[0]}.jpg`)));
  await load('prices-csv', csv('sku;price_type;price;currency', PRICES.map((p) => `${p};RUB`)));
  await load('properties-csv', csv('code;name;type;suggest', ['brand;Бренд;reference;да', 'color;Цвет;string;']));
  await load('property-values-csv', csv('property;code;value', ['brand;leg;Legrand', 'brand;se;Schneider Electric']));
  await load('product-properties-csv', csv('sku;property;value', ['P-06;brand;leg', 'P-11;brand;leg', 'P-07;brand;se', 'P-06;color;белый', 'P-01;color;белый']));
  await load('synonyms-csv', csv('term;synonyms', ['удлинитель;пилот, колодка', 'автомат;автоматический выключатель']));
  await load('clients-csv', csv('code;name;city', ['C1;Энергомонтаж;msk']));
  await load('agreements-csv', csv('code;name;client;price_type;discount', ['A1;Скидка 10 %;C1;;10']));

  app = await buildServer({ registry, config: tp.config, db: tp.rt.db, pool: tp.rt.pool, queues: tp.rt.queues, log: pino({ level: 'silent' }), metrics: createMetrics(), mode: 'full' });
  key = (await createApiKey(tp.rt.db, { name: 'frontend', scopes: ['catalog:read'], ratePerMin: 100_000 })).key;
}, 180_000);

afterAll(async () => {
  await app?.close();
  await tp?.close();
}, 120_000);

describe('keyboard layouts', () => {
  it('maps both ways, punctuation keys included', () => {
    expect(switchLayout('ghjdjl')).toBe('провод');
    expect(switchLayout('rf,tkm')).toBe('кабель');
    expect(switchLayout('дупкфтв')).toBe('legrand');
    expect(switchLayout('провод 16')).toBe('ghjdjl 16');
    expect(switchLayout('Розетка Legrand')).toBeNull();
  });
});

describe('search', () => {
  it('matches inflected forms (russian morphology)', async () => {
    for (const q of ['провод', 'провода', 'проводом', 'проводов']) {
      const r = await search(q);
      expect(skus(r.items), q).toEqual(['P-01', 'P-02']);
      expect(r.corrected).toBeNull();
    }
    // The group's name is searchable too: P-03 sits in «Кабели силовые».
    expect(skus((await search('кабели силовые')).items)).toEqual(['P-03', 'P-04']);
  });

  it('corrects a query typed on the wrong layout: ghjdjl → провод, дупкфтв → legrand', async () => {
    const ru = await search('ghjdjl');
    expect(ru.corrected).toBe('провод');
    expect(skus(ru.items)).toEqual(['P-01', 'P-02']);
    const en = await search('дупкфтв');
    expect(en.corrected).toBe('legrand');
    expect(skus(en.items)).toEqual(['P-06', 'P-11']);
    // Each word on its own: «розетка» typed on the Latin layout, «legrand» on the Russian one.
    const both = await search('hjptnrf дупкфтв');
    expect(both.corrected).toBe('розетка legrand');
    expect(skus(both.items)).toEqual(['P-06']);
  });

  it('corrects typos: a wrong letter, a missing letter, swapped letters', async () => {
    for (const [q, fixed] of [['кабнль', 'кабель'], ['првод', 'провод'], ['розеткв', 'розетка'], ['рзоетка', 'розетка']] as const) {
      const r = await search(q);
      expect(r.corrected, q).toBe(fixed);
      expect(r.total, q).toBeGreaterThan(0);
    }
    expect(skus((await search('кабнль ввгнг')).items)).toEqual(['P-03']);
  });

  it('finds synonyms a flow filled, words and phrases', async () => {
    expect(skus((await search('пилот')).items)).toEqual(['P-09']);
    expect(skus((await search('колодки')).items)).toEqual(['P-09']);
    expect(skus((await search('автомат')).items)).toEqual(['P-05']);
  });

  it('ranks an exact article or barcode first', async () => {
    const byArticle = await search('vvg-325');
    expect(byArticle.items[0]).toMatchObject({ sku: 'P-03', exact: true });
    const byBarcode = await search('4601234567890');
    expect(byBarcode.items).toEqual([expect.objectContaining({ sku: 'P-03', exact: true, price: '120.99' })]);
  });

  it('never shows a product that is not on sale in the city', async () => {
    expect(skus((await search('провод', 'msk')).items)).not.toContain('P-10');
    expect(skus((await search('провод', 'spb')).items)).toEqual(['P-01', 'P-10']);
    expect((await search('HID-1', 'msk')).total).toBe(0);
  });

  it('pages with offset, ranking the configured priority first', async () => {
    const all = await search('розетка');
    expect(all.total).toBe(3);
    expect(all.items[0]!.sku).toBe('P-08');
    const p1 = await search('розетка', 'msk', '&limit=2');
    expect(p1.nextOffset).toBe(2);
    const p2 = await search('розетка', 'msk', `&limit=2&offset=${p1.nextOffset}`);
    expect(p2.nextOffset).toBeNull();
    expect([...p1.items, ...p2.items].map((x) => x.sku)).toEqual(all.items.map((x) => x.sku));
  });

  it('refuses an empty query with the path', async () => {
    const res = await get('/api/v1/search?city=msk&q=');
    expect(res.statusCode).toBe(400);
    expect(res.json().problems[0].path).toBe('/querystring/q');
  });
});

describe('autocomplete', () => {
  it('completes from the first letters with counts, and shows top products with price and image', async () => {
    const r = await suggest('роз');
    expect(r.suggestions).toContainEqual({ kind: 'query', text: 'розетка', count: 3, more: false });
    expect(r.suggestions).toContainEqual(expect.objectContaining({ kind: 'group', text: 'Розетки', group: 'sockets', count: 3 }));
    // Priority first (P-08), then popularity (P-07 900 before P-06 100).
    expect(r.products.map((p) => p.sku)).toEqual(['P-08', 'P-07', 'P-06']);
    expect(r.products[0]).toMatchObject({ price: '520.00', currency: 'RUB', imageUrl: 'https://img.example.com/P-08.jpg' });
  });

  it('offers brands (properties marked for autocomplete) with their counts', async () => {
    const r = await suggest('leg');
    expect(r.suggestions).toContainEqual({ kind: 'value', text: 'Legrand', property: 'brand', value: 'leg', count: 2, more: false });
    expect(r.products.map((p) => p.sku).sort()).toEqual(['P-06', 'P-11']);
  });

  it('ranks suggestions by priority, then popularity', async () => {
    const r = await suggest('р');
    const groups = r.suggestions.filter((s) => s.kind === 'group').map((s) => s.text);
    // Розетки holds the priority-10 product; Провода's best product (P-10) is not on sale in Moscow.
    expect(groups[0]).toBe('Розетки');
    expect(r.products[0]!.sku).toBe('P-08');
  });

  it('never counts or shows a product not on sale in the city', async () => {
    const msk = await suggest('провод');
    expect(msk.products.map((p) => p.sku)).not.toContain('P-10');
    expect(msk.suggestions).toContainEqual(expect.objectContaining({ kind: 'query', text: 'провод', count: 2 }));
    const spb = await suggest('провод', 'spb');
    expect(spb.products.map((p) => p.sku)).toEqual(['P-10', 'P-01']);
  });

  it('understands a prefix typed on the wrong layout', async () => {
    const r = await suggest('hjp');
    expect(r.corrected).toBe('роз');
    expect(r.products.map((p) => p.sku)).toEqual(['P-08', 'P-07', 'P-06']);
  });

  it('follows a change in popularity or sale at the next keystroke, though the ranking of a query is kept', async () => {
    // The ranked matches of 'роз' are kept (SuggestTopCache) until the catalog version moves.
    expect((await suggest('роз')).products.map((p) => p.sku)).toEqual(['P-08', 'P-07', 'P-06']);
    const pool = tp.rt.pool;
    await pool.query(`UPDATE products SET popularity = 5000 WHERE code = 'P-06'`);
    try {
      expect((await suggest('роз')).products.map((p) => p.sku)).toEqual(['P-08', 'P-06', 'P-07']);
    } finally {
      await pool.query(`UPDATE products SET popularity = 100 WHERE code = 'P-06'`);
    }
    expect((await suggest('роз')).products.map((p) => p.sku)).toEqual(['P-08', 'P-07', 'P-06']);
    const pt = `(SELECT id FROM price_types WHERE code = 'retail-msk')`;
    const id = `(SELECT id FROM products WHERE code = 'P-07')`;
    const value = (await pool.query(`SELECT value FROM prices WHERE price_type_id = ${pt} AND product_id = ${id}`)).rows[0].value;
    await pool.query(`UPDATE prices SET value = 0 WHERE price_type_id = ${pt} AND product_id = ${id}`);
    try {
      const r = await suggest('роз');
      expect(r.products.map((p) => p.sku)).toEqual(['P-08', 'P-06']);
      expect(r.suggestions).toContainEqual({ kind: 'query', text: 'розетка', count: 2, more: false });
    } finally {
      await pool.query(`UPDATE prices SET value = $1 WHERE price_type_id = ${pt} AND product_id = ${id}`, [value]);
    }
  });

  it('a kept answer is priced for each request: the same suggestions, each client its own prices', async () => {
    const anonymous = await suggest('роз');
    const res = await get(`/api/v1/search/suggest?city=msk&q=${encodeURIComponent('роз')}`, { 'x-client-id': 'C1' });
    expect(res.statusCode, res.body).toBe(200);
    const client = res.json();
    expect(client.suggestions).toEqual(anonymous.suggestions);
    expect(client.products.map((p: { sku: string }) => p.sku)).toEqual(anonymous.products.map((p) => p.sku));
    // 520.00 less the agreement's 10 %.
    expect(anonymous.products[0]).toMatchObject({ sku: 'P-08', price: '520.00' });
    expect(client.products[0]).toMatchObject({ sku: 'P-08', price: '468.00' });
    expect(client.pricing).toMatchObject({ discountPercent: '10', source: 'city' });
  });

  it('puts a product whose code starts with the query first', async () => {
    const r = await suggest('LEG-77');
    expect(r.products[0]).toMatchObject({ sku: 'P-06' });
  });
});
