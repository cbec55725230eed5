// A catalog's first load refreshes the statistics of external_ids in its merge (as placeholder creation
// does): left to autovacuum, the next price snapshot planned on an external_ids that looked empty and
// its unknown-code check ran a nested loop over every new id for minutes (bench:freshness, 50,000 ids).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPipeline, csv, type TestPipeline } from '../helpers/pipeline.ts';

describe('statistics after a dimension merge', () => {
  let tp: TestPipeline;
  beforeAll(async () => {
    tp = await createTestPipeline('dimstats');
    await tp.startWorkers();
    await tp.applyFlowFile('ops/flows/products-csv.yaml');
  });
  afterAll(async () => {
    await tp?.close();
  });

  const estimate = async (): Promise<number> =>
    Number((await tp.rt.pool.query<{ n: number }>(`SELECT reltuples AS n FROM pg_class WHERE relname = 'external_ids'`)).rows[0]!.n);

  it('a merge creating more than 500 products leaves external_ids analyzed with them', async () => {
    const rows = Array.from({ length: 2_000 }, (_, i) => `STAT-${i};Товар ${i}`);
    const run = await tp.ingest('products-csv', csv('sku;name', rows), 'products.csv');
    expect(run.state).toBe('done');
    expect(run.rows.inserted).toBe(2_000);
    // The planner's row estimate: -1 (never analyzed) or 0 before, the rows the merge wrote after.
    expect(await estimate()).toBeGreaterThanOrEqual(2_000);
  });
});
