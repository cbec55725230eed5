// The fault suite's parts: a PostgreSQL cluster and a redis-server of its own (restarted at will), a
// pipeline on them, `magistral start` as a child process, the state polls that time a fault, and the
// checksum of the live prices that compares a faulted run with an uninterrupted one.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { createTestPipeline, csv, type TestPipeline } from '../helpers/pipeline.ts';
import { sleep } from '../helpers/spawn.ts';
import { extractJobId, mergeJobId } from '../../src/pipeline/queues.ts';
import { stagingTable } from '../../src/pipeline/staging-table.ts';

export const H = 'sku;price_type;price;currency';
/** Rows of the faulted payload: large enough that extract and merge each take seconds on 2 cores. */
export const ROWS = Number(process.env.FAULT_ROWS ?? 200_000);

/** A flow of another source that makes `prices` non-empty, so the payload goes through staging and merge. */
export const SEED_FLOW = `
apiVersion: magistral/v1
kind: Flow
name: seed
source: { connector: file.csv }
mapping: file/prices.yaml
target: prices
mode: delta
`;

/** Live prices after the seed. */
export const SEED_ROWS = 2;

/** `seeded: false` leaves `prices` empty: the payload then takes the direct load (COPY into the live table). */
export async function preparePipeline(tp: TestPipeline, opts: { seeded?: boolean } = {}): Promise<void> {
  await tp.applyFlowFile('ops/flows/prices-csv.yaml');
  await tp.applyFlowYaml(SEED_FLOW);
  if (opts.seeded === false) return;
  // The seed goes through whatever workers run (in this process or a child): send, then wait. Its
  // second row is a key of the faulted payload at another price: the payload's merge then updates it
  // (an upsert with a history row), so a merge applied twice or half would show in price_history.
  const seed = await tp.send('seed', csv(H, ['SEED;seed;1;RUB', 'P0;pt0;0,5;RUB']));
  const s = await waitSettled(tp, seed, { timeoutMs: 60_000 });
  if (s !== 'done') throw new Error(`seed run ended ${s}`);
}

/** The live prices as one checksum (codes, not ids: two databases number placeholders apart). */
export interface PricesSum {
  rows: number;
  /** Keys present more than once (the table's key forbids it; counted anyway, from the data). */
  duplicated: number;
  md5: string;
}

export async function pricesSum(tp: TestPipeline): Promise<PricesSum> {
  const r = await tp.rt.pool.query<{ rows: number; keys: number; md5: string }>(`
    SELECT count(*)::int AS rows, count(DISTINCT (x.product_id, x.price_type_id))::int AS keys,
      md5(coalesce(string_agg(md5(p.code || '|' || pt.code || '|' || x.value::text || '|' || x.currency), '' ORDER BY p.code, pt.code), '')) AS md5
    FROM prices x JOIN products p ON p.id = x.product_id JOIN price_types pt ON pt.id = x.price_type_id`);
  const row = r.rows[0]!;
  return { rows: row.rows, duplicated: row.rows - row.keys, md5: row.md5 };
}

/**
 * What a run left besides the live prices, to compare with an uninterrupted run's: its counts, the
 * change log, the price history, the e-mail outbox (whole-database counts: both databases ran the same
 * seed and payload) and the staging tables still there. A merge applied twice adds change_log rows and
 * rewrites the counts (a second merge finds every row unchanged); a lost one leaves them short.
 */
export interface RunFigures {
  read: number;
  staged: number;
  rejected: number;
  inserted: number;
  updated: number;
  unchanged: number;
  removed: number;
  changeLogRows: number;
  /** inserted + updated + removed over every change_log row. */
  changes: number;
  historyRows: number;
  emails: number;
  stagingTables: number;
}

export async function runFigures(tp: TestPipeline, runId: number): Promise<RunFigures> {
  const r = await tp.rt.pool.query<RunFigures>(`
    SELECT r.rows_read AS read, r.rows_staged AS staged, r.rows_rejected AS rejected, r.rows_inserted AS inserted, r.rows_updated AS updated,
      r.rows_unchanged AS unchanged, r.rows_removed AS removed,
      (SELECT count(*) FROM change_log)::int AS "changeLogRows",
      (SELECT coalesce(sum(inserted + updated + removed), 0) FROM change_log)::int AS changes,
      (SELECT count(*) FROM price_history)::int AS "historyRows",
      (SELECT count(*) FROM email_outbox)::int AS emails,
      (SELECT count(*) FROM pg_tables WHERE schemaname = 'staging')::int AS "stagingTables"
    FROM runs r WHERE r.id = $1`, [runId]);
  return r.rows[0]!;
}

