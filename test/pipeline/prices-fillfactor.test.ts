// A snapshot that changes a price rewrites its row on the row's own page (a HOT update): the price
// partitions keep room for the next version of a row (migration 0042). With full pages every new
// version went to another page, with a new primary-key entry and full-page images of three pages in the
// WAL; bench:ingest's 1 % snapshot makes 100,000 such updates at 10M rows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractRun } from '../../src/pipeline/extract/index.ts';
import { mergeRun } from '../../src/pipeline/merge.ts';
import { createTestPipeline, csv, pricesFlow, type TestPipeline } from '../helpers/pipeline.ts';

const H = 'sku;price_type;price;currency';

describe('prices keep room for the next version of a row', () => {
  let tp: TestPipeline;
  beforeAll(async () => {
    tp = await createTestPipeline('prices-fillfactor', { workers: false });
    await tp.applyFlowYaml(pricesFlow('ff-prices', '', 'snapshot'));
  });
  afterAll(async () => {
    await tp?.close();
  });

  async function run(lines: string[]): Promise<void> {
    const id = await tp.send('ff-prices', csv(H, lines));
    if ((await extractRun(tp.rt, id)) === 'staged') expect(await mergeRun(tp.rt, id)).toBe('done');
  }

  /** The page a product's price is on, and its value. */
  async function where(sku: string): Promise<{ page: number; value: string }> {
    const r = await tp.rt.pool.query<{ ctid: string; value: string }>(`SELECT p.ctid::text AS ctid, p.value::text AS value FROM prices p
      JOIN products pr ON pr.id = p.product_id WHERE pr.code = $1`, [sku]);
    return { page: Number(r.rows[0]!.ctid.slice(1).split(',')[0]), value: r.rows[0]!.value };
  }

  it('a changed price stays on its page, in a partition written full by a first load', async () => {
    const rows = Array.from({ length: 3000 }, (_, p) => `SKU${p};RETAIL;${p}.00;RUB`);
    await run(rows);
    // Rows of pages the first load filled (not the last, partly filled one).
    const skus = ['SKU10', 'SKU500', 'SKU1000'];
    const before = await Promise.all(skus.map(where));
    expect(new Set(before.map((b) => b.page)).size).toBe(3);
    const next = rows.map((l) => (skus.includes(l.split(';')[0]!) ? l.replace(/;\d+\.00;/, ';7.25;') : l));
    await run(next);
    const after = await Promise.all(skus.map(where));
    expect(after.map((a) => a.value)).toEqual(['7.250000', '7.250000', '7.250000']);
    expect(after.map((a) => a.page)).toEqual(before.map((b) => b.page));
  });
});
