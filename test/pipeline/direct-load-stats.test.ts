// A direct load publishes the codes it created together with their statistics: a merge that starts
// right after its commit (the sweeper may enqueue one at once) must not plan its joins on external_ids
// as if the table were still small. Shown by holding ANALYZE back: the load may not commit before its
// statistics are taken.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPipeline, csv, type TestPipeline } from '../helpers/pipeline.ts';

describe('direct load and external_ids statistics', () => {
  let tp: TestPipeline;
  beforeAll(async () => {
    tp = await createTestPipeline('dstats');
    await tp.applyFlowFile('ops/flows/prices-csv.yaml');
    await tp.rt.pool.query('ANALYZE external_ids');
  });
  afterAll(async () => {
    await tp?.close();
  });

  it('commits the new codes only with their statistics', async () => {
    const rows = Array.from({ length: 600 }, (_, i) => `N-${i};retail;${i + 1};RUB`);
    const holder = await tp.rt.pool.connect();
    let runId = 0;
    try {
      // ANALYZE of external_ids waits while this lock is held.
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE external_ids IN SHARE UPDATE EXCLUSIVE MODE');
      runId = await tp.send('prices-csv', csv('sku;price_type;price;currency', rows), 'prices.csv');
      const states = new Set<string>();
      for (let i = 0; i < 30; i++) {
        states.add((await tp.rt.pool.query(`SELECT state FROM runs WHERE id = $1`, [runId])).rows[0].state as string);
        await new Promise((r) => setTimeout(r, 100));
      }
      // Loaded, but not committed: the rows and the run's end wait for the statistics.
      expect(states.has('done')).toBe(false);
      expect((await tp.rt.pool.query(`SELECT count(*)::int AS n FROM prices`)).rows[0].n).toBe(0);
      await holder.query('COMMIT');
    } finally {
      holder.release();
    }
    for (let i = 0; i < 100 && (await tp.rt.pool.query(`SELECT state FROM runs WHERE id = $1`, [runId])).rows[0].state !== 'done'; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const run = (await tp.rt.pool.query(`SELECT state, load_path FROM runs WHERE id = $1`, [runId])).rows[0];
    expect(run).toEqual({ state: 'done', load_path: 'direct' });
    const stats = await tp.rt.pool.query(`SELECT reltuples::int AS n FROM pg_class WHERE relname = 'external_ids'`);
    expect(stats.rows[0].n).toBeGreaterThanOrEqual(600);
  });
});
