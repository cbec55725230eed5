// PostgreSQL restarted under `magistral start` (API and workers in one process) while a run is in a
// stage: the process lives on, the run completes once the database is back, and the store equals an
// uninterrupted run's (0 rows lost, 0 duplicated).
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bigPricesPayload, type TestPipeline } from '../helpers/pipeline.ts';
import { startPgCluster, type PgCluster } from '../helpers/pg-cluster.ts';
import { freePort, kill9, startRedis } from '../helpers/spawn.ts';
import {
  faultPipeline, preparePipeline, pricesSum, report, ROWS, runState, startMagistral, waitForState, waitSettled, type MagistralProcess, type PricesSum,
} from './harness.ts';

describe('PostgreSQL restarted under magistral start', () => {
  let pg: PgCluster;
  let redis: ChildProcess;
  let servers: { pgBase: string; redisUrl: string };
  let expected: PricesSum;
  const payload = bigPricesPayload(ROWS, 17);

  beforeAll(async () => {
    pg = await startPgCluster();
    const redisPort = await freePort();
    redis = await startRedis(redisPort);
    servers = { pgBase: pg.base, redisUrl: `redis://127.0.0.1:${redisPort}` };
    // The reference: the same payload through an uninterrupted pipeline on the same servers.
    const ref = await faultPipeline('pgref', servers, true);
    try {
      await preparePipeline(ref);
      const run = await ref.send('prices-csv', payload);
      expect(await waitSettled(ref, run)).toBe('done');
      expected = await pricesSum(ref);
      expect(expected.rows).toBe(ROWS + 1);
    } finally {
      await ref.close();
    }
  }, 300_000);

  afterAll(async () => {
    await pg?.destroy();
    if (redis) await kill9(redis);
  });

  for (const stage of ['merging', 'extracting'] as const) {
    it(`a fast restart while the run is ${stage}: the process lives, the run is done, no row lost or doubled`, async () => {
      let tp: TestPipeline | undefined;
      let mag: MagistralProcess | undefined;
      try {
        tp = await faultPipeline(`pg${stage.slice(0, 5)}`, servers);
        mag = await startMagistral(tp, await freePort());
        await preparePipeline(tp);
        const runId = await tp.send('prices-csv', payload);
        await waitForState(tp, runId, [stage], { worker: mag });
        const faultAt = Date.now();
        await pg.restart('fast');
        const restartMs = Date.now() - faultAt;
        const state = await waitSettled(tp, runId, { worker: mag });
        const recoverMs = Date.now() - faultAt;
        const got = await pricesSum(tp);
        const attempts = (await tp.rt.pool.query<{ attempts: number }>('SELECT attempts FROM runs WHERE id = $1', [runId])).rows[0]!.attempts;
        report(`postgres restart while ${stage}`, {
          rows: got.rows, expectedRows: expected.rows, lost: expected.rows - got.rows, duplicated: got.duplicated, checksumEqual: got.md5 === expected.md5,
          restartMs, recoverMs, extractAttempts: attempts, processAlive: mag.alive(),
        });
        expect(mag.alive(), `magistral start died:\n${mag.stderr()}`).toBe(true);
        expect(mag.stderr()).not.toMatch(/Unhandled 'error' event/);
        expect(state).toBe('done');
        expect(got).toEqual(expected);
        expect(await runState(tp, runId)).toBe('done');
      } finally {
        await mag?.stop();
        await tp?.close();
      }
    }, 300_000);
  }
});
