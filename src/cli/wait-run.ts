// Waiting for a run from the CLI (ingest, runs approve/replay, flows pull) without waiting forever:
// while it waits it watches this installation's workers, and when none is left it starts its own or says so and stops.
import { isDependencyUnavailable } from '../db/availability.ts';
import { MagistralError } from '../errors/index.ts';
import { installationId, workerNameSuffix } from '../pipeline/installation.ts';
import { blockerOf, isTerminal } from '../pipeline/lifecycle/index.ts';
import { getRun, type RunView } from '../pipeline/runs.ts';
import type { Runtime } from '../pipeline/runtime.ts';
import type { CliHost, WorkerHandle } from './host.ts';

/** Exit code of a CLI that stopped waiting because no worker was left to finish the run. */
export const EXIT_NO_WORKERS = 4;

export interface WaitOptions {
  /** Start workers in this process when none of this installation's is connected. */
  embeddedWorkers: boolean;
  /** Name of the workers this process starts (shown in the queue dashboard). */
  workerName: string;
  /** Give up after this long (MAG_ERR_RUN_STATE). @defaultValue no limit */
  timeoutMs?: number;
  /** How often the connected workers are counted while waiting. @defaultValue 1000 */
  checkEveryMs?: number;
  /** How long no worker may be seen before acting: a worker restarting is not gone. @defaultValue 3000 */
  graceMs?: number;
  /** Where the one line about taking over goes (stdout may carry JSON). @defaultValue console.error */
  say?: (line: string) => void;
  /**
   * Every this long a line says what the wait is waiting for (the run's state, the run that blocks it,
   * the database being unreachable); 0: never. @defaultValue 5000
   */
  progressEveryMs?: number;
}

/** One line on what run `runId` (in `state`) waits for: the earlier or held run in front of it, if any. */
export async function waitingFor(rt: Runtime, runId: number, state: string): Promise<string> {
  if (state === 'received' || state === 'extracting') return `run ${runId} is ${state}`;
  const blocker = await blockerOf(rt.pool, runId, { stage: 'merge', ordered: true, dependencies: true });
  if (blocker === null || blocker === runId) return `run ${runId} is ${state}`;
  const b = await getRun(rt.db, blocker);
  const what = b.state === 'held'
    ? `run ${b.id} of flow ${b.flow}, held for a person (${b.heldReason ?? 'no reason recorded'}): magistral runs approve ${b.id} or magistral runs reject ${b.id}`
    : `run ${b.id} of flow ${b.flow} (${b.state})`;
  return `run ${runId} is ${state}, waiting for ${what}`;
}

/**
 * Runs `fn` again while the database is unreachable (a restart, a failover), saying so every
 * `everyMs`; gives up at `deadline` with one line, never a stack.
 */
