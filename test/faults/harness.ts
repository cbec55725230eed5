// The fault suite's parts: a PostgreSQL cluster and a redis-server of its own (restarted at will), a
// pipeline on them, `magistral start` as a child process, the state polls that time a fault, and the
// checksum of the live prices that compares a faulted run with an uninterrupted one.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { createTestPipeline, csv, type TestPipeline } from '../helpers/pipeline.ts';
import { sleep } from '../helpers/spawn.ts';

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

/** `seeded: false` leaves `prices` empty: the payload then takes the direct load (COPY into the live table). */
export async function preparePipeline(tp: TestPipeline, opts: { seeded?: boolean } = {}): Promise<void> {
  await tp.applyFlowFile('ops/flows/prices-csv.yaml');
  await tp.applyFlowYaml(SEED_FLOW);
  if (opts.seeded === false) return;
  // The seed goes through whatever workers run (in this process or a child): send, then wait.
  const seed = await tp.send('seed', csv(H, ['SEED;seed;1;RUB']));
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
