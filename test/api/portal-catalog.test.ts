// The catalog of /api/v1 on a store built through the real pipeline (CSV flows, workers, PostgreSQL,
// Redis) from a generated catalog (fixed seed), read through the real API-key auth. Facet counts,
// totals, price ranges and group counts are compared with a brute-force computation over the
// generated data in TypeScript; cursor pages must visit every row once in order.
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/api/index.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { createApiKey } from '../../src/portal/keys.ts';
import { refreshStaleOffers } from '../../src/portal/offers.ts';
import { createTestPipeline, csv, type TestPipeline } from '../helpers/pipeline.ts';
import { registry } from '../helpers/registry.ts';

/** mulberry32: a small seeded generator, so every run builds the same catalog. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Product {
  sku: string;
  name: string;
  group: string;
  popularity: number;
  deleted: boolean;
  /** Prices in kopecks per price type (absent: no price). */
  prices: Record<string, number>;
  stock: Record<string, number>;
  props: Record<string, string[]>;
}

const CITY_PT: Record<string, string> = { msk: 'retail-msk', spb: 'retail-spb' };
const CITY_WH: Record<string, string[]> = { msk: ['W-MSK-1', 'W-MSK-2'], spb: ['W-SPB'] };
const BRANDS = { legrand: 'Legrand', abb: 'ABB', iek: 'IEK', schneider: 'Schneider Electric', ekf: 'EKF', dkc: 'DKC' };
const COLORS = { white: 'белый', black: 'черный', grey: 'серый', red: 'красный', ivory: 'слоновая кость' };
const MATERIALS = ['медь', 'алюминий', 'пластик', 'сталь'];
const SECTIONS = ['1.5', '2.5', '4', '6'];
const WORDS = ['Кабель', 'Провод', 'Автомат', 'Розетка', 'Выключатель', 'Лампа', 'Щит', 'Клемма', 'Удлинитель', 'Светильник'];

// The group tree: g1..g3, each with two children and two grandchildren; 'g-empty' sells nothing.
const GROUPS: Array<{ code: string; name: string; parent?: string }> = [];
for (let a = 1; a <= 3; a++) {
  GROUPS.push({ code: `g${a}`, name: `Раздел ${a}` });
  for (let b = 1; b <= 2; b++) {
    GROUPS.push({ code: `g${a}-${b}`, name: `Подраздел ${a}.${b}`, parent: `g${a}` });
    for (let c = 1; c <= 2; c++) GROUPS.push({ code: `g${a}-${b}-${c}`, name: `Группа ${a}.${b}.${c}`, parent: `g${a}-${b}` });
  }
}
GROUPS.push({ code: 'g-empty', name: 'Пустой раздел' }, { code: 'g-empty-1', name: 'Пустая группа', parent: 'g-empty' });
const LEAVES = GROUPS.filter((g) => g.code.split('-').length === 3 && g.code !== 'g-empty-1').map((g) => g.code);