/** What became of the run's jobs: each one's state and return value ('none' when there is no job). */
export interface RunJobs {
  extract: string;
  merge: string;
}

/**
 * Waits until no job of the run is waiting, delayed or active in either queue, and the same jobs stay
 * so over a whole sweep interval: a job that comes back after the run is done (stalled, or added by a
 * sweep that read the run before it ended: it removes the finished job, then adds one) must have run
 * before the store is compared.
 */
export async function waitJobsQuiet(tp: TestPipeline, runId: number, timeoutMs = 60_000): Promise<RunJobs> {
  const end = Date.now() + timeoutMs;
  let last = '';
  let quiet: { seen: string; since: number } | undefined;
  for (;;) {
    try {
      const jobs = await Promise.all([tp.rt.queues.extract.getJob(extractJobId(runId)), tp.rt.queues.merge.getJob(mergeJobId(runId))]);
      const states = await Promise.all(jobs.map((j) => j?.getState()));
      const [extract, merge] = jobs.map((j, i) => (j ? `${states[i]}:${String(j.returnvalue)}` : 'none'));
      last = `extract ${extract}, merge ${merge}`;
      if (states.every((st) => st === undefined || st === 'completed' || st === 'failed')) {
        const seen = `${last} ${jobs.map((j) => j?.finishedOn).join('/')}`;
        if (quiet?.seen !== seen) quiet = { seen, since: Date.now() };
        else if (Date.now() - quiet.since > tp.config.MAGISTRAL_SWEEP_INTERVAL_MS + 100) return { extract: extract!, merge: merge! };
      } else {
        quiet = undefined;
      }
    } catch (e) {
      // This process's producer connection is still reconnecting to a restarted Redis (it fails fast).
      last = (e as Error).message;
      quiet = undefined;
    }
    if (Date.now() > end) throw new Error(`jobs of run ${runId} not quiet: ${last}`);
    await sleep(50);
  }
}

/** Polls the state of the run's extract job in Redis until it is `state`. */
export async function waitJobState(tp: TestPipeline, runId: number, state: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const job = await tp.rt.queues.extract.getJob(extractJobId(runId)).catch(() => undefined);
    const now = await job?.getState().catch(() => undefined);
    if (now === state) return;
    if (Date.now() > end) throw new Error(`run ${runId}'s extract job never became ${state} (last ${now})`);
    await sleep(10);
  }
}

/** A merge held at a statement: `reached` waits until the merge is blocked on the hold. */
export interface MergeHold {
  reached(opts: { worker?: MagistralProcess }): Promise<void>;
  release(): Promise<void>;
}

/**
 * Where a merge can be held by a lock of the test, taken while the run is merging. commit: its row in
 * runs (FOR NO KEY UPDATE: the change log's foreign key check, KEY SHARE, passes), so markMerged waits
 * with every row written and nothing committed. drop: its staging table (ACCESS SHARE, as the merge's
 * own reads), so the DROP after the commit waits: the run is done, its staging still there.
 */
const HOLDS = {
  commit: { lock: (runId: number) => `SELECT state FROM runs WHERE id = ${runId} FOR NO KEY UPDATE`, waits: () => "UPDATE runs SET state = 'done'" },
  drop: { lock: (runId: number) => `LOCK TABLE ${stagingTable(runId)} IN ACCESS SHARE MODE`, waits: (runId: number) => `DROP TABLE IF EXISTS ${stagingTable(runId)}` },
} as const;

