// Faults timed into a stage of a run (by polling runs.state, never by a guessed sleep): PostgreSQL
// restarted, Redis restarted, a worker process SIGKILLed. After each the run is done, the process that
// ran through the fault is alive, and the live prices equal an uninterrupted run's by checksum
// (0 rows lost, 0 duplicated). The figures are printed: rows, checksum, time to recover.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bigPricesPayload, type TestPipeline } from '../helpers/pipeline.ts';
import { startPgCluster, type PgCluster } from '../helpers/pg-cluster.ts';
import { freePort, kill9, startRedis, startWorkerProcess } from '../helpers/spawn.ts';
import {
  faultPipeline, preparePipeline, pricesSum, report, ROWS, runState, startMagistral, waitForState, waitSettled, type MagistralProcess, type PricesSum,
} from './harness.ts';

type Fault = 'postgres restart' | 'redis restart' | 'worker SIGKILL';

interface Case {
  fault: Fault;
  /** 'received': queued, its job not taken yet (Redis goes down before the payload arrives). */
  stage: 'received' | 'extracting' | 'merging';
  /** An empty prices table: the run loads directly (one transaction COPY into the live table), no merge. */
  direct?: boolean;
}

const CASES: Case[] = [
  { fault: 'postgres restart', stage: 'merging' },
  { fault: 'postgres restart', stage: 'extracting' },
  { fault: 'postgres restart', stage: 'extracting', direct: true },
  { fault: 'redis restart', stage: 'received' },
  { fault: 'redis restart', stage: 'extracting' },
  { fault: 'redis restart', stage: 'merging' },
  { fault: 'worker SIGKILL', stage: 'merging' },
  { fault: 'worker SIGKILL', stage: 'extracting' },
];

describe('faults during a run', () => {
  let pg: PgCluster;
  let redis: ChildProcess;
  let redisPort: number;
  let servers: { pgBase: string; redisUrl: string };
  const expected: Partial<Record<'staged' | 'direct', PricesSum>> = {};
  const payload = bigPricesPayload(ROWS, 17);

  beforeAll(async () => {
    pg = await startPgCluster();
    redisPort = await freePort();
    redis = await startRedis(redisPort);
    servers = { pgBase: pg.base, redisUrl: `redis://127.0.0.1:${redisPort}` };
  });

  /** The reference: the same payload through an uninterrupted pipeline on the same servers (once per load path). */
  async function reference(direct: boolean): Promise<PricesSum> {
    const kind = direct ? 'direct' : 'staged';
    if (expected[kind]) return expected[kind];
    const ref = await faultPipeline(`ref${kind}`, servers, true);
    try {
      await preparePipeline(ref, { seeded: !direct });
      const run = await ref.send('prices-csv', payload);
      expect(await waitSettled(ref, run)).toBe('done');
      expected[kind] = await pricesSum(ref);
      expect(expected[kind].rows).toBe(direct ? ROWS : ROWS + 1);
      return expected[kind];
    } finally {
      await ref.close();
    }
  }

  afterAll(async () => {
    await pg?.destroy();
    if (redis) await kill9(redis);
  });

  for (const c of CASES) {
    const inProcess = c.fault !== 'worker SIGKILL';
    const label = `${c.fault} while ${c.stage === 'received' ? 'queued' : c.stage}${c.direct ? ' (direct load)' : ''}`;
    it(`${label}: ${inProcess ? 'magistral start lives, ' : ''}the run is done, no row lost or doubled`, async () => {
      let tp: TestPipeline | undefined;
      let mag: MagistralProcess | undefined;
      const workers: ChildProcess[] = [];
      try {
        const want = await reference(!!c.direct);
        tp = await faultPipeline(`${c.fault.slice(0, 3)}${c.stage.slice(0, 3)}${c.direct ? 'dir' : ''}`, servers);
        let worker: MagistralProcess | undefined;
        if (inProcess) {
          mag = await startMagistral(tp, await freePort());
          worker = mag;
        } else {
          workers.push(await startWorkerProcess(tp.env));
        }
        await preparePipeline(tp, { seeded: !c.direct });
        let runId: number;
        let faultAt: number;
        if (c.stage === 'received') {
          // Queued with no job: Redis is down when the payload arrives (the sender is still answered:
          // the payload is in the inbox), then comes back empty; the sweeper enqueues the run.
          await kill9(redis);
          faultAt = Date.now();
          runId = await tp.send('prices-csv', payload);
          expect(await runState(tp, runId)).toBe('received');
          redis = await startRedis(redisPort);
        } else {
          runId = await tp.send('prices-csv', payload);
          await waitForState(tp, runId, [c.stage], { worker });
          faultAt = Date.now();
          if (c.fault === 'postgres restart') {
            await pg.restart('fast');
          } else if (c.fault === 'redis restart') {
            // No persistence (like the machine's): every job is gone, only PostgreSQL knows the run.
            await kill9(redis);
            redis = await startRedis(redisPort);
          } else {
            await kill9(workers[0]!);
            // Both paths write in one transaction: nothing of the run is live yet.
            expect((await pricesSum(tp)).rows).toBe(c.direct ? 0 : 1);
            workers.push(await startWorkerProcess(tp.env));
          }
        }
        const faultMs = Date.now() - faultAt;
        // The fault must have landed inside the stage, or the case proves nothing (a queued run is by construction).
        const stateAfterFault = c.stage === 'received' ? 'received' : await waitForState(tp, runId, ['received', 'extracting', 'staged', 'merging', 'done', 'failed', 'held']);
        const state = await waitSettled(tp, runId, { worker });
        const recoverMs = Date.now() - faultAt;
        const got = await pricesSum(tp);
        const attempts = (await tp.rt.pool.query<{ attempts: number }>('SELECT attempts FROM runs WHERE id = $1', [runId])).rows[0]!.attempts;
        const loadPath = (await tp.rt.pool.query<{ load_path: string }>('SELECT load_path FROM runs WHERE id = $1', [runId])).rows[0]!.load_path;
        report(label, {
          rows: got.rows, expectedRows: want.rows, lost: want.rows - got.rows, duplicated: got.duplicated, checksumEqual: got.md5 === want.md5, loadPath,
          stateAfterFault, faultMs, recoverMs, extractAttempts: attempts, ...(mag ? { processAlive: mag.alive() } : {}),
        });
        if (mag) {
          expect(mag.alive(), `magistral start died:\n${mag.stderr()}`).toBe(true);
          expect(mag.stderr()).not.toMatch(/Unhandled 'error' event|Uncaught|FATAL/i);
        }
        expect(['received', c.stage], `the ${c.stage} stage ended before the fault: raise FAULT_ROWS`).toContain(stateAfterFault);
        expect(state).toBe('done');
        expect(loadPath).toBe(c.direct ? 'direct' : 'staged');
        expect(got).toEqual(want);
        expect(await runState(tp, runId)).toBe('done');
      } finally {
        await mag?.stop();
        for (const w of workers) await kill9(w);
        await tp?.close().catch((e: unknown) => console.error('fault suite clean-up:', e));
      }
    });
  }
});
