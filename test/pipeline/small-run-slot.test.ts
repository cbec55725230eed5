// A small run is read while big runs hold every configured reader: each worker keeps one reader (and one
// merger) for runs of at most MAGISTRAL_SMALL_RUN_BYTES (workers/small-runs.ts). Before, a one-row delta
// sent while two snapshots of other flows were being read waited for one of those reads to end
// (bench:freshness: queued p95 1–1.6 s at 100k rows, seconds at 2M). With MAGISTRAL_SMALL_RUN_BYTES=0 (no
// slot kept, the code before) this test fails: the delta is read only after a snapshot's read has ended.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForRun } from '../../src/pipeline/runs.ts';
import { createTestPipeline, csv, pricesFlow, type TestPipeline } from '../helpers/pipeline.ts';

const HEADER = 'sku;price_type;price;currency';
const PRODUCTS = 5000;
/** 400,000 rows (~12 MB): a staged read of some seconds, far above the small-run threshold. */
const TYPES = 80;

function bigPayload(prefix: string, salt: number): string {
  const rows: string[] = [];
  for (let t = 0; t < TYPES; t++) for (let p = 0; p < PRODUCTS; p++) rows.push(`P${p};${prefix}${t};${100 + ((p * 7 + t * 13 + salt) % 90000)}.${p % 100};RUB`);
  return csv(HEADER, rows);
}

describe('a reader kept for small runs', () => {
  let tp: TestPipeline;
  beforeAll(async () => {
    // The pool of a real process (runtime.ts: 12): two big reads hold ~3 connections each; with the test
    // default of 6 the delta would wait for a connection instead of a reader.
    tp = await createTestPipeline('smallslot', { poolSize: 12, env: { MAGISTRAL_EXTRACT_CONCURRENCY: '2', ...(process.env.SMALL_SLOT_OFF ? { MAGISTRAL_SMALL_RUN_BYTES: '0' } : {}) } });
    for (const f of [pricesFlow('big-a', 'autoCreate: true', 'snapshot'), pricesFlow('big-b', 'autoCreate: true', 'snapshot'), pricesFlow('small', 'autoCreate: true')]) {
      await tp.applyFlowYaml(f);
    }
    // First loads (straight into empty partitions, under the target's lock): the runs below are staged reads.
    for (const [flow, body] of [['big-a', bigPayload('A', 0)], ['big-b', bigPayload('B', 0)], ['small', csv(HEADER, ['P1;S1;1.00;RUB'])]] as const) {
      expect((await tp.ingest(flow, body, `${flow}.csv`)).state).toBe('done');
    }
  }, 180_000);
  afterAll(async () => {
    await tp?.close();
  });

  it('reads and merges a one-row delta while two snapshots hold both configured readers', async () => {
    const bigs = [await tp.send('big-a', bigPayload('A', 1), 'big-a-2.csv'), await tp.send('big-b', bigPayload('B', 1), 'big-b-2.csv')];
    // Both readers busy with the snapshots.
    await expect.poll(async () => (await tp.rt.pool.query(`SELECT 1 FROM runs WHERE id = ANY($1::bigint[]) AND state = 'extracting'`, [bigs])).rowCount,
      { timeout: 30_000, interval: 20 }).toBe(2);
    const small = await tp.send('small', csv(HEADER, ['P1;S1;2.00;RUB']), 'delta.csv');
    expect((await waitForRun(tp.rt.db, small, { timeoutMs: 60_000, intervalMs: 20 })).state).toBe('done');
    const states = (await tp.rt.pool.query<{ id: string; state: string; staged: boolean }>(
      `SELECT id, state, staged_at < (SELECT finished_at FROM runs WHERE id = $2) AS staged FROM runs WHERE id = ANY($1::bigint[]) ORDER BY id`, [bigs, small])).rows;
    // The delta was read and merged before either snapshot's read had ended.
    expect(states.map((s) => s.staged ?? false)).toEqual([false, false]);
    expect((await tp.rt.pool.query(`SELECT (x.value = 2) AS v FROM prices x JOIN products p ON p.id = x.product_id
      JOIN price_types t ON t.id = x.price_type_id WHERE p.code = 'P1' AND t.code = 'S1'`)).rows[0]?.v).toBe(true);
    for (const id of bigs) expect((await waitForRun(tp.rt.db, id, { timeoutMs: 120_000, intervalMs: 100 })).state).toBe('done');
  }, 240_000);
});
