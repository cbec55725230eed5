// Faults timed into a stage of a run (by polling runs.state, never by a guessed sleep): PostgreSQL
// restarted, Redis restarted, a worker process SIGKILLed. A stage too short to poll is held: by the flow
// paused (queued), by Redis stopped (staged; committed but not acknowledged), by a lock of the test
// (the run's row: the merge's commit; its staging table: the drop after the commit). After each the run is done, the process that ran through the fault is alive,
// the live prices equal an uninterrupted run's by checksum (0 rows lost, 0 duplicated), and so do the
// run's counts, the change log, the price history, the e-mail outbox and the staging tables left. The
// figures are printed: rows, checksum, time to recover.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bigPricesPayload, type TestPipeline } from '../helpers/pipeline.ts';
import { startPgCluster, type PgCluster } from '../helpers/pg-cluster.ts';
import { freePort, kill9, sleep, startRedis, startWorkerProcess } from '../helpers/spawn.ts';
import { setFlowPaused } from '../../src/pipeline/flows.ts';
import { jobLockMs } from '../../workers/index.ts';
import {
  faultPipeline, freeze, holdMerge, preparePipeline, pricesSum, report, ROWS, runFigures, runState, SEED_ROWS, startMagistral, thaw, waitForState,
  waitJobState, waitJobsQuiet, waitSettled, type MagistralProcess, type MergeHold, type PricesSum, type RunFigures,
} from './harness.ts';

type Fault = 'postgres restart' | 'redis restart' | 'worker SIGKILL';

/**
 * Where the fault lands. received: queued, its job not taken (Redis down when the payload arrives, or
 * its flow paused: the worker took the job, found the flow paused and delayed it). staged: extracted,
 * its merge not begun (Redis stopped while it was extracting: the merge job cannot be added). commit:
 * the merge at its last statement, every row written, nothing committed (a row lock of the test holds
 * markMerged). cleanup: the merge committed, the DROP of its staging table waiting on a lock of the test.
 * committed: the merge committed, its job not acknowledged (Redis stopped while it merged).
 */
type Stage = 'received' | 'extracting' | 'staged' | 'merging' | 'commit' | 'cleanup' | 'committed';

/** The run's state (in PostgreSQL) while the fault lands in each stage. */
const STATE_IN: Record<Stage, string> = {
  received: 'received', extracting: 'extracting', staged: 'staged', merging: 'merging', commit: 'merging', cleanup: 'done', committed: 'done',
};

const STAGE_LABEL: Record<Stage, string> = {
  received: 'while queued', extracting: 'while extracting', staged: 'while staged', merging: 'while merging',
  commit: 'at the merge\'s commit', cleanup: 'after the merge\'s commit, before its staging is dropped', committed: 'after the merge\'s commit, before its job\'s ack',
};

interface Case {
  fault: Fault;
  stage: Stage;
  /** An empty prices table: the run loads directly (one transaction COPY into the live table), no merge. */
  direct?: boolean;
  /** How PostgreSQL restarts: fast (sessions terminated, a clean shutdown) unless said; immediate is a crash. */
  pgMode?: 'fast' | 'immediate';
}

const CASES: Case[] = [
  { fault: 'postgres restart', stage: 'received' },
  { fault: 'postgres restart', stage: 'extracting' },
  { fault: 'postgres restart', stage: 'extracting', direct: true },
  // A crash: the UNLOGGED staging table comes back empty, the merge sees it and the run is read again.
  { fault: 'postgres restart', stage: 'staged', pgMode: 'immediate' },
  { fault: 'postgres restart', stage: 'merging' },
  { fault: 'postgres restart', stage: 'commit' },
  { fault: 'postgres restart', stage: 'cleanup' },
  { fault: 'redis restart', stage: 'received' },
  { fault: 'redis restart', stage: 'extracting' },
  { fault: 'redis restart', stage: 'staged' },
  { fault: 'redis restart', stage: 'merging' },
  { fault: 'redis restart', stage: 'commit' },
  { fault: 'redis restart', stage: 'committed' },
  { fault: 'worker SIGKILL', stage: 'extracting' },
  // The direct load is the extract stage itself (extracting → done in the COPY's transaction).
  { fault: 'worker SIGKILL', stage: 'extracting', direct: true },
  { fault: 'worker SIGKILL', stage: 'merging' },
  { fault: 'worker SIGKILL', stage: 'committed' },
];

