// The sweeper drops the staging tables that ended runs left behind (a merge's DROP after its commit that
// PostgreSQL never answered: the fault suite restarts it right there), and no other: an open run's, one
// kept for a snapshot group's finalize, and one somebody holds a lock on (skipped, not waited for).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractRun } from '../../src/pipeline/extract/index.ts';
import { mergeRun } from '../../src/pipeline/merge.ts';
import { sweep } from '../../src/pipeline/runs.ts';
import { stagingTable } from '../../src/pipeline/staging-table.ts';
import { createTestPipeline, csv, DELTA_PRICES_FLOW, type TestPipeline } from '../helpers/pipeline.ts';

const H = 'sku;price_type;price;currency';

describe('staging tables left by ended runs', () => {
  let tp: TestPipeline;
  beforeAll(async () => {
    tp = await createTestPipeline('stagsweep', { workers: false });
    await tp.applyFlowYaml(DELTA_PRICES_FLOW);
  });
  afterAll(async () => {
    await tp?.close();
  });

  const tables = async (): Promise<string[]> =>
    (await tp.rt.pool.query<{ t: string }>(`SELECT 'staging.' || tablename AS t FROM pg_tables WHERE schemaname = 'staging' ORDER BY tablename`)).rows.map((r) => r.t);

  /** A run through extract and merge by hand; returns its id once it is done. */
  async function doneRun(sku: string): Promise<number> {
    const id = await tp.send('prices-csv', csv(H, [`${sku};base;1;RUB`]));
    if ((await extractRun(tp.rt, id)) === 'staged') expect(await mergeRun(tp.rt, id)).toBe('done');
    expect((await tp.rt.pool.query('SELECT state FROM runs WHERE id = $1', [id])).rows[0].state).toBe('done');
    return id;
  }

  /** What a merge leaves when PostgreSQL went away between its commit and its DROP. */
  const leaveStaging = (id: number) => tp.rt.pool.query(`CREATE UNLOGGED TABLE ${stagingTable(id)} (sku text)`);

  it('drops those of done runs, keeps an open run\'s and a kept one, skips a locked one until it is free', async () => {
    const left = await doneRun('A');
    const kept = await doneRun('B');
    const locked = await doneRun('C');
    for (const id of [left, kept, locked]) await leaveStaging(id);
    await tp.rt.pool.query('UPDATE runs SET staging_kept = true WHERE id = $1', [kept]);
    const open = await tp.send('prices-csv', csv(H, ['D;base;1;RUB']));
    expect(await extractRun(tp.rt, open)).toBe('staged');
    const holder = await tp.rt.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`LOCK TABLE ${stagingTable(locked)} IN ACCESS SHARE MODE`);
      const started = Date.now();
      await sweep(tp.rt);
      // Skipped after its lock_timeout (100 ms), not waited for: the sweep re-enqueues runs too.
      expect(Date.now() - started).toBeLessThan(2000);
      expect(await tables()).toEqual([stagingTable(kept), stagingTable(locked), stagingTable(open)].sort());
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    await sweep(tp.rt);
    expect(await tables()).toEqual([stagingTable(kept), stagingTable(open)].sort());
    // The open run's staging was its own: it merges as before.
    expect(await mergeRun(tp.rt, open)).toBe('done');
    expect(await tables()).toEqual([stagingTable(kept)]);
  });
});