export async function holdMerge(tp: TestPipeline, runId: number, at: keyof typeof HOLDS): Promise<MergeHold> {
  const hold = HOLDS[at];
  const client = await tp.rt.pool.connect();
  let broken = false;
  await client.query('BEGIN');
  await client.query(hold.lock(runId));
  const state = (await client.query<{ state: string }>('SELECT state FROM runs WHERE id = $1', [runId])).rows[0]?.state;
  if (state !== 'merging') {
    await client.query('ROLLBACK');
    client.release();
    throw new Error(`run ${runId} is ${state}, not merging, when its merge was to be held: raise FAULT_ROWS`);
  }
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  return {
    async reached(opts) {
      const end = Date.now() + 120_000;
      for (;;) {
        const r = await tp.rt.pool.query<{ query: string }>('SELECT query FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [pid]);
        const q = r.rows.map((x) => x.query);
        if (q.some((t) => t.startsWith(hold.waits(runId)))) return;
        if (q.length) throw new Error(`the hold on run ${runId} blocks something else: ${q.join(' | ')}`);
        if (opts.worker && !opts.worker.alive()) throw new Error(`magistral start died before the merge was held:\n${opts.worker.stderr()}`);
        if (Date.now() > end) throw new Error(`run ${runId}'s merge never reached the hold (state ${await runState(tp, runId)})`);
        await sleep(10);
      }
    },
    async release() {
      // After a PostgreSQL restart the connection is gone (and the lock with it).
      await client.query('ROLLBACK').catch(() => { broken = true; });
      client.release(broken ? true : undefined);
    },
  };
}

/** The run's state, or undefined while PostgreSQL does not answer (it is being restarted). */
export async function runState(tp: TestPipeline, runId: number): Promise<string | undefined> {
  try {
    return (await tp.rt.pool.query<{ state: string }>('SELECT state FROM runs WHERE id = $1', [runId])).rows[0]?.state;
  } catch {
    return undefined;
  }
}

/** Polls runs.state (every 10 ms) until it is one of `states`: how a fault is timed into a stage. */
export async function waitForState(tp: TestPipeline, runId: number, states: string[], opts: { timeoutMs?: number; worker?: MagistralProcess } = {}): Promise<string> {
  const end = Date.now() + (opts.timeoutMs ?? 120_000);
  let last: string | undefined;
  for (;;) {
    last = (await runState(tp, runId)) ?? last;
    if (last && states.includes(last)) return last;
    // The process that does the work died: nothing will move the run, say why now.
    if (opts.worker && !opts.worker.alive()) throw new Error(`run ${runId} is ${last} and magistral start died:\n${opts.worker.stderr()}`);
    if (Date.now() > end) throw new Error(`run ${runId} never reached ${states.join('/')} (last seen ${last})`);
    await sleep(10);
  }
}

/** Waits until the run settles (done, failed, rejected, held), through database outages. */
export function waitSettled(tp: TestPipeline, runId: number, opts: { timeoutMs?: number; worker?: MagistralProcess } = {}): Promise<string> {
  return waitForState(tp, runId, ['done', 'failed', 'rejected', 'held'], { timeoutMs: 180_000, ...opts });
}

/**
 * A process stopped (SIGSTOP) and continued: a stopped redis-server keeps its connections open and
 * answers nothing, so whatever waits on it waits — the worker cannot add the next stage's job nor
 * acknowledge the one it ran — while PostgreSQL moves on. That is how a case holds a run in a stage.
 */
export function freeze(child: ChildProcess): void {
  child.kill('SIGSTOP');
}

export function thaw(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGCONT');
}

/** The figures of a case, printed in the test output. */
export function report(name: string, figures: Record<string, unknown>): void {
  console.log(`fault ${name}: ${Object.entries(figures).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ')}`);
}

/** A pipeline on the suite's own servers (no workers in this process unless asked). */
export function faultPipeline(label: string, servers: { pgBase: string; redisUrl: string }, workers = false): Promise<TestPipeline> {
  return createTestPipeline(label, { pgBase: servers.pgBase, redisUrl: servers.redisUrl, workers });
}

export interface MagistralProcess {
  child: ChildProcess;
  port: number;
  /** Everything it wrote to stderr (a crash's stack lands there). */
  stderr(): string;
  alive(): boolean;
  stop(): Promise<void>;
}

/** `magistral start` (API and workers in one process, as an operator runs it) on the pipeline's store and queues. */
export async function startMagistral(tp: TestPipeline, port: number, extra: Record<string, string> = {}): Promise<MagistralProcess> {
  const child = spawn(process.execPath, [path.join(REPO_DIR, 'bin/magistral.js'), 'start'], {
    cwd: REPO_DIR,
    env: { ...process.env, ...tp.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn', ...extra },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Magistral is up')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`magistral start exited with ${code} before it was up:\n${err}`)));
  });
  return {
    child,
    port,
    stderr: () => err,
    alive: () => child.exitCode === null && child.signalCode === null,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