function generate(): Product[] {
  const r = rng(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const out: Product[] = [];
  for (let i = 1; i <= 160; i++) {
    const brand = pick(Object.keys(BRANDS));
    const p: Product = {
      sku: `SKU-${String(i).padStart(4, '0')}`,
      name: `${pick(WORDS)} ${BRANDS[brand as keyof typeof BRANDS]} ${i}`,
      group: pick(LEAVES),
      popularity: Math.floor(r() * 50) * 10,
      deleted: i % 53 === 0,
      prices: {},
      stock: {},
      props: { brand: [brand], color: [pick(Object.keys(COLORS))] },
    };
    if (r() < 0.2) {
      const second = pick(Object.keys(COLORS));
      if (!p.props.color!.includes(second)) p.props.color!.push(second);
    }
    if (r() < 0.8) p.props.material = [pick(MATERIALS)];
    if (r() < 0.7) p.props.section = [pick(SECTIONS)];
    if (r() < 0.5) p.props.outdoor = [r() < 0.5 ? 'да' : 'нет'];
    // Prices in kopecks: some products are not on sale in a city (no price, or a zero price).
    const base = 1000 + Math.floor(r() * 500000);
    if (r() < 0.9) p.prices['retail-msk'] = r() < 0.04 ? 0 : base;
    if (r() < 0.7) p.prices['retail-spb'] = base + 150;
    if (r() < 0.85) p.prices.wholesale = Math.floor(base * 0.8);
    for (const w of ['W-MSK-1', 'W-MSK-2', 'W-SPB']) if (r() < 0.6) p.stock[w] = Math.floor(r() * 4) * 3;
    out.push(p);
  }
  // The empty group: its only product has no price in any city.
  out.push({ sku: 'SKU-EMPTY', name: 'Товар без цены', group: 'g-empty-1', popularity: 0, deleted: false, prices: { wholesale: 500 }, stock: {}, props: { brand: ['abb'] } });
  return out;
}

const PRODUCTS = generate();
const kop = (k: number) => `${Math.floor(k / 100)}.${String(k % 100).padStart(2, '0')}`;

/** The client C1 buys at wholesale with 5 % off: round(wholesale × 0.95, 2), half up, on kopecks. */
const AGREEMENT = { client: 'C1', priceType: 'wholesale', discount: 5 };

interface Ask {
  city: string;
  client?: string;
  group?: string;
  props: Record<string, string[]>;
  priceMin?: number;
  priceMax?: number;
  inStock?: boolean;
}

function subtree(code: string): Set<string> {
  const out = new Set([code]);
  for (let grew = true; grew;) {
    grew = false;
    for (const g of GROUPS) if (g.parent && out.has(g.parent) && !out.has(g.code)) { out.add(g.code); grew = true; }
  }
  return out;
}

const onSale = (p: Product, city: string) => !p.deleted && (p.prices[CITY_PT[city]!] ?? 0) > 0;
function effective(p: Product, a: Ask): number | null {
  if (a.client) {
    const v = p.prices[AGREEMENT.priceType];
    return v === undefined || v <= 0 ? null : Math.floor((v * (100 - AGREEMENT.discount) + 50) / 100);
  }
  const v = p.prices[CITY_PT[a.city]!];
  return v === undefined || v <= 0 ? null : v;
}
const stockIn = (p: Product, city: string) => CITY_WH[city]!.reduce((s, w) => s + (p.stock[w] ?? 0), 0);

/** Brute force: which filters a product passes (by name: group and on-sale are not filters with facets). */
function check(p: Product, a: Ask) {
  const pass: Record<string, boolean> = {};
  for (const [prop, values] of Object.entries(a.props)) pass[`prop:${prop}`] = (p.props[prop] ?? []).some((v) => values.includes(v));
  if (a.priceMin !== undefined || a.priceMax !== undefined) {
    const e = effective(p, a);
    pass.price = e !== null && (a.priceMin === undefined || e >= a.priceMin) && (a.priceMax === undefined || e <= a.priceMax);
  }
  if (a.inStock) pass.stock = stockIn(p, a.city) > 0;
  return pass;
}

function bruteForce(a: Ask) {
  const groups = a.group ? subtree(a.group) : null;
  const base = PRODUCTS.filter((p) => onSale(p, a.city) && (!groups || groups.has(p.group)));
  const all = (pass: Record<string, boolean>, except?: string) => Object.entries(pass).every(([k, v]) => k === except || v);
  const matching = base.filter((p) => all(check(p, a)));
  const facets = new Map<string, number>();
  for (const p of base) {
    const pass = check(p, a);
    for (const [prop, values] of Object.entries(p.props)) {
      if (!all(pass, `prop:${prop}`)) continue;
      for (const v of values) facets.set(`${prop}=${v}`, (facets.get(`${prop}=${v}`) ?? 0) + 1);
    }
  }
  const priced = base.filter((p) => all(check(p, a), 'price')).map((p) => effective(p, a)).filter((x): x is number => x !== null);
  const inStock = base.filter((p) => all(check(p, a), 'stock') && stockIn(p, a.city) > 0).length;
  return {
    skus: matching.map((p) => p.sku).sort(), facets,
    price: { min: priced.length ? kop(Math.min(...priced)) : null, max: priced.length ? kop(Math.max(...priced)) : null }, inStock,
  };
}

function url(a: Ask, extra: Record<string, string> = {}): string {
  const qs = new URLSearchParams({ city: a.city, ...extra });
  if (a.group) qs.set('group', a.group);
  for (const [prop, values] of Object.entries(a.props)) for (const v of values) qs.append('prop', `${prop}:${v}`);
  if (a.priceMin !== undefined) qs.set('priceMin', kop(a.priceMin));
  if (a.priceMax !== undefined) qs.set('priceMax', kop(a.priceMax));
  if (a.inStock) qs.set('inStock', 'true');
  return `/api/v1/catalog/products?${qs}`;
}

let tp: TestPipeline;
let app: FastifyInstance;
let key: string;

async function flow(name: string, mapping: string, target: string, extra = ''): Promise<void> {
  await tp.applyFlowYaml(`apiVersion: magistral/v1
kind: Flow
name: ${name}
source: { connector: file.csv, system: local, options: { delimiter: auto, encoding: auto } }
mapping: ${mapping}
target: ${target}
mode: delta
autoCreate: true
${extra}`);
}

async function load(name: string, content: string): Promise<void> {
  const run = await tp.ingest(name, content, `${name}.csv`);
  expect(run.state, `${name}: ${run.error?.message ?? ''}`).toBe('done');
  expect(run.rows.rejected, `${name} rejected rows`).toBe(0);
}

const get = (path: string, headers: Record<string, string> = {}) => app.inject({ method: 'GET', url: path, headers: { authorization: `Bearer ${key}`, ...headers } });

beforeAll(async () => {
  tp = await createTestPipeline('pcatalog');
  for (const f of ['cities', 'price-types', 'warehouses', 'groups', 'products', 'prices', 'stock', 'clients', 'agreements']) {
    await tp.applyFlowFile(`ops/flows/${f}-csv.yaml`);
  }
  await flow('properties-csv', 'file/properties.yaml', 'properties');
  await flow('property-values-csv', 'file/property-values.yaml', 'propertyValues');
  await flow('product-properties-csv', 'file/product-properties.yaml', 'productProperties');
  await tp.rt.pool.query(`UPDATE flows SET definition = definition - 'guard'`);

  await load('cities-csv', csv('code;name;price_type', ['msk;Москва;retail-msk', 'spb;Санкт-Петербург;retail-spb', 'nsk;Новосибирск;']));
  await load('price-types-csv', csv('code;name;currency;city', ['retail-msk;Розница Москва;RUB;msk', 'retail-spb;Розница СПб;RUB;spb', 'wholesale;Опт;RUB;']));
  await load('warehouses-csv', csv('code;name;city', ['W-MSK-1;Москва 1;msk', 'W-MSK-2;Москва 2;msk', 'W-SPB;Петербург;spb']));
  await load('groups-csv', csv('code;name;parent', GROUPS.map((g) => `${g.code};${g.name};${g.parent ?? ''}`)));
  await load('products-csv', csv('sku;name;group;unit;deleted;popularity', PRODUCTS.map((p) => `${p.sku};${p.name};${p.group};pcs;${p.deleted ? 'да' : ''};${p.popularity}`)));
  await load('prices-csv', csv('sku;price_type;price;currency', PRODUCTS.flatMap((p) => Object.entries(p.prices).map(([pt, v]) => `${p.sku};${pt};${kop(v)};RUB`))
    // A price for a code no catalog flow names: a placeholder product, never on sale.
    .concat(['GHOST-1;retail-msk;10.00;RUB'])));
  await load('stock-csv', csv('sku;warehouse;qty', PRODUCTS.flatMap((p) => Object.entries(p.stock).map(([w, q]) => `${p.sku};${w};${q}`))));
  await load('clients-csv', csv('code;name;city', ['C1;Энергомонтаж;msk']));
  await load('agreements-csv', csv('code;name;client;price_type;discount', [`A1;Опт со скидкой;C1;${AGREEMENT.priceType};${AGREEMENT.discount}`]));
  await load('properties-csv', csv('code;name;type;suggest', ['brand;Бренд;reference;да', 'color;Цвет;reference;', 'material;Материал;string;', 'section;Сечение;number;', 'outdoor;Уличный;string;']));
  await load('property-values-csv', csv('property;code;value', [
    ...Object.entries(BRANDS).map(([c, v]) => `brand;${c};${v}`), ...Object.entries(COLORS).map(([c, v]) => `color;${c};${v}`),
  ]));
  await load('product-properties-csv', csv('sku;property;value', PRODUCTS.flatMap((p) => Object.entries(p.props).flatMap(([prop, vs]) => vs.map((v) => `${p.sku};${prop};${v}`)))));

  app = await buildServer({ registry, config: tp.config, db: tp.rt.db, pool: tp.rt.pool, queues: tp.rt.queues, log: pino({ level: 'silent' }), metrics: createMetrics(), mode: 'full' });
  key = (await createApiKey(tp.rt.db, { name: 'frontend', scopes: ['catalog:read'], ratePerMin: 100_000 })).key;
}, 180_000);

afterAll(async () => {
  await app?.close();
  await tp?.close();
}, 120_000);

describe('product properties in the store', () => {
  it('links reference values to their dictionary and keeps literals as they came', async () => {
    const r = await tp.rt.pool.query(`
      SELECT pr.code AS property, pp.value, pv.value AS label FROM product_properties pp
      JOIN products p ON p.id = pp.product_id JOIN properties pr ON pr.id = pp.property_id
      LEFT JOIN property_values pv ON pv.id = pp.value_id
      WHERE p.code = 'SKU-0001' ORDER BY 1, 2`);
    const p = PRODUCTS[0]!;
    const expected = Object.entries(p.props).flatMap(([prop, vs]) => vs.map((v) => ({
      property: prop, value: v, label: prop === 'brand' ? BRANDS[v as keyof typeof BRANDS] : prop === 'color' ? COLORS[v as keyof typeof COLORS] : null,
    }))).sort((a, b) => (a.property + a.value < b.property + b.value ? -1 : 1));
    expect(r.rows).toEqual(expected);
  });

  it("a payload's values of a (product, property) replace the stored ones, other properties stay", async () => {
    const before = (await tp.rt.pool.query(`SELECT count(*)::int AS n FROM product_properties`)).rows[0].n;
    // SKU-0002's colours become exactly [red, black]; its brand and other properties are untouched.
    const run = await tp.ingest('product-properties-csv', csv('sku;property;value', ['SKU-0002;color;red', 'SKU-0002;color;black']));
    expect(run.state).toBe('done');
    const colors = (await tp.rt.pool.query(`
      SELECT pp.value FROM product_properties pp JOIN products p ON p.id = pp.product_id JOIN properties pr ON pr.id = pp.property_id
      WHERE p.code = 'SKU-0002' AND pr.code = 'color' ORDER BY 1`)).rows.map((x) => x.value);
    expect(colors).toEqual(['black', 'red']);
    const old = PRODUCTS[1]!.props.color!;
    expect(run.rows.removed).toBe(old.filter((c) => c !== 'red' && c !== 'black').length);
    expect((await tp.rt.pool.query(`SELECT count(*)::int AS n FROM product_properties`)).rows[0].n)
      .toBe(before - run.rows.removed + run.rows.inserted);
    // Put the generated colours back for the catalog tests below.
    const back = await tp.ingest('product-properties-csv', csv('sku;property;value', old.map((c) => `SKU-0002;color;${c}`)));
    expect(back.state).toBe('done');
  });

  it('a snapshot with scope keys replaces every property of the products it names', async () => {
    await flow('pp-snapshot', 'file/product-properties.yaml', 'productProperties', 'scope: keys');
    await tp.rt.pool.query(`UPDATE flows SET definition = jsonb_set(definition, '{mode}', '"snapshot"') WHERE name = 'pp-snapshot'`);
    await load('products-csv', csv('sku;name', ['SNAP-1;Тест снимка', 'SNAP-2;Другой товар']));
    expect((await tp.ingest('pp-snapshot', csv('sku;property;value', ['SNAP-1;material;медь', 'SNAP-1;section;2.5', 'SNAP-2;material;сталь']))).state).toBe('done');
    const run = await tp.ingest('pp-snapshot', csv('sku;property;value', ['SNAP-1;color;white']));
    expect(run.rows).toMatchObject({ inserted: 1, removed: 2 });
    const rows = (await tp.rt.pool.query(`
      SELECT p.code, pr.code AS property, pp.value, pv.value AS label FROM product_properties pp JOIN products p ON p.id = pp.product_id
      JOIN properties pr ON pr.id = pp.property_id LEFT JOIN property_values pv ON pv.id = pp.value_id
      WHERE p.code LIKE 'SNAP-%' ORDER BY 1, 2`)).rows;
    // SNAP-2 was not in the payload: its properties stay.
    expect(rows).toEqual([
      { code: 'SNAP-1', property: 'color', value: 'white', label: 'белый' },
      { code: 'SNAP-2', property: 'material', value: 'сталь', label: null },
    ]);
  });

  it('a dictionary entry arriving after the products that name it is linked to them', async () => {
    await tp.ingest('properties-csv', csv('code;name;type', ['plug;Вилка;reference']));
    expect((await tp.ingest('product-properties-csv', csv('sku;property;value', ['SKU-0003;plug;euro']))).state).toBe('done');
    const link = async () => (await tp.rt.pool.query(`
      SELECT pv.value FROM product_properties pp JOIN products p ON p.id = pp.product_id JOIN properties pr ON pr.id = pp.property_id
      LEFT JOIN property_values pv ON pv.id = pp.value_id WHERE p.code = 'SKU-0003' AND pr.code = 'plug'`)).rows[0];
    expect(await link()).toEqual({ value: null });
    expect((await tp.ingest('property-values-csv', csv('property;code;value', ['plug;euro;Евровилка']))).state).toBe('done');
    expect(await link()).toEqual({ value: 'Евровилка' });
    // The catalog tests below count this value too.
    PRODUCTS[2]!.props.plug = ['euro'];
  });
});

describe('group tree', () => {
  it.each(['msk', 'spb'])('counts products on sale in %s per group with subgroups and hides empty groups', async (city) => {
    const res = await get(`/api/v1/catalog/groups?city=${city}`);
    expect(res.statusCode, res.body).toBe(200);
    const expected = GROUPS.map((g) => {
      const sub = subtree(g.code);
      return { code: g.code, count: PRODUCTS.filter((p) => onSale(p, city) && sub.has(p.group)).length };
    }).filter((g) => g.count > 0);
    const items = res.json().items as Array<{ code: string; count: number; parent: string | null; level: number }>;
    expect(items.map((g) => ({ code: g.code, count: g.count })).sort((a, b) => (a.code < b.code ? -1 : 1))).toEqual(expected.sort((a, b) => (a.code < b.code ? -1 : 1)));
    expect(items.some((g) => g.code.startsWith('g-empty'))).toBe(false);
    // Depth-first: every group comes after its parent.
    items.forEach((g, i) => {
      if (g.parent) expect(items.findIndex((x) => x.code === g.parent)).toBeLessThan(i);
    });
  });

  it('answers a subtree, and 404 for an unknown group', async () => {
    const res = await get('/api/v1/catalog/groups?city=msk&root=g2-1');
    expect(res.json().items.map((g: { code: string }) => g.code).sort()).toEqual(['g2-1', 'g2-1-1', 'g2-1-2'].filter((c) =>
      PRODUCTS.some((p) => onSale(p, 'msk') && subtree(c).has(p.group))));
    expect((await get('/api/v1/catalog/groups?city=msk&root=nope')).statusCode).toBe(404);
  });

  it('a city without a price type has nothing on sale', async () => {
    expect((await get('/api/v1/catalog/groups?city=nsk')).json().items).toEqual([]);
  });
});

/** Every page of a listing, following nextCursor. */
async function allPages(path: string, headers: Record<string, string> = {}, limit = 7) {
  const items: Array<Record<string, unknown>> = [];
  let cursor: string | null = null;
  let first: Record<string, unknown> | undefined;
  for (let i = 0; i < 100; i++) {
    const res = await get(`${path}&limit=${limit}${cursor ? `&facets=false&cursor=${encodeURIComponent(cursor)}` : ''}`, headers);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    first ??= body;
    items.push(...body.items);
    cursor = body.nextCursor;
    if (!cursor) break;
  }
  return { items, first: first! };
}

describe('product listing with facets', () => {
  const r = rng(7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const asks: Ask[] = [
    { city: 'msk', props: {} },
    { city: 'spb', group: 'g1', props: {} },
    { city: 'msk', client: 'C1', props: { brand: ['legrand', 'abb'] }, priceMin: 50000, priceMax: 300000 },
  ];
  // Random combinations of up to three filters over groups, properties, price and stock.
  for (let i = 0; i < 12; i++) {
    const a: Ask = { city: pick(['msk', 'spb']), client: r() < 0.4 ? 'C1' : undefined, props: {} };
    if (r() < 0.5) a.group = pick(GROUPS.filter((g) => !g.code.startsWith('g-empty')).map((g) => g.code));
    const props = ['brand', 'color', 'material', 'section', 'outdoor'];
    const values: Record<string, string[]> = { brand: Object.keys(BRANDS), color: Object.keys(COLORS), material: MATERIALS, section: SECTIONS, outdoor: ['да', 'нет'] };
    for (let k = 0, n = Math.floor(r() * 3); k < n; k++) {
      const prop = pick(props);
      a.props[prop] = [...new Set([pick(values[prop]!), ...(r() < 0.4 ? [pick(values[prop]!)] : [])])];
    }
    if (r() < 0.4) { a.priceMin = Math.floor(r() * 200000); a.priceMax = a.priceMin + Math.floor(r() * 300000); }
    if (r() < 0.3) a.inStock = true;
    asks.push(a);
  }

  it.each(asks.map((a, i) => [i, a] as const))('filters, totals and facets equal a brute-force count (case %i)', async (_i, a) => {
    const headers: Record<string, string> = a.client ? { 'x-client-id': a.client } : {};
    const expected = bruteForce(a);
    const { items, first } = await allPages(url(a), headers);
    expect(first.total).toBe(expected.skus.length);
    expect(items.map((x) => x.sku).sort()).toEqual(expected.skus);
    const facets = first.facets as { properties: Array<{ code: string; values: Array<{ value: string; count: number; selected: boolean }> }>; price: unknown; inStock: number };
    const got = new Map<string, number>();
    for (const p of facets.properties) for (const v of p.values) if (v.count > 0) got.set(`${p.code}=${v.value}`, v.count);
    expect(Object.fromEntries([...got].sort())).toEqual(Object.fromEntries([...expected.facets].sort()));
    for (const p of facets.properties) for (const v of p.values) expect(v.selected).toBe((a.props[p.code] ?? []).includes(v.value));
    expect(facets.price).toEqual(expected.price);
    expect(facets.inStock).toBe(expected.inStock);
  });

  it('shows the client\'s effective price, the city stock and the product data', async () => {
    const p = PRODUCTS.find((x) => onSale(x, 'msk') && x.prices.wholesale !== undefined && stockIn(x, 'msk') > 0)!;
    const { items } = await allPages('/api/v1/catalog/products?city=msk&sort=name', { 'x-client-id': 'C1' }, 100);
    const item = items.find((x) => x.sku === p.sku);
    expect(item).toEqual({
      sku: p.sku, name: p.name, article: null, barcode: null, unit: 'pcs', imageUrl: null,
      group: { code: p.group, name: GROUPS.find((g) => g.code === p.group)!.name },
      price: kop(effective(p, { city: 'msk', client: 'C1', props: {} })!), currency: 'RUB',
      stock: String(stockIn(p, 'msk')), inStock: true, popularity: p.popularity, promotion: null,
    });
    const page = await get('/api/v1/catalog/products?city=msk&limit=1', { 'x-client-id': 'C1' });
    expect(page.json().pricing).toEqual({ priceType: 'wholesale', source: 'agreement', discountPercent: '5', currency: 'RUB' });
  });
});

describe('filter spellings', () => {
  it('prop.<code>=<value> filters like prop=<code>:<value>', async () => {
    const a = (await get('/api/v1/catalog/products?city=msk&prop=brand:legrand&prop=brand:abb&prop=color:white&limit=100&facets=false')).json();
    const b = (await get('/api/v1/catalog/products?city=msk&prop.brand=legrand&prop.brand=abb&prop.color=white&limit=100&facets=false')).json();
    expect(b.total).toBe(bruteForce({ city: 'msk', props: { brand: ['legrand', 'abb'], color: ['white'] } }).skus.length);
    expect(b.items).toEqual(a.items);
  });
});

describe('sorting and cursor pagination', () => {
  const collator = new Intl.Collator('ru');
  const order = (x: number, y: number) => (x === y ? 0 : x < y ? -1 : 1);
  it.each([
    ['price', (a: Record<string, unknown>, b: Record<string, unknown>) => order(Number(a.price ?? Infinity), Number(b.price ?? Infinity))],
    ['-price', (a: Record<string, unknown>, b: Record<string, unknown>) => order(Number(b.price ?? -Infinity), Number(a.price ?? -Infinity))],
    ['name', (a: Record<string, unknown>, b: Record<string, unknown>) => collator.compare(a.name as string, b.name as string)],
    ['-name', (a: Record<string, unknown>, b: Record<string, unknown>) => collator.compare(b.name as string, a.name as string)],
    ['popularity', (a: Record<string, unknown>, b: Record<string, unknown>) => (a.popularity as number) - (b.popularity as number)],
    ['-popularity', (a: Record<string, unknown>, b: Record<string, unknown>) => (b.popularity as number) - (a.popularity as number)],
  ] as const)('sort=%s visits every product once, in order', async (sort, cmp) => {
    // The client's price type lacks some prices: those products sort last both ways.
    const headers = { 'x-client-id': 'C1' };
    const expected = PRODUCTS.filter((p) => onSale(p, 'msk')).map((p) => p.sku).sort();
    const { items } = await allPages(`/api/v1/catalog/products?city=msk&sort=${sort}`, headers, 9);
    expect(items.map((x) => x.sku).sort()).toEqual(expected);
    expect(new Set(items.map((x) => x.sku)).size).toBe(items.length);
    for (let i = 1; i < items.length; i++) expect(cmp(items[i - 1]!, items[i]!), `${sort} at ${i}`).toBeLessThanOrEqual(0);
    if (sort.endsWith('price')) expect(items[items.length - 1]!.price).toBeNull();
  });
});

describe('bad requests', () => {
  it('refuses a cursor made for another sort, or not made by the API', async () => {
    const first = (await get('/api/v1/catalog/products?city=msk&sort=price&limit=2')).json();
    const other = await get(`/api/v1/catalog/products?city=msk&sort=name&cursor=${first.nextCursor}`);
    expect(other.statusCode).toBe(400);
    expect(other.json().problems).toEqual([expect.objectContaining({ path: '/querystring/cursor', rule: 'cursor' })]);
    expect((await get('/api/v1/catalog/products?city=msk&cursor=bm9wZQ')).statusCode).toBe(400);
  });

  it('answers 404 for an unknown group and 400 for an unknown property', async () => {
    expect((await get('/api/v1/catalog/products?city=msk&group=nope')).statusCode).toBe(404);
    const res = await get('/api/v1/catalog/products?city=msk&prop=weight:5');
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toContain("property 'weight'");
  });

  it('validates the query string with the path and rule', async () => {
    const res = await get('/api/v1/catalog/products?city=msk&limit=1000&sort=cost');
    expect(res.statusCode).toBe(400);
    expect(res.json().problems.map((p: { path: string }) => p.path).sort()).toEqual(['/querystring/limit', '/querystring/sort']);
  });

  it('needs an API key', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/catalog/products?city=msk' });
    expect(res.statusCode).toBe(401);
  });
});

describe('catalog offers follow the store', () => {
  // Pages read a city's precomputed offers (src/portal/offers.ts); a change to prices, stock or
  // products must show from the next read, whichever path wrote it.
  const skusOf = async (path: string) => (await allPages(path, {}, 100)).items.map((x) => x.sku as string);

  it('a price dropping to zero or a stock running out shows in the next page', async () => {
    const p = PRODUCTS.find((x) => onSale(x, 'msk') && stockIn(x, 'msk') > 0)!;
    const id = Number((await tp.rt.pool.query(`SELECT id FROM products WHERE code = $1`, [p.sku])).rows[0].id);
    const pt = `(SELECT id FROM price_types WHERE code = 'retail-msk')`;
    const wh = `(SELECT id FROM warehouses WHERE city_id = (SELECT id FROM cities WHERE code = 'msk'))`;
    const base = `/api/v1/catalog/products?city=msk&group=${p.group}`;
    expect(await skusOf(`${base}&inStock=true`)).toContain(p.sku);

    const saved = (await tp.rt.pool.query(`SELECT warehouse_id, quantity FROM stock WHERE product_id = $1 AND warehouse_id IN ${wh}`, [id])).rows;
    await tp.rt.pool.query(`UPDATE stock SET quantity = 0 WHERE product_id = $1 AND warehouse_id IN ${wh}`, [id]);
    try {
      expect(await skusOf(`${base}&inStock=true`)).not.toContain(p.sku);
      expect(await skusOf(base)).toContain(p.sku);
    } finally {
      for (const s of saved) await tp.rt.pool.query(`UPDATE stock SET quantity = $3 WHERE product_id = $1 AND warehouse_id = $2`, [id, s.warehouse_id, s.quantity]);
    }
    expect(await skusOf(`${base}&inStock=true`)).toContain(p.sku);

    const price = (await tp.rt.pool.query(`SELECT value FROM prices WHERE product_id = $1 AND price_type_id = ${pt}`, [id])).rows[0].value;
    await tp.rt.pool.query(`UPDATE prices SET value = 0 WHERE product_id = $1 AND price_type_id = ${pt}`, [id]);
    try {
      expect(await skusOf(base)).not.toContain(p.sku);
    } finally {
      await tp.rt.pool.query(`UPDATE prices SET value = $2 WHERE product_id = $1 AND price_type_id = ${pt}`, [id, price]);
    }
    expect(await skusOf(base)).toContain(p.sku);
  });

  it('a product deleted by a flow leaves the listing and the group counts at once', async () => {
    const p = PRODUCTS.find((x) => onSale(x, 'spb'))!;
    const count = async () => ((await get(`/api/v1/catalog/groups?city=spb`)).json().items as Array<{ code: string; count: number }>).find((g) => g.code === p.group)?.count ?? 0;
    const before = await count();
    expect(await skusOf(`/api/v1/catalog/products?city=spb&group=${p.group}`)).toContain(p.sku);
    await tp.applyFlowYaml(`apiVersion: magistral/v1
kind: Flow
name: product-deletions
source: { connector: file.csv, system: local, options: { delimiter: auto, encoding: auto } }
mapping: file/products.yaml
target: products
mode: delta
`);
    await load('product-deletions', csv('sku;name;group;unit;deleted;popularity', [`${p.sku};${p.name};${p.group};pcs;да;${p.popularity}`]));
    try {
      expect(await skusOf(`/api/v1/catalog/products?city=spb&group=${p.group}`)).not.toContain(p.sku);
      expect(await count()).toBe(before - 1);
    } finally {
      await load('product-deletions', csv('sku;name;group;unit;deleted;popularity', [`${p.sku};${p.name};${p.group};pcs;;${p.popularity}`]));
    }
    expect(await count()).toBe(before);
  });

  it('the workers rebuild stale offers once the version has held still for a tick', async () => {
    await get('/api/v1/catalog/products?city=msk&limit=1');
    const state = async () => (await tp.rt.pool.query(`SELECT version FROM catalog_offers_state WHERE city_id = (SELECT id FROM cities WHERE code = 'msk')`)).rows[0].version as string;
    const built = await state();
    await tp.rt.pool.query(`UPDATE products SET popularity = popularity + 1 WHERE code = $1`, [PRODUCTS[0]!.sku]);
    await tp.rt.pool.query(`UPDATE products SET popularity = popularity - 1 WHERE code = $1`, [PRODUCTS[0]!.sku]);
    const first = await refreshStaleOffers(tp.rt.db, undefined);
    expect(first.builds).toEqual([]); // a changed version: wait a tick
    expect(await state()).toBe(built);
    const second = await refreshStaleOffers(tp.rt.db, first.seen);
    expect(second.builds.map((b) => b.cityId)).toContain(Number((await tp.rt.pool.query(`SELECT id FROM cities WHERE code = 'msk'`)).rows[0].id));
    expect(await state()).toBe(second.seen);
    expect((await refreshStaleOffers(tp.rt.db, second.seen)).builds).toEqual([]);
  });
});
