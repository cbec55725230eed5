// Promotion (migration 0022): a products flow carries a promotion label, the catalog shows it and
// sorts promoted products first (then by popularity), across cursor pages; a later export of the
// product without the label ends the promotion. On the demo data, loaded through the real flows.
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/api/index.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { createApiKey } from '../../src/portal/keys.ts';
import { registry } from '../helpers/registry.ts';
import { csv, type TestPipeline } from '../helpers/pipeline.ts';
import { demoStore } from '../search/demo-store.ts';

let tp: TestPipeline;
let app: FastifyInstance;
let key: string;

interface Item { sku: string; popularity: number; promotion: string | null }
const page = async (qs: string): Promise<{ items: Item[]; nextCursor: string | null; total: number }> => {
  const res = await app.inject({ method: 'GET', url: `/api/v1/catalog/products?${qs}`, headers: { authorization: `Bearer ${key}` } });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
};

beforeAll(async () => {
  tp = await demoStore('promo');
  app = await buildServer({ registry, config: tp.config, db: tp.rt.db, pool: tp.rt.pool, queues: tp.rt.queues, log: pino({ level: 'silent' }), metrics: createMetrics(), mode: 'full' });
  key = (await createApiKey(tp.rt.db, { name: 'frontend', scopes: ['catalog:read'], ratePerMin: 100_000 })).key;
}, 180_000);

afterAll(async () => {
  await app?.close();
  await tp?.close();
}, 120_000);

describe('sort by promotion', () => {
  it('promoted products first, each group by popularity, across cursor pages', async () => {
    const seen: Item[] = [];
    let cursor: string | null = null;
    do {
      const p = await page(`group=breakers&sort=-promotion&limit=7&facets=false${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...p.items);
      cursor = p.nextCursor;
    } while (cursor);
    const all = await page('group=breakers&limit=100&facets=false');
    expect(seen.map((x) => x.sku).sort()).toEqual(all.items.map((x) => x.sku).sort());
    const promoted = seen.filter((x) => x.promotion !== null);
    // ops/demo/products.csv marks SKU-00005 «Акция» and SKU-00023 among the breakers.
    expect(promoted.map((x) => x.sku)).toEqual(expect.arrayContaining(['SKU-00005']));
    expect(seen.slice(0, promoted.length)).toEqual(promoted);
    for (const part of [promoted, seen.slice(promoted.length)]) {
      for (let i = 1; i < part.length; i++) expect(part[i - 1]!.popularity).toBeGreaterThanOrEqual(part[i]!.popularity);
    }
    expect(seen.find((x) => x.sku === 'SKU-00005')!.promotion).toBe('Акция');
  });

  it('an export of the product without the label ends its promotion', async () => {
    const row = (await tp.rt.pool.query(`SELECT p.name, p.article, p.barcode, g.code AS grp FROM products p JOIN groups g ON g.id = p.group_id WHERE p.code = 'SKU-00005'`)).rows[0];
    const run = await tp.ingest('products-csv', csv('sku;name;article;barcode;group;unit', [`SKU-00005;${row.name};${row.article};${row.barcode};${row.grp};pcs`]), 'products.csv');
    expect(run.state).toBe('done');
    const first = await page('group=breakers&sort=-promotion&limit=100&facets=false');
    expect(first.items.find((x) => x.sku === 'SKU-00005')!.promotion).toBeNull();
    const promoted = first.items.filter((x) => x.promotion !== null).length;
    expect(first.items.findIndex((x) => x.sku === 'SKU-00005')).toBeGreaterThanOrEqual(promoted);
  });
});