export async function retryingDatabase<T>(fn: () => Promise<T>, opts: { what: string; deadline: number; everyMs: number; say: (line: string) => void }): Promise<T> {
  let saidAt = 0;
  const since = Date.now();
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (!isDependencyUnavailable(e)) throw e;
      const waited = Math.round((Date.now() - since) / 1000);
      if (Date.now() > opts.deadline) {
        throw new MagistralError('MAG_ERR_UNAVAILABLE', `${opts.what}: the database has not answered for ${waited} s (${(e as Error).message})`);
      }
      if (opts.everyMs > 0 && Date.now() - saidAt >= opts.everyMs) {
        saidAt = Date.now();
        opts.say(`magistral: ${opts.what}: the database does not answer (${(e as Error).message}); retrying${waited ? ` for ${waited} s` : ''}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/**
 * Workers of this installation connected to the extract and merge queues (BullMQ lists a queue's
 * workers from Redis' CLIENT LIST; a killed process's connection is gone at once). Workers of another
 * installation sharing the prefix do not count: they would refuse this installation's jobs.
 */
export async function connectedWorkers(rt: Runtime, installation: string): Promise<number> {
  const suffix = workerNameSuffix(installation);
  const lists = await Promise.all([rt.queues.extract.getWorkers(), rt.queues.merge.getWorkers()]);
  const names = new Set(lists.flat().map((w) => String(w.rawname ?? '')).filter((n) => n.endsWith(suffix)));
  return names.size;
}

/**
 * Waits until the run is done, failed, rejected or held. Workers are started in this process when
 * none is connected at the start, or when none has been seen for `graceMs` while waiting (a worker
 * died; its job is taken over once its lock expires). Without embedded workers, no worker for
 * `graceMs` ends the wait with MAG_ERR_NO_WORKERS (exit code EXIT_NO_WORKERS); the run stays open
 * and the next workers finish it.
 */
export async function waitForRunWithWorkers(rt: Runtime, host: CliHost, runId: number, opts: WaitOptions): Promise<RunView> {
  const checkEvery = opts.checkEveryMs ?? 1000;
  const grace = opts.graceMs ?? 3000;
  const say = opts.say ?? ((line: string) => console.error(line));
  const deadline = Date.now() + (opts.timeoutMs ?? Number.POSITIVE_INFINITY);
  const progressEvery = opts.progressEveryMs ?? 5000;
  // A PostgreSQL restart while we wait is waited out (issue 17: it ended `ingest` with a raw ECONNREFUSED stack).
  const db = <T>(what: string, fn: () => Promise<T>) => retryingDatabase(fn, { what, deadline, everyMs: progressEvery, say });
  const installation = await db(`waiting for run ${runId}`, () => installationId(rt.db));
  // Redis unreachable: we cannot tell, so we neither start workers nor give up on that account.
  const count = () => connectedWorkers(rt, installation).catch(() => undefined);
  let own: WorkerHandle | undefined;
  let noneSince: number | undefined;
  try {
    if ((await count()) === 0) {
      if (opts.embeddedWorkers) own = await host.startWorkers(rt, { name: opts.workerName });
      else noneSince = Date.now();
    }
    let nextCheck = Date.now() + checkEvery;
    let nextProgress = Date.now() + progressEvery;
    for (;;) {
      // Its state only, by primary key (50 ms apart); the whole view once it is over.
      const state = await db(`waiting for run ${runId}`, async () => (await rt.pool.query<{ state: RunView['state'] }>('SELECT state FROM runs WHERE id = $1', [runId])).rows[0]?.state);
      // No such run: getRun says so.
      if (state === undefined || isTerminal(state) || state === 'held') return await db(`waiting for run ${runId}`, () => getRun(rt.db, runId));
      if (Date.now() > deadline) {
        const why = await waitingFor(rt, runId, state).catch(() => `run ${runId} is ${state}`);
        throw new MagistralError('MAG_ERR_RUN_STATE', `${why}; still not finished after ${opts.timeoutMs} ms`);
      }
      if (progressEvery > 0 && Date.now() >= nextProgress) {
        nextProgress = Date.now() + progressEvery;
        const line = await waitingFor(rt, runId, state).catch(() => undefined);
        if (line) say(`magistral: ${line}`);
      }
      if (!own && Date.now() >= nextCheck) {
        nextCheck = Date.now() + checkEvery;
        const n = await count();
        if (n === 0) {
          noneSince ??= Date.now();
          if (Date.now() - noneSince >= grace) {
            if (!opts.embeddedWorkers) {
              process.exitCode = EXIT_NO_WORKERS;
              throw new MagistralError('MAG_ERR_NO_WORKERS', `run ${runId} is ${state} and no worker of this installation is connected to the queues (prefix "${rt.config.MAGISTRAL_QUEUE_PREFIX}"); it stays open until workers run (magistral start --workers-only), or run this command without --no-embedded-workers`);
            }
            say(`magistral: no worker left on the queues (prefix "${rt.config.MAGISTRAL_QUEUE_PREFIX}"); finishing run ${runId} with workers in this process`);
            own = await host.startWorkers(rt, { name: opts.workerName });
          }
        } else if (n !== undefined) {
          noneSince = undefined;
        }
      }
      // One indexed read a look: often enough that a load's end is seen within 50 ms (bench:ingest timed
      // 0.24-0.42 s from a run's end to the CLI's exit at 200 ms).
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await own?.close();
  }
}
