// The one-statement claim of the run lifecycle: a run waits for an earlier open or held run of its flow
// and for the runs it depends on, and its job is woken when they settle — not polled. Real PostgreSQL
// and Redis; the first tests drive the stages by hand, the last one runs real workers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractRun } from '../../src/pipeline/extract/index.ts';
import { claimRun } from '../../src/pipeline/lifecycle/index.ts';
import { extractLockKey } from '../../src/pipeline/locks.ts';
import { extractJobId, mergeJobId } from '../../src/pipeline/queues.ts';
import { getRun, rejectRun, waitForRun } from '../../src/pipeline/runs.ts';
import { createTestPipeline, csv, type TestPipeline } from '../helpers/pipeline.ts';

const H = 'sku;price_type;price;currency';

describe('the claim of a run', () => {
  let tp: TestPipeline;
  beforeAll(async () => {
    tp = await createTestPipeline('claim', { workers: false });
    for (const f of ['prices-csv', 'stock-csv']) await tp.applyFlowFile(`ops/flows/${f}.yaml`);
  });
  afterAll(async () => {
    await tp?.close();
  });

  it('waits for an earlier held run of the flow, and goes once it is rejected', async () => {
    const held = await tp.send('prices-csv', csv(H, ['C1;retail;1;RUB']), 'held.csv');
    const later = await tp.send('prices-csv', csv(H, ['C1;retail;2;RUB']), 'later.csv');
    await tp.rt.pool.query(`UPDATE runs SET state = 'held', held_reason = 'test' WHERE id = $1`, [held]);
    await tp.rt.pool.query(`UPDATE runs SET state = 'staged' WHERE id = $1`, [later]);
    expect(await claimRun(tp.rt.pool, later, { stage: 'merge', ordered: true, dependencies: true })).toEqual({ claimed: false, why: 'waiting', waitingFor: held });
    expect((await getRun(tp.rt.db, later)).state).toBe('staged');
    // The merge job as a worker leaves it after 'waiting': delayed, for longer than any test waits.
    await tp.rt.queues.merge.add('merge', { runId: later }, { jobId: mergeJobId(later), delay: 600_000 });
    await rejectRun(tp.rt, held);
    expect(await (await tp.rt.queues.merge.getJob(mergeJobId(later)))!.getState()).toBe('waiting');
    expect(await claimRun(tp.rt.pool, later, { stage: 'merge', ordered: true, dependencies: true })).toEqual({ claimed: true });
    expect((await getRun(tp.rt.db, later)).state).toBe('merging');
    await tp.rt.pool.query(`UPDATE runs SET state = 'failed' WHERE id = $1`, [later]);
  });

  it('says busy while another connection holds the run, and paused while its flow is', async () => {
    const run = await tp.send('stock-csv', csv('sku;warehouse;qty', ['B1;MSK;1']), 'busy.csv');
    const other = await tp.rt.pool.connect();
    try {
      await other.query('SELECT pg_advisory_lock($1::bigint)', [extractLockKey(run)]);
      expect(await claimRun(tp.rt.pool, run, { stage: 'extract', ordered: false, dependencies: true, lockKey: extractLockKey(run) })).toEqual({ claimed: false, why: 'busy' });
      expect((await getRun(tp.rt.db, run)).state).toBe('received');
      await other.query('SELECT pg_advisory_unlock($1::bigint)', [extractLockKey(run)]);
    } finally {
      other.release();
    }
    await tp.rt.pool.query(`UPDATE flows SET paused = true WHERE name = 'stock-csv'`);
    expect(await claimRun(tp.rt.pool, run, { stage: 'extract', ordered: false, dependencies: true })).toEqual({ claimed: false, why: 'paused' });
    await tp.rt.pool.query(`UPDATE flows SET paused = false WHERE name = 'stock-csv'`);
    await tp.rt.pool.query(`UPDATE runs SET state = 'failed' WHERE id = $1`, [run]);
  });

  it('keeps a fact run waiting for the run it depends on, and wakes its job when that one settles', async () => {
    const dependency = await tp.send('prices-csv', csv(H, ['D1;retail;1;RUB']), 'dep.csv');
    const fact = await tp.send('stock-csv', csv('sku;warehouse;qty', ['D1;MSK;3']), 'fact.csv');
    await tp.rt.pool.query(`UPDATE runs SET state = 'held', held_reason = 'test' WHERE id = $1`, [dependency]);
    await tp.rt.pool.query(`UPDATE runs SET depends_on = ARRAY[$1::bigint] WHERE id = $2`, [dependency, fact]);
    // No sleep in the stage: it answers at once, and the run is not taken.
    const t0 = Date.now();
    expect(await extractRun(tp.rt, fact)).toBe('waiting');
    expect(Date.now() - t0).toBeLessThan(2000);
    expect((await getRun(tp.rt.db, fact)).state).toBe('received');
    expect((await getRun(tp.rt.db, fact)).attempts).toBe(0);
    await tp.rt.queues.extract.remove(extractJobId(fact));
    await tp.rt.queues.extract.add('extract', { runId: fact }, { jobId: extractJobId(fact), delay: 600_000 });
    await rejectRun(tp.rt, dependency);
    expect(await (await tp.rt.queues.extract.getJob(extractJobId(fact)))!.getState()).toBe('waiting');
    expect(await extractRun(tp.rt, fact)).toBe('merged');
  });
});

describe('a run waiting for an earlier held run, with workers', () => {
  let tp: TestPipeline;
  beforeAll(async () => {
    tp = await createTestPipeline('claim-workers');
    await tp.applyFlowYaml(`
apiVersion: magistral/v1
kind: Flow
name: prices-woken
source: { connector: file.csv }
mapping: file/prices.yaml
target: prices
mode: snapshot
guard: { maxChangeRatio: 0.5 }
`);
  });
  afterAll(async () => {
    await tp?.close();
  });

  it('merges as soon as the held run is rejected, long before its safety delay', async () => {
    const first = await tp.ingest('prices-woken', csv(H, ['W1;retail;1;RUB', 'W2;retail;1;RUB', 'W3;retail;1;RUB']));
    expect(first.state).toBe('done');
    const held = await tp.ingest('prices-woken', csv(H, ['W1;retail;2;RUB', 'W2;retail;2;RUB', 'W3;retail;2;RUB']));
    expect(held.state).toBe('held');
    // The same prices as the first run: nothing to change, so the guard lets it through — after the held one.
    const later = await tp.send('prices-woken', csv(H, ['W1;retail;1;RUB', 'W2;retail;1;RUB', 'W3;retail;1;RUB']));
    const deadline = Date.now() + 20_000;
    while ((await getRun(tp.rt.db, later)).state !== 'staged' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    // Its merge job found the held run and waits (delayed, not polling).
    await new Promise((r) => setTimeout(r, 700));
    expect((await getRun(tp.rt.db, later)).state).toBe('staged');
    expect(await (await tp.rt.queues.merge.getJob(mergeJobId(later)))!.getState()).toBe('delayed');
    const rejected = Date.now();
    await rejectRun(tp.rt, held.id);
    const done = await waitForRun(tp.rt.db, later, { timeoutMs: 20_000, intervalMs: 20 });
    expect(done.state).toBe('done');
    expect(done.rows).toMatchObject({ unchanged: 3, updated: 0 });
    // The safety delay is 10 s: woken, it went within a few seconds even on a busy machine.
    expect(Date.now() - rejected).toBeLessThan(5000);
  });
});
