// A run is merged by one worker at a time: the merge claims the run and its lock in one statement before
// it trusts the run's state, so a second job for the same run (a sweeper after a Redis restart) finds it
// busy and merges nothing. Real PostgreSQL; the stages are driven by hand.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractRun } from '../../src/pipeline/extract/index.ts';
import { mergeLockKey } from '../../src/pipeline/locks.ts';
import { mergeRun } from '../../src/pipeline/merge.ts';
import { getRun } from '../../src/pipeline/runs.ts';
import { bigPricesPayload, createTestPipeline, csv, DELTA_PRICES_FLOW, pricesPicture, type TestPipeline } from '../helpers/pipeline.ts';

describe('the merge claim', () => {
  let tp: TestPipeline;
  beforeAll(async () => {
    tp = await createTestPipeline('mergeclaim', { workers: false });
    await tp.applyFlowYaml(DELTA_PRICES_FLOW);
  });
  afterAll(async () => {
    await tp?.close();
  });

  it('leaves a run another worker is merging alone, then merges it once that worker is gone', async () => {
    // A first load goes straight into the empty table; the second payload goes through staging and merge.
    const first = await tp.send('prices-csv', csv('sku;price_type;price;currency', ['A;retail;1;RUB']), 'first.csv');
    expect(await extractRun(tp.rt, first)).toBe('merged');
    const run = await tp.send('prices-csv', csv('sku;price_type;price;currency', ['A;retail;2;RUB']), 'second.csv');
    expect(await extractRun(tp.rt, run)).toBe('staged');
    const other = await tp.rt.pool.connect();
    try {
      await other.query('SELECT pg_advisory_lock($1::bigint)', [mergeLockKey(run)]);
      expect(await mergeRun(tp.rt, run)).toBe('busy');
      const r = await getRun(tp.rt.db, run);
      expect(r.state).toBe('staged');
      expect(r.rows.updated).toBe(0);
      expect(await pricesPicture(tp)).toEqual(['A|retail|1.000000|RUB']);
      await other.query('SELECT pg_advisory_unlock($1::bigint)', [mergeLockKey(run)]);
    } finally {
      other.release();
    }
    expect(await mergeRun(tp.rt, run)).toBe('done');
    expect(await mergeRun(tp.rt, run)).toBe('skipped');
    const done = await getRun(tp.rt.db, run);
    expect(done.state).toBe('done');
    expect(done.rows.updated).toBe(1);
    expect(await pricesPicture(tp)).toEqual(['A|retail|2.000000|RUB']);
    // The lock went back with the merge: nobody holds it any more.
    const free = await tp.rt.pool.query('SELECT pg_try_advisory_lock($1::bigint) AS ok', [mergeLockKey(run)]);
    expect(free.rows[0].ok).toBe(true);
    await tp.rt.pool.query('SELECT pg_advisory_unlock_all()');
  });
});

// Two jobs of one run taking it at the same instant (a sweeper's job racing the producer's): exactly
// one merges; the other is told busy (the lock is held) or skipped (the run has moved on), and the run
// keeps the counts of the merge that wrote its rows — a second merge would overwrite them with 0.
describe('two merges of one run at the same instant', () => {
  const N = 30_000;
  let tp: TestPipeline;
  beforeAll(async () => {
    tp = await createTestPipeline('mergerace', { workers: false });
    await tp.applyFlowYaml(DELTA_PRICES_FLOW);
    const first = await tp.send('prices-csv', csv('sku;price_type;price;currency', ['A;retail;1;RUB']), 'first.csv');
    expect(await extractRun(tp.rt, first)).toBe('merged');
  });
  afterAll(async () => {
    await tp?.close();
  });

  for (let round = 1; round <= 3; round++) {
    it(`round ${round}: one merge, the other busy or skipped, the counts are the merge's`, async () => {
      const id = await tp.send('prices-csv', bigPricesPayload(N, round), `big-${round}.csv`);
      expect(await extractRun(tp.rt, id)).toBe('staged');
      const before = (await tp.rt.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM prices')).rows[0]!.n;
      const outcomes = await Promise.all([mergeRun(tp.rt, id), mergeRun(tp.rt, id)]);
      expect(outcomes.filter((o) => o === 'done')).toHaveLength(1);
      expect(['busy', 'skipped']).toContain(outcomes.find((o) => o !== 'done'));
      const run = await getRun(tp.rt.db, id);
      expect(run.state).toBe('done');
      // Each round sends new values for the same keys: round 1 inserts them, the later rounds update them.
      expect(run.rows).toMatchObject(round === 1 ? { staged: N, inserted: N, updated: 0 } : { staged: N, inserted: 0, updated: N });
      expect((await tp.rt.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM prices')).rows[0]!.n).toBe(round === 1 ? before + N : before);
      expect(await mergeRun(tp.rt, id)).toBe('skipped');
      expect((await getRun(tp.rt.db, id)).rows).toEqual(run.rows);
    });
  }

  it('two extracts of one run at the same instant: one reads it, the other finds it busy; the staging holds the payload once', async () => {
    const id = await tp.send('prices-csv', bigPricesPayload(N, 9), 'big-extract.csv');
    const outcomes = await Promise.all([extractRun(tp.rt, id), extractRun(tp.rt, id)]);
    expect(outcomes.filter((o) => o === 'staged')).toHaveLength(1);
    expect(['busy', 'skipped']).toContain(outcomes.find((o) => o !== 'staged'));
    const run = await getRun(tp.rt.db, id);
    expect(run.state).toBe('staged');
    expect(run.rows).toMatchObject({ read: N, staged: N });
    expect((await tp.rt.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM staging.run_${id}`)).rows[0]!.n).toBe(N);
    expect(await mergeRun(tp.rt, id)).toBe('done');
  });
});
