// Failure of parts: a worker killed mid-run, Redis restarted mid-run and down while payloads arrive.
// After recovery the store must equal what an uninterrupted run gives, and no payload is lost.
import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { bigPricesPayload, createTestPipeline, csv, pricesPicture, type TestPipeline } from '../helpers/pipeline.ts';
import { freePort, kill9, sleep, startRedis, startWorkerProcess } from '../helpers/spawn.ts';
import { waitForRun } from '../../src/pipeline/runs.ts';

const H = 'sku;price_type;price;currency';
const N = 150_000;
const SEED_FLOW = `
apiVersion: magistral/v1
kind: Flow
name: seed
source: { connector: file.csv }
mapping: file/prices.yaml
target: prices
mode: delta
`;

async function waitForState(tp: TestPipeline, runId: number, states: string[], timeoutMs = 60_000): Promise<string> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = (await tp.rt.pool.query('SELECT state FROM runs WHERE id = $1', [runId])).rows[0].state as string;
    if (states.includes(s)) return s;
    if (Date.now() > end) throw new Error(`run ${runId} never reached ${states.join('/')} (is ${s})`);
    await sleep(10);
  }
}

describe('a worker killed mid-run', () => {
  const children: ChildProcess[] = [];
  let tp: TestPipeline | undefined;
  afterEach(async () => {
    for (const c of children.splice(0)) await kill9(c);
    await tp?.close();
    tp = undefined;
  });

  for (const stage of ['extracting', 'merging'] as const) {
    it(`leaves nothing half-done when killed while ${stage}, and the run completes after restart`, async () => {
      // While extracting, an empty table takes the direct path (COPY straight into prices); a seed
      // row from another flow makes the table non-empty, so the run goes through staging and merge.
      const seeded = stage === 'merging';
      const prepare = async (p: TestPipeline) => {
        await p.applyFlowFile('ops/flows/prices-csv.yaml');
        await p.applyFlowYaml(SEED_FLOW);
        if (seeded) expect((await p.ingest('seed', csv(H, ['SEED;seed;1;RUB']))).state).toBe('done');
      };
      tp = await createTestPipeline(`kill${stage.slice(0, 3)}`, { workers: false });
      await tp.startWorkers();
      await prepare(tp);
      await tp.workers!.close();
      tp.workers = undefined;
      const payload = bigPricesPayload(N, 1);

      // The reference: the same payload through an uninterrupted pipeline.
      const ref = await createTestPipeline(`ref${stage.slice(0, 3)}`);
      await prepare(ref);
      const refRun = await ref.ingest('prices-csv', payload);
      expect(refRun.state).toBe('done');
      expect(refRun.loadPath).toBe(seeded ? 'staged' : 'direct');
      const expected = await pricesPicture(ref);
      await ref.close();

      const w1 = await startWorkerProcess(tp.env);
      children.push(w1);
      const runId = await tp.send('prices-csv', payload);
      await waitForState(tp, runId, [stage]);
      if (stage === 'extracting') await sleep(300);
      await kill9(w1);
      // Nothing is merged yet: both paths write in one transaction.
      expect((await tp.rt.pool.query('SELECT count(*)::int AS n FROM prices')).rows[0].n).toBe(seeded ? 1 : 0);

      children.push(await startWorkerProcess(tp.env));
      const run = await waitForRun(tp.rt.db, runId, { timeoutMs: 90_000 });
      expect(run.state).toBe('done');
      expect(run.rows).toMatchObject({ read: N, staged: N, inserted: N, rejected: 0 });
      expect(run.loadPath).toBe(seeded ? 'staged' : 'direct');
      expect(await pricesPicture(tp)).toEqual(expected);
    });
  }
});

describe('Redis restarted', () => {
  let redis: ChildProcess | undefined;
  let tp: TestPipeline | undefined;
  afterAll(async () => {
    await tp?.close();
    if (redis) await kill9(redis);
  });

  it('loses no payload: a run in flight and a payload received while Redis is down both complete', async () => {
    const port = await freePort();
    redis = await startRedis(port);
    tp = await createTestPipeline('redis', { redisUrl: `redis://127.0.0.1:${port}` });
    await tp.applyFlowFile('ops/flows/prices-csv.yaml');
    await tp.applyFlowYaml(`
apiVersion: magistral/v1
kind: Flow
name: small-delta
source: { connector: file.csv }
mapping: file/prices.yaml
target: prices
mode: delta
`);
    const inFlight = await tp.send('prices-csv', bigPricesPayload(N, 2));
    await waitForState(tp, inFlight, ['extracting', 'staged', 'merging']);
    await kill9(redis);
    // While Redis is down the sender is still acknowledged: the payload is in the inbox.
    const whileDown = await tp.send('small-delta', csv(H, ['X1;retail;1;RUB', 'X2;retail;2;RUB']));
    expect(whileDown).toBeGreaterThan(0);
    await sleep(500);
    redis = await startRedis(port);

    const a = await waitForRun(tp.rt.db, inFlight, { timeoutMs: 90_000 });
    const b = await waitForRun(tp.rt.db, whileDown, { timeoutMs: 90_000 });
    expect(a.state).toBe('done');
    expect(a.rows).toMatchObject({ read: N, inserted: N });
    expect(b.state).toBe('done');
    expect(b.rows).toMatchObject({ inserted: 2 });
    expect((await tp.rt.pool.query('SELECT count(*)::int AS n FROM prices')).rows[0].n).toBe(N + 2);
  });
});
