// A flow's cityPriceTypes (issue 17: 1C products imported through the README's 1C flow were invisible in the
// portal, their price type bound to no city, and nothing said so). On the real PostgreSQL, Redis and workers,
// with the 1C sample of three price types: the flow binds a city to a price type by its 1C name, the city's
// catalog then shows the 1C products at that price, the binding follows a changed flow, and `flows show`'s
// warnings name each price type whose prices nobody sees (with their count) and each binding that waits for
// an unknown city or price type. A binding on a flow of another target is refused when the flow is applied.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ONEC_SAMPLES } from '../helpers/samples.ts';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { getFlow } from '../../src/pipeline/flows.ts';
import { visibilityWarnings } from '../../src/pipeline/city-price-types.ts';
import { ensureOffers } from '../../src/portal/offers.ts';

const OFFERS = readFileSync(path.join(ONEC_SAMPLES, '05_offers_cml208_3-price-types.xml'));

const flow = (name: string, target: string, mapping: string, extra = ''): string => `
apiVersion: magistral/v1
kind: Flow
name: ${name}
source: { connector: onec.commerceml, system: onec }
mapping: [${mapping}]
target: ${target}
mode: delta
${extra}
`;

let tp: TestPipeline;
const cityOf = async (code: string) => (await tp.rt.pool.query<{ pt: string | null }>(
  `SELECT pt.name AS pt FROM cities c LEFT JOIN price_types pt ON pt.id = c.price_type_id WHERE c.code = $1`, [code])).rows[0]?.pt;

beforeAll(async () => {
  tp = await createTestPipeline('citypt');
  await tp.applyFlowFile('ops/flows/cities-csv.yaml');
  const cities = await tp.ingest('cities-csv', 'code;name\nmsk;Москва\nspb;Санкт-Петербург\n', 'cities.csv');
  expect(cities.state).toBe('done');
  await tp.applyFlowYaml([
    flow('onec-price-types', 'priceTypes', 'onec/price-types.yaml', 'cityPriceTypes: { msk: ЦП, ekb: ЦПУ }'),
    flow('onec-products', 'products', 'onec/products.yaml, onec/offers.yaml'),
    flow('onec-prices', 'prices', 'onec/prices.yaml'),
  ].join('---\n'));
}, 60_000);
afterAll(async () => {
  await tp?.close();
});

describe('binding cities to the price types a flow brings', () => {
  it('before the 1C prices arrive, flows show says the binding waits for them and for the unknown city', async () => {
    const f = await getFlow(tp.rt.db, 'onec-price-types');
    // The stored definition is jsonb: the bindings' order is the store's, not the file's.
    expect((await visibilityWarnings(tp.rt.db, f)).sort()).toEqual([
      "cityPriceTypes: city 'ekb' is not known (cities come from a cities flow); the binding waits for it",
      "cityPriceTypes: price type 'ЦП' (system onec) has not arrived yet, by code or by name; city 'msk' keeps its price type",
    ]);
  });

  it('binds the city by the 1C name of the price type, so its catalog shows the 1C products; the others are named as invisible', async () => {
    for (const name of ['onec-price-types', 'onec-products', 'onec-prices']) {
      const run = await tp.ingest(name, OFFERS, 'offers.xml');
      expect(run.state, name).toBe('done');
    }
    expect(await cityOf('msk')).toBe('ЦП');
    expect(await cityOf('spb')).toBeNull();
    const msk = (await tp.rt.pool.query<{ id: number }>(`SELECT id FROM cities WHERE code = 'msk'`)).rows[0]!.id;
    const built = await ensureOffers(tp.rt.db, msk);
    expect(built?.offers).toBeGreaterThan(0);
    const shown = await tp.rt.pool.query<{ n: number; priced: number }>(`
      SELECT count(*)::int AS n, count(*) FILTER (WHERE o.price = p.value)::int AS priced FROM catalog_offers o
      JOIN prices p ON p.product_id = o.product_id JOIN price_types pt ON pt.id = p.price_type_id AND pt.name = 'ЦП'
      WHERE o.city_id = $1`, [msk]);
    expect(shown.rows[0]!.n).toBe(built!.offers);
    expect(shown.rows[0]!.priced).toBe(built!.offers);

    const counts = (await tp.rt.pool.query<{ name: string; n: number }>(`
      SELECT pt.name, count(*)::int AS n FROM prices p JOIN price_types pt ON pt.id = p.price_type_id GROUP BY 1`)).rows;
    const n = (name: string) => counts.find((c) => c.name === name)!.n;
    const warnings = await visibilityWarnings(tp.rt.db, await getFlow(tp.rt.db, 'onec-prices'));
    expect(warnings.sort()).toEqual([
      `price type a5d63ccd-7df9-11e8-80fc-0050569b0657 (ЦПУ) is bound to no city and no agreement: ${n('ЦПУ')} prices are not visible (bind it: cityPriceTypes: { <city code>: "ЦПУ" })`,
      `price type db7b09f3-94c2-11e8-810b-0050569b5454 (Цена поставщика) is bound to no city and no agreement: ${n('Цена поставщика')} prices are not visible (bind it: cityPriceTypes: { <city code>: "Цена поставщика" })`,
    ].sort());
  });

  it('follows a changed binding on the next run, by code as well as by name', async () => {
    await tp.applyFlowYaml(flow('onec-price-types', 'priceTypes', 'onec/price-types.yaml', 'cityPriceTypes: { msk: a5d63ccd-7df9-11e8-80fc-0050569b0657, spb: ЦП }'));
    const run = await tp.ingest('onec-price-types', OFFERS, 'offers-again.xml');
    expect(run.state).toBe('done');
    expect(await cityOf('msk')).toBe('ЦПУ');
    expect(await cityOf('spb')).toBe('ЦП');
    const warnings = await visibilityWarnings(tp.rt.db, await getFlow(tp.rt.db, 'onec-prices'));
    expect(warnings.map((w) => w.split(' is bound')[0])).toEqual(['price type db7b09f3-94c2-11e8-810b-0050569b5454 (Цена поставщика)']);
  });

  it('refuses a binding on a flow that brings neither price types nor prices', async () => {
    await expect(tp.applyFlowYaml(flow('onec-stock', 'stock', 'onec/stock.yaml', 'cityPriceTypes: { msk: ЦП }')))
      .rejects.toThrow(/cityPriceTypes binds price types to cities: it belongs on a flow of priceTypes or prices, not 'stock'/);
  });
});
