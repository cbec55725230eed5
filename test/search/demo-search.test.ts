// Search and autocomplete of /api/v1 on the demo data set (loaded through the real flows), for the
// faults found by trying them on it (issue 13): a query whose words begin indexed words is matched
// by those beginnings, never "corrected" into another word (`авт` was read as `вт` and found 40-watt
// lamps; `автомат вык` lost `автомат`; `авт выкл` suggested nothing).
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/api/index.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { createApiKey } from '../../src/portal/keys.ts';
import { registry } from '../helpers/registry.ts';
import type { TestPipeline } from '../helpers/pipeline.ts';
import { demoStore } from './demo-store.ts';

let tp: TestPipeline;
let app: FastifyInstance;
let key: string;
/** Names of the products on sale in Moscow (the default city), by what they start with. */
let onSale: (start: string) => Promise<number>;

interface SearchAnswer { corrected: string | null; ignored: string[]; total: number; items: Array<{ sku: string; name: string; price: string | null }> }
interface SuggestAnswer {
  corrected: string | null;
  ignored: string[];
  suggestions: Array<{ kind: string; text: string; count: number }>;
  products: Array<{ sku: string; name: string; price: string | null }>;
}

const get = async (url: string) => {
  const res = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${key}` } });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
};
const search = (q: string): Promise<SearchAnswer> => get(`/api/v1/search?limit=100&q=${encodeURIComponent(q)}`);
const suggest = (q: string): Promise<SuggestAnswer> => get(`/api/v1/search/suggest?q=${encodeURIComponent(q)}`);

beforeAll(async () => {
  tp = await demoStore('dsearch');
  app = await buildServer({ registry, config: tp.config, db: tp.rt.db, pool: tp.rt.pool, queues: tp.rt.queues, log: pino({ level: 'silent' }), metrics: createMetrics(), mode: 'full' });
  key = (await createApiKey(tp.rt.db, { name: 'frontend', scopes: ['catalog:read'], ratePerMin: 100_000 })).key;
  onSale = async (start) => (await tp.rt.pool.query(`
    SELECT count(*)::int AS n FROM products p JOIN prices x ON x.product_id = p.id AND x.value > 0
    JOIN price_types t ON t.id = x.price_type_id AND t.code = 'retail'
    WHERE p.name LIKE $1 AND NOT p.deleted`, [`${start}%`])).rows[0].n;
}, 180_000);

afterAll(async () => {
  await app?.close();
  await tp?.close();
}, 120_000);

describe('words that begin indexed words are matched as prefixes, never corrected away', () => {
  it('авт finds the circuit breakers, not the 40 W lamps', async () => {
    const breakers = await onSale('Автоматический выключатель');
    expect(breakers).toBeGreaterThan(50);
    const r = await search('авт');
    expect(r.corrected).toBeNull();
    expect(r.ignored).toEqual([]);
    expect(r.total).toBe(breakers);
    for (const x of r.items) expect(x.name).toMatch(/^Автоматический выключатель/);
  });

  it('автомат вык keeps автомат: the breakers, not every switch and socket', async () => {
    const r = await search('автомат вык');
    expect(r.ignored).toEqual([]);
    expect(r.corrected).toBeNull();
    expect(r.total).toBe(await onSale('Автоматический выключатель'));
    for (const x of r.items) expect(x.name).toMatch(/^Автоматический выключатель/);
    const s = await suggest('автомат вык');
    expect(s.ignored).toEqual([]);
    expect(s.products.length).toBeGreaterThan(0);
    for (const x of s.products) expect(x.name).toMatch(/^Автоматический выключатель/);
  });

  it('suggest авт выкл: completions and breakers with their prices', async () => {
    const s = await suggest('авт выкл');
    expect(s.corrected).toBeNull();
    expect(s.suggestions).toContainEqual(expect.objectContaining({ kind: 'query', text: 'авт выключатель' }));
    expect(s.suggestions).toContainEqual(expect.objectContaining({ kind: 'group', text: 'Автоматические выключатели' }));
    expect(s.products).toHaveLength(5);
    for (const x of s.products) {
      expect(x.name).toMatch(/^Автоматический выключатель/);
      expect(x.price).toMatch(/^\d+\.\d{2}$/);
    }
  });

  it('a beginning typed on the other layout: hjp → роз', async () => {
    const r = await search('hjp');
    expect(r.corrected).toBe('роз');
    expect(r.total).toBe(await onSale('Розетка'));
  });

  it('a short word is never shortened into another one: квт is not вт', async () => {
    const r = await search('квт');
    expect(r.corrected).toBeNull();
    expect(r.ignored).toEqual(['квт']);
    expect(r.total).toBe(0);
  });
});

describe('led on the demo data (synonym of светодиодный, ops/demo/synonyms.csv)', () => {
  it('led and лампа led find the LED lamps', async () => {
    const lamps = await onSale('Светильник светодиодный');
    expect(lamps).toBeGreaterThan(0);
    for (const q of ['led', 'лампа led', 'LED']) {
      const r = await search(q);
      expect(r.corrected, q).toBeNull();
      expect(r.ignored, q).toEqual([]);
      expect(r.total, q).toBe(lamps);
    }
    const s = await suggest('лампа led');
    expect(s.products.length).toBeGreaterThan(0);
    for (const x of s.products) expect(x.name).toMatch(/^Светильник светодиодный/);
  });
});

describe('the understanding that worked stays', () => {
  it('wrong layout, typos and morphology on the demo data', async () => {
    const layout = await search('hjptnrf');
    expect(layout.corrected).toBe('розетка');
    expect(layout.total).toBe(await onSale('Розетка'));
    const typo = await search('кабнль');
    expect(typo.corrected).toBe('кабель');
    expect(typo.total).toBe(await onSale('Кабель'));
    expect((await search('розетки')).total).toBe(await onSale('Розетка'));
  });
});