/** The reference of a load path: the live prices and what the run left besides. */
interface Reference {
  prices: PricesSum;
  figures: RunFigures;
}

describe('faults during a run', () => {
  let pg: PgCluster;
  let redis: ChildProcess;
  let redisPort: number;
  let servers: { pgBase: string; redisUrl: string };
  const expected: Partial<Record<'staged' | 'direct', Reference>> = {};
  const payload = bigPricesPayload(ROWS, 17);

  beforeAll(async () => {
    pg = await startPgCluster();
    redisPort = await freePort();
    redis = await startRedis(redisPort);
    servers = { pgBase: pg.base, redisUrl: `redis://127.0.0.1:${redisPort}` };
  });

  /** The reference: the same payload through an uninterrupted pipeline on the same servers (once per load path). */
  async function reference(direct: boolean): Promise<Reference> {
    const kind = direct ? 'direct' : 'staged';
    if (expected[kind]) return expected[kind];
    const ref = await faultPipeline(`ref${kind}`, servers, true);
    try {
      await preparePipeline(ref, { seeded: !direct });
      const run = await ref.send('prices-csv', payload);
      expect(await waitSettled(ref, run)).toBe('done');
      await waitJobsQuiet(ref, run);
      expected[kind] = { prices: await pricesSum(ref), figures: await runFigures(ref, run) };
      expect(expected[kind].prices.rows).toBe(ROWS + (direct ? 0 : 1));
      // Through the merge (the seed makes the partition non-empty) every key writes history: the seed's row
      // of a payload key is updated (op U), the other keys' first values are rows of op I (lineage, migration
      // 0031) — the comparison is not of zeros. A direct load writes none.
      expect(expected[kind].figures.historyRows).toBe(direct ? 0 : ROWS);
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
    const label = `${c.fault}${c.pgMode === 'immediate' ? ' (crash)' : ''} ${STAGE_LABEL[c.stage]}${c.direct ? ' (direct load)' : ''}`;
    it(`${label}: ${inProcess ? 'magistral start lives, ' : ''}the run is done, no row lost or doubled`, async () => {
      let tp: TestPipeline | undefined;
      let mag: MagistralProcess | undefined;
      let hold: MergeHold | undefined;
      let frozenAt: number | undefined;
      const workers: ChildProcess[] = [];
      try {
        const want = await reference(!!c.direct);
        tp = await faultPipeline(`${c.fault.slice(0, 3)}${c.stage.slice(0, 4)}${c.direct ? 'dir' : ''}`, servers);
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
        if (c.stage === 'received' && c.fault === 'redis restart') {
          // Queued with no job: Redis is down when the payload arrives (the sender is still answered:
          // the payload is in the inbox), then comes back empty; the sweeper enqueues the run.
          await kill9(redis);
          faultAt = Date.now();
          runId = await tp.send('prices-csv', payload);
          expect(await runState(tp, runId)).toBe('received');
          redis = await startRedis(redisPort);
        } else {
          // Into the stage.
          if (c.stage === 'received') await setFlowPaused(tp.rt.db, 'prices-csv', true);
          runId = await tp.send('prices-csv', payload);
          if (c.stage === 'received') {
            await waitJobState(tp, runId, 'delayed');
          } else if (c.stage === 'staged' || c.stage === 'committed') {
            await waitForState(tp, runId, [c.stage === 'staged' ? 'extracting' : 'merging'], { worker });
            freeze(redis);
            frozenAt = Date.now();
            await waitForState(tp, runId, [STATE_IN[c.stage]], { worker });
          } else if (c.stage === 'commit' || c.stage === 'cleanup') {
            await waitForState(tp, runId, ['merging'], { worker });
            hold = await holdMerge(tp, runId, c.stage === 'commit' ? 'commit' : 'drop');
            await hold.reached({ worker });
          } else {
            await waitForState(tp, runId, [c.stage], { worker });
          }
          faultAt = Date.now();
          if (c.fault === 'postgres restart') {
            await pg.restart(c.pgMode ?? 'fast');
          } else if (c.fault === 'redis restart') {
            // No persistence (like the machine's): every job is gone, only PostgreSQL knows the run.
            await kill9(redis);
            frozenAt = undefined;
            redis = await startRedis(redisPort);
          } else {
            await kill9(workers[0]!);
            // Before the commit both paths have written in one transaction: nothing of the run is live.
            if (STATE_IN[c.stage] !== 'done') expect((await pricesSum(tp)).rows).toBe(c.direct ? 0 : SEED_ROWS);
          }
        }
        const faultMs = Date.now() - faultAt;
        // The fault must have landed inside the stage, or the case proves nothing (read before the hold
        // is let go: the stage cannot have ended by itself).
        const stateAfterFault = await waitForState(tp, runId, ['received', 'extracting', 'staged', 'merging', 'done', 'failed', 'held']);
        if (frozenAt !== undefined) {
          // The job's lock (lockDuration: 5 s in the workers, workers/index.ts) must run out while Redis
          // is stopped: what the stopped worker sent (its acknowledgement) waits in Redis's socket buffer
          // and would otherwise pass once Redis goes on, though the worker is dead by then.
          if (c.fault === 'worker SIGKILL') await sleep(Math.max(0, frozenAt + jobLockMs(tp.config) + 500 - Date.now()));
          thaw(redis);
        }
        await hold?.release();
        hold = undefined;
        if (c.stage === 'received' && c.fault === 'postgres restart') await setFlowPaused(tp.rt.db, 'prices-csv', false);
        if (c.fault === 'worker SIGKILL') workers.push(await startWorkerProcess(tp.env));

        const state = await waitSettled(tp, runId, { worker });
        const recoverMs = Date.now() - faultAt;
        // A job of the run that comes back after it is done (stalled, re-enqueued) runs before the store is compared.
        const jobs = await waitJobsQuiet(tp, runId);
        const got = await pricesSum(tp);
        // A staging table the merge could not drop is the sweeper's (its next tick): wait for that tick.
        let figures = await runFigures(tp, runId);
        for (const end = Date.now() + 10_000; figures.stagingTables !== want.figures.stagingTables && Date.now() < end; figures = await runFigures(tp, runId)) await sleep(50);
        const { attempts, load_path: loadPath } = (await tp.rt.pool.query<{ attempts: number; load_path: string }>('SELECT attempts, load_path FROM runs WHERE id = $1', [runId])).rows[0]!;
        report(label, {
          rows: got.rows, expectedRows: want.prices.rows, lost: want.prices.rows - got.rows, duplicated: got.duplicated, checksumEqual: got.md5 === want.prices.md5, loadPath,
          stateAfterFault, faultMs, recoverMs, extractAttempts: attempts, extractJob: jobs.extract, mergeJob: jobs.merge,
          historyRows: figures.historyRows, changeLogRows: figures.changeLogRows, ...(mag ? { processAlive: mag.alive() } : {}),
        });
        if (mag) {
          expect(mag.alive(), `magistral start died:\n${mag.stderr()}`).toBe(true);
          expect(mag.stderr()).not.toMatch(/Unhandled 'error' event|Uncaught|FATAL/i);
        }
        expect(['received', STATE_IN[c.stage]], `the ${c.stage} stage ended before the fault: raise FAULT_ROWS`).toContain(stateAfterFault);
        expect(state).toBe('done');
        expect(loadPath).toBe(c.direct ? 'direct' : 'staged');
        expect(got).toEqual(want.prices);
        expect(figures).toEqual(want.figures);
        // The job a dead worker left unacknowledged came back and found the run done: it changed nothing.
        if (c.fault === 'worker SIGKILL' && c.stage === 'committed') expect(jobs.merge).toBe('completed:skipped');
        expect(await runState(tp, runId)).toBe('done');
      } finally {
        await hold?.release();
        thaw(redis);
        await mag?.stop();
        for (const w of workers) await kill9(w);
        await tp?.close().catch((e: unknown) => console.error('fault suite clean-up:', e));
      }
    });
  }
});
