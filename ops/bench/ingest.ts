// Ingest benchmark (`npm run bench:ingest -- --rows N`): in one run, the COPY floor, a full snapshot and a 1 %
// delta through `magistral ingest` with a separate worker, and the hand-written SQL references for the delta
// (an upsert of every staged row, and the best: join first, upsert only the rows that differ).
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { parse, stringify } from 'yaml';
import { deleteQueueKeys } from '../../src/pipeline/queues.ts';
import { BIN, REPO, exec, freePort, mustExec, procCpuSeconds, progress, psql, query, sleep, sqlLit, startWorker, type WorkerProc } from './lib.ts';

const BENCH = path.join(REPO, 'ops/bench');
const DATA = path.join(BENCH, 'data');
const RESULTS = path.join(BENCH, 'results');
// BENCH_DB_NAME: helpers benchmarking side by side from several worktrees must not drop each other's database.
const DB_NAME = process.env.BENCH_DB_NAME ?? 'magistral_bench';
const PG_BASE = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const DB_URL = `${PG_BASE}/${DB_NAME}`;
const ADMIN_URL = `${PG_BASE}/postgres`;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const FLOW_NAME = 'prices-csv';
const MAX_PRODUCTS = 50_000;

// ---------------------------------------------------------------------------------------------- args

interface Args { rows: number; keep: boolean; snapshotOnly: boolean }

function parseArgs(argv: string[]): Args {
  const out: Args = { rows: 10_000_000, keep: false, snapshotOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--keep') out.keep = true;
    else if (a === '--snapshot-only') out.snapshotOnly = true;
    else if (a === '--rows' || a.startsWith('--rows=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      out.rows = Number(String(v).replace(/_/g, ''));
    } else if (a === '--help' || a === '-h') {
      process.stderr.write('usage: npm run bench:ingest -- [--rows N (1000..90000000, default 10000000)] [--keep] [--snapshot-only]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(out.rows) || out.rows < 1000 || out.rows > 90_000_000) throw new Error('--rows must be an integer from 1000 to 90000000');
  return out;
}

/** Price types = ceil(N / 50,000); products = ceil(N / price types) (fewer for small N). Exactly N rows. */
export function shape(rows: number): { products: number; priceTypes: number } {
  const priceTypes = Math.ceil(rows / MAX_PRODUCTS);
  return { priceTypes, products: Math.ceil(rows / priceTypes) };
}

// --------------------------------------------------------------------------------------- generation

const CHANGE_PRIMES = [1_000_003, 1_000_033, 1_000_037, 1_000_039];

/** Deterministic price in cents of (price type t, product p): 1.00 … 100000.99. */
function priceCents(t: number, p: number): number {
  return 100 + ((p * 2_654_435_761 + t * 40_503 + ((p * 31 + t) % 977) * 7_919) % 9_999_900);
}

function fmt(cents: number): string {
  const r = cents % 100;
  return `${(cents - r) / 100}.${r < 10 ? '0' : ''}${r}`;
}

/**
 * Writes the snapshot (file 1) and the same snapshot with exactly floor(N/100) prices raised by one
 * cent (file 2). Row i is (price type ⌊i/products⌋, product i mod products); it changes when
 * (i·A) mod N < N/100 with A a prime not dividing N: a bijection, so exactly that many rows, spread
 * over every price type and product.
 */
function generate(rows: number, products: number, priceTypes: number, file1: string, file2: string): number {
  const target = Math.floor(rows / 100);
  const a = CHANGE_PRIMES.find((p) => rows % p !== 0)!;
  const skus = Array.from({ length: products }, (_, p) => `SKU-${String(p + 1).padStart(7, '0')};`);
  const pts = Array.from({ length: priceTypes }, (_, t) => `PT-${String(t + 1).padStart(5, '0')};`);
  const fd1 = openSync(file1, 'w');
  const fd2 = openSync(file2, 'w');
  const header = 'sku;price_type;price;currency\n';
  let b1 = header;
  let b2 = header;
  let changed = 0;
  let inBuf = 0;
  try {
    for (let i = 0; i < rows; i++) {
      const t = Math.floor(i / products);
      const p = i - t * products;
      const cents = priceCents(t, p);
      const key = skus[p]! + pts[t]!;
      const line = `${key}${fmt(cents)};RUB\n`;
      b1 += line;
      if ((i * a) % rows < target) {
        b2 += `${key}${fmt(cents + 1)};RUB\n`;
        changed++;
      } else b2 += line;
      if (++inBuf === 50_000) {
        writeSync(fd1, b1);
        writeSync(fd2, b2);
        b1 = '';
        b2 = '';
        inBuf = 0;
      }
    }
    writeSync(fd1, b1);
    writeSync(fd2, b2);
  } finally {
    closeSync(fd1);
    closeSync(fd2);
  }
  if (changed !== target) throw new Error(`generated ${changed} changed prices, expected ${target}`);
  return changed;
}

// --------------------------------------------------------------------------------- sampling

/**
 * Samples pg_stat_activity of the bench database every 500 ms while a phase runs: which statements
 * the pipeline's backends spend their time in (sampled seconds per statement, first 160 characters).
 */
class ActivityProfiler {
  private samples = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  constructor(private readonly c: pg.Client) {}

  start(): void {
    this.samples.clear();
    let last = performance.now();
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      const now = performance.now();
      const dt = (now - last) / 1000;
      last = now;
      this.c.query<{ q: string; wait: string | null }>(`
        SELECT regexp_replace(left(query, 400), '\\s+', ' ', 'g') AS q, wait_event_type || ':' || wait_event AS wait
        FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND state = 'active'
          AND backend_type = 'client backend' AND application_name LIKE 'magistral%'`, [DB_NAME])
        .then((r) => {
          for (const row of r.rows) {
            const k = `${row.q.trim().slice(0, 160)}${row.wait ? ` [${row.wait}]` : ''}`;
            this.samples.set(k, (this.samples.get(k) ?? 0) + dt);
          }
        })
        .catch(() => {})
        .finally(() => { this.busy = false; });
    }, 500);
  }

  stop(): Array<{ seconds: number; statement: string }> {
    clearInterval(this.timer);
    return [...this.samples].map(([statement, s]) => ({ seconds: Math.round(s * 10) / 10, statement }))
      .sort((a, b) => b.seconds - a.seconds).slice(0, 8);
  }
}

// ----------------------------------------------------------------------------------------- phases

interface RunJson {
  id: number;
  state: string;
  rows: { read: number; staged: number; rejected: number; inserted: number; updated: number; unchanged: number; removed: number };
  extractMs: number | null;
  mergeMs: number | null;
  receivedAt: string;
  startedAt: string | null;
  stagedAt: string | null;
  finishedAt: string | null;
  error: unknown;
  heldReason: string | null;
}

/**
 * Where an ingest's wall time went, in seconds: the CLI's start and taking the file into the inbox (until
 * the run is received), the queue (until the extract starts), the extract, staged until the merge ends,
 * and the CLI noticing the end and exiting.
 */
function phases(run: RunJson, startedMs: number, seconds: number): Record<string, number> {
  const t = (x: string | null) => (x ? Date.parse(x) : NaN);
  const r3 = (x: number) => Math.round(x) / 1000;
  const received = t(run.receivedAt) - startedMs;
  const started = t(run.startedAt) - t(run.receivedAt);
  const extract = t(run.stagedAt) - t(run.startedAt);
  const merge = t(run.finishedAt) - t(run.stagedAt);
  return { cliToReceived: r3(received), queue: r3(started), extract: r3(extract), stagedToDone: r3(merge), doneToExit: r3(startedMs + seconds * 1000 - t(run.finishedAt)) };
}

async function ingest(env: NodeJS.ProcessEnv, file: string): Promise<{ run: RunJson; seconds: number; phases: Record<string, number> }> {
  const startedMs = Date.now();
  const r = await exec(BIN, ['ingest', '--flow', FLOW_NAME, file, '--no-embedded-workers', '--json'], env);
  const line = r.stdout.trim().split('\n').reverse().find((l) => l.startsWith('{') && l.includes('"state"'));
  if (!line) throw new Error(`ingest printed no run (exit ${r.code}):\n${r.stderr}${r.stdout}`);
  const run = JSON.parse(line) as RunJson;
  if (run.state !== 'done') throw new Error(`run ${run.id} ended ${run.state}: ${JSON.stringify(run.error ?? run.heldReason)}`);
  return { run, seconds: r.ms / 1000, phases: phases(run, startedMs, r.ms / 1000) };
}

interface TupStats { ins: number; upd: number; del: number; hot: number }

async function priceStats(c: pg.Client): Promise<TupStats> {
  await c.query('SELECT pg_stat_clear_snapshot()');
  const [r] = await query<{ ins: string; upd: string; del: string; hot: string }>(c, `
    SELECT coalesce(sum(n_tup_ins), 0) AS ins, coalesce(sum(n_tup_upd), 0) AS upd, coalesce(sum(n_tup_del), 0) AS del,
           coalesce(sum(n_tup_hot_upd), 0) AS hot
    FROM pg_stat_user_tables WHERE relname ~ '^prices_p[0-9]+$'`);
  return { ins: Number(r!.ins), upd: Number(r!.upd), del: Number(r!.del), hot: Number(r!.hot) };
}

/** Cumulative statistics reach pg_stat_user_tables when a backend goes idle (≥ 1 s apart): read until stable. */
async function stableStats(c: pg.Client, base?: TupStats): Promise<TupStats> {
  const same = (a: TupStats, b: TupStats) => a.ins === b.ins && a.upd === b.upd && a.del === b.del;
  let prev = await priceStats(c);
  const deadline = Date.now() + 15_000;
  for (;;) {
    await sleep(1100);
    const cur = await priceStats(c);
    const moved = !base || !same(cur, base);
    if ((same(cur, prev) && moved) || Date.now() > deadline) return cur;
    prev = cur;
  }
}

/**
 * A copy of `prices` (same partitions, key and storage parameters: the fillfactor that lets an update stay
 * on its page serves the hand-written SQL as much as the bus) named `name`, for a reference to work on untimed.
 */
async function createRefTable(c: pg.Client, name = 'ref_prices'): Promise<void> {
  const parts = await query<{ n: string; options: string[] | null }>(c, `SELECT count(*) AS n,
    (SELECT c.reloptions FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'prices'::regclass LIMIT 1) AS options
    FROM pg_inherits WHERE inhparent = 'prices'::regclass`);
  const n = Number(parts[0]!.n);
  const withOptions = parts[0]!.options?.length ? ` WITH (${parts[0]!.options.join(', ')})` : '';
  await c.query(`DROP TABLE IF EXISTS ${name}`);
  await c.query(`CREATE TABLE ${name} (LIKE prices INCLUDING DEFAULTS INCLUDING CONSTRAINTS, PRIMARY KEY (price_type_id, product_id))
    PARTITION BY HASH (price_type_id)`);
  for (let i = 0; i < n; i++) {
    await c.query(`CREATE TABLE ${name}_p${i} PARTITION OF ${name} FOR VALUES WITH (MODULUS ${n}, REMAINDER ${i})${withOptions}`);
  }
  await c.query(`INSERT INTO ${name} SELECT * FROM prices`);
}

/** The hand-written delta: \copy into an UNLOGGED stage, then one upsert that writes only what differs. */
function referenceScript(file: string, flowId: number, workMem: string): string {
  return `
SET work_mem = ${sqlLit(workMem)};
DROP TABLE IF EXISTS ref_stage;
CREATE UNLOGGED TABLE ref_stage (sku text, price_type text, price numeric(20,6), currency char(3));
\\copy ref_stage FROM ${sqlLit(file)} WITH (FORMAT csv, DELIMITER ';', HEADER true)
ANALYZE ref_stage;
\\echo upsert
INSERT INTO ref_prices AS t (price_type_id, product_id, value, currency, flow_id, run_id)
SELECT pt.internal_id::int, pr.internal_id, s.price, s.currency, ${flowId}, -1
FROM ref_stage s
JOIN external_ids pt ON pt.entity = 'priceType' AND pt.system = 'local' AND pt.external_id = s.price_type
JOIN external_ids pr ON pr.entity = 'product' AND pr.system = 'local' AND pr.external_id = s.sku
ON CONFLICT (price_type_id, product_id) DO UPDATE
  SET value = excluded.value, currency = excluded.currency, run_id = excluded.run_id, updated_at = now()
  WHERE (t.value, t.currency) IS DISTINCT FROM (excluded.value, excluded.currency);
`;
}

/**
 * The best delta an administrator writes by hand (issue 16's reference): \copy everything into an UNLOGGED
 * stage, then join first — codes to ids, each staged row to its live row — and upsert only the rows that
 * differ, so unchanged rows take no row lock and write nothing. Timed per statement (stage, upsert).
 */
function bestReferenceScript(file: string, flowId: number, workMem: string): string {
  return `
SET work_mem = ${sqlLit(workMem)};
\\timing on
DROP TABLE IF EXISTS best_stage;
CREATE UNLOGGED TABLE best_stage (sku text, price_type text, price numeric(20,6), currency char(3));
\\copy best_stage FROM ${sqlLit(file)} WITH (FORMAT csv, DELIMITER ';', HEADER true)
ANALYZE best_stage;
\\echo upsert
INSERT INTO best_prices AS t (price_type_id, product_id, value, currency, flow_id, run_id)
SELECT d.price_type_id, d.product_id, d.price, d.currency, ${flowId}, -1
FROM (
  SELECT pt.internal_id::int AS price_type_id, pr.internal_id AS product_id, s.price, s.currency
  FROM best_stage s
  JOIN external_ids pt ON pt.entity = 'priceType' AND pt.system = 'local' AND pt.external_id = s.price_type
  JOIN external_ids pr ON pr.entity = 'product' AND pr.system = 'local' AND pr.external_id = s.sku
  LEFT JOIN best_prices l ON l.price_type_id = pt.internal_id::int AND l.product_id = pr.internal_id
  WHERE l.product_id IS NULL OR (l.value, l.currency) IS DISTINCT FROM (s.price, s.currency)
) d
ON CONFLICT (price_type_id, product_id) DO UPDATE
  SET value = excluded.value, currency = excluded.currency, run_id = excluded.run_id, updated_at = now();
`;
}

// -------------------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const { products, priceTypes } = shape(args.rows);
  const N = args.rows;
  mkdirSync(DATA, { recursive: true });
  mkdirSync(RESULTS, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const prefix = `bench-${process.pid}-${Date.now().toString(36)}`;
  const inboxDir = path.join(DATA, `inbox-${prefix}`);
  const file1 = path.join(DATA, `prices-${N}-snapshot.csv`);
  const file2 = path.join(DATA, `prices-${N}-delta1pct.csv`);
  const flowFile = path.join(DATA, 'prices-csv.bench.yaml');
  const workerLog = path.join(RESULTS, `worker-${stamp}.log`);
  const workMem = process.env.MAGISTRAL_MERGE_WORK_MEM ?? '256MB';
  progress(`rows ${N} = ${priceTypes} price types × ${products} products (last price type may be partial)`);

  // Generation.
  const t = performance.now();
  const deltaRowsChanged = generate(N, products, priceTypes, file1, file2);
  const generateSeconds = (performance.now() - t) / 1000;
  progress(`generated ${path.relative(REPO, file1)} (${(statSync(file1).size / 1e6).toFixed(0)} MB) and the 1 % file (${deltaRowsChanged} prices changed) in ${generateSeconds.toFixed(1)} s`);

  // Fresh database, migrated; the flow without its guard.
  await psql(ADMIN_URL, ['-c', `DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`]);
  await psql(ADMIN_URL, ['-c', `CREATE DATABASE ${DB_NAME}`]);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: DB_URL, REDIS_URL, MAGISTRAL_QUEUE_PREFIX: prefix, MAGISTRAL_DATA_DIR: inboxDir, LOG_LEVEL: 'info', MAGISTRAL_MERGE_WORK_MEM: workMem,
  };
  await mustExec(BIN, ['migrate'], env);
  const flow = parse(readFileSync(path.join(REPO, 'ops/flows/prices-csv.yaml'), 'utf8')) as Record<string, unknown>;
  delete flow.guard;
  writeFileSync(flowFile, `# Generated by ops/bench/ingest.ts from ops/flows/prices-csv.yaml, guard removed.\n${stringify(flow)}`);
  await mustExec(BIN, ['flows', 'apply', '-f', flowFile], env);
  progress(`database ${DB_NAME} migrated, flow ${FLOW_NAME} applied from ${path.relative(REPO, flowFile)} (no guard)`);

  const c = new pg.Client({ connectionString: DB_URL, application_name: 'bench-ingest' });
  await c.connect();
  const prof = new pg.Client({ connectionString: DB_URL, application_name: 'bench-profiler' });
  await prof.connect();
  const profiler = new ActivityProfiler(prof);
  let worker: WorkerProc | undefined;
  const onSignal = () => { void worker?.stop().finally(() => process.exit(130)); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // (a) The floor: \copy of the same rows into a fresh table shaped like prices, with its primary key.
    await c.query(`DROP TABLE IF EXISTS bench_floor`);
    await c.query(`CREATE TABLE bench_floor (sku text, price_type text, price numeric(20,6), currency char(3), PRIMARY KEY (price_type, sku))`);
    await c.query('CHECKPOINT');
    progress('(a) \\copy floor …');
    const floor = await psql(DB_URL, ['-c', `\\copy bench_floor FROM ${sqlLit(file1)} WITH (FORMAT csv, DELIMITER ';', HEADER true)`]);
    const floorSeconds = floor.ms / 1000;
    const [floorCount] = await query<{ n: string }>(c, 'SELECT count(*) AS n FROM bench_floor');
    if (Number(floorCount!.n) !== N) throw new Error(`floor table holds ${floorCount!.n} rows, expected ${N}`);
    await c.query('DROP TABLE bench_floor');
    const copyFloorRowsPerSec = N / floorSeconds;
    progress(`(a) ${floorSeconds.toFixed(2)} s, ${Math.round(copyFloorRowsPerSec)} rows/s`);

    // (b) Full snapshot into the empty store through a separate worker process.
    worker = await startWorker({ ...env, PORT: String(await freePort()), HOST: '127.0.0.1' }, workerLog);
    progress(`worker pid ${worker.pid} up (queue prefix ${prefix}, log ${path.relative(REPO, workerLog)})`);
    await c.query('CHECKPOINT');
    progress('(b) magistral ingest of the snapshot …');
    profiler.start();
    // The worker's CPU (all its threads: the GC's too) during the snapshot: on 2 cores it competes with
    // PostgreSQL's COPY, so CPU per row says more than wall time when other benchmarks load the machine.
    const cpu0 = procCpuSeconds(worker.pid);
    const b = await ingest(env, file1);
    const snapshotWorkerCpuSeconds = procCpuSeconds(worker.pid) - cpu0;
    const profileB = profiler.stop();
    const [bCount] = await query<{ n: string }>(c, 'SELECT count(*) AS n FROM prices');
    if (Number(bCount!.n) !== N) throw new Error(`prices holds ${bCount!.n} rows after the snapshot, expected ${N}`);
    const snapshotRowsPerSec = N / b.seconds;
    progress(`(b) run ${b.run.id}: ${b.seconds.toFixed(2)} s wall, extract ${(b.run.extractMs! / 1000).toFixed(2)} s, merge ${(b.run.mergeMs! / 1000).toFixed(2)} s, ${Math.round(snapshotRowsPerSec)} rows/s, worker CPU ${snapshotWorkerCpuSeconds.toFixed(2)} s (${(snapshotWorkerCpuSeconds * 1e6 / N).toFixed(2)} µs/row); phases ${JSON.stringify(b.phases)}`);
    if (args.snapshotOnly) {
      const hwmKb = await worker.stop();
      const peak = Math.max(hwmKb, worker.maxRssKb) / 1024;
      worker = undefined;
      const r3 = (x: number) => Math.round(x * 1000) / 1000;
      const snapshotRatio = snapshotRowsPerSec / copyFloorRowsPerSec;
      console.log(`ingest bench (snapshot only): ${N} rows; floor ${floorSeconds.toFixed(2)} s, snapshot ${b.seconds.toFixed(2)} s, ratio ${snapshotRatio.toFixed(3)}, worker peak RSS ${peak.toFixed(1)} MB`);
      for (const p of profileB) console.log(`  ${p.seconds.toFixed(1).padStart(7)}  ${p.statement}`);
      console.log(JSON.stringify({
        rows: N, copyFloorSeconds: r3(floorSeconds), snapshotSeconds: r3(b.seconds), snapshotRatio: r3(snapshotRatio), extractSeconds: r3(b.run.extractMs! / 1000), snapshotPhases: b.phases,
        snapshotWorkerCpuSeconds: r3(snapshotWorkerCpuSeconds), snapshotWorkerCpuUsPerRow: r3(snapshotWorkerCpuSeconds * 1e6 / N), workerPeakRssMb: Math.round(peak * 10) / 10,
        loadAverage: (await import('node:os')).loadavg().map((x) => Math.round(x * 100) / 100), profile: profileB,
      }));
      return;
    }

    // State before (c): vacuumed and analyzed like a settled store; copied (untimed) for the reference.
    progress('copying the store for the reference, VACUUM ANALYZE …');
    await c.query('VACUUM (ANALYZE) prices');
    await createRefTable(c);
    await c.query('VACUUM (ANALYZE) ref_prices');
    await createRefTable(c, 'best_prices');
    await c.query('VACUUM (ANALYZE) best_prices');
    const [flowRow] = await query<{ id: number }>(c, 'SELECT id FROM flows WHERE name = $1', [FLOW_NAME]);
    const statsBefore = await stableStats(c);
    await c.query('CHECKPOINT');

    // (c) The same snapshot with 1 % of prices changed.
    progress('(c) magistral ingest of the 1 % delta snapshot …');
    profiler.start();
    const cRes = await ingest(env, file2);
    const profileC = profiler.stop();
    progress(`(c) run ${cRes.run.id}: ${cRes.seconds.toFixed(2)} s wall, extract ${(cRes.run.extractMs! / 1000).toFixed(2)} s, merge ${(cRes.run.mergeMs! / 1000).toFixed(2)} s; phases ${JSON.stringify(cRes.phases)}; counting what it wrote …`);
    const [w] = await query<{ by_run: string; removed: string; inserted: string; value_diff: string }>(c, `
      SELECT (SELECT count(*) FROM prices WHERE run_id = $1) AS by_run,
             (SELECT count(*) FROM ref_prices r WHERE NOT EXISTS (SELECT 1 FROM prices p WHERE p.price_type_id = r.price_type_id AND p.product_id = r.product_id)) AS removed,
             (SELECT count(*) FROM prices p WHERE NOT EXISTS (SELECT 1 FROM ref_prices r WHERE r.price_type_id = p.price_type_id AND r.product_id = p.product_id)) AS inserted,
             (SELECT count(*) FROM prices p JOIN ref_prices r USING (price_type_id, product_id) WHERE p.value <> r.value) AS value_diff`, [cRes.run.id]);
    const deltaRunIdRows = Number(w!.by_run);
    const deltaRowsRemoved = Number(w!.removed);
    const deltaRowsInserted = Number(w!.inserted);
    const deltaValueDiffRows = Number(w!.value_diff);
    const deltaRowsWritten = deltaRunIdRows + deltaRowsRemoved; // inserted rows carry the run's id already
    const statsAfter = await stableStats(c, statsBefore);
    const statsDelta = { ins: statsAfter.ins - statsBefore.ins, upd: statsAfter.upd - statsBefore.upd, del: statsAfter.del - statsBefore.del, hotUpd: statsAfter.hot - statsBefore.hot };
    const statsRowsWritten = statsDelta.ins + statsDelta.upd + statsDelta.del;

    // Stop the worker now: its peak RSS is final and it cannot disturb the reference.
    const hwmKb = await worker.stop();
    const workerHwmMb = hwmKb / 1024;
    const workerSampledMaxRssMb = worker.maxRssKb / 1024;
    worker = undefined;

    /** A hand-written reference: its script on its own copy `table` of the state before (c), checked against the pipeline's store. */
    const reference = async (label: string, file: string, script: string, table: string) => {
      await c.query('CHECKPOINT');
      progress(label);
      writeFileSync(path.join(DATA, file), script);
      const r = await mustExec('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-d', DB_URL, '-f', path.join(DATA, file)]);
      const [same] = await query<{ n: string }>(c, `
        SELECT count(*) AS n FROM prices p FULL JOIN ${table} r USING (price_type_id, product_id)
        WHERE p.value IS DISTINCT FROM r.value OR p.currency IS DISTINCT FROM r.currency`);
      return { seconds: r.ms / 1000, stdout: r.stdout, rowsWritten: Number(/INSERT 0 (\d+)/.exec(r.stdout)?.[1] ?? NaN), mismatches: Number(same!.n) };
    };

    // (d) The hand-written SQL reference for (c), on the copy of the state before (c).
    const d = await reference('(d) SQL reference: \\copy into an UNLOGGED stage + one upsert …', 'reference-delta.sql', referenceScript(file2, flowRow!.id, workMem), 'ref_prices');
    const { seconds: deltaReferenceSeconds, rowsWritten: referenceRowsWritten, mismatches: referenceMismatches } = d;
    progress(`(d) ${deltaReferenceSeconds.toFixed(2)} s, ${referenceRowsWritten} rows written, ${referenceMismatches} rows differ from the pipeline's result`);

    // (e) The best hand-written delta: join first, upsert only what differs (on its own copy of the state before (c)).
    const e = await reference('(e) best SQL reference: \\copy into an UNLOGGED stage + join-first upsert of the rows that differ …', 'reference-delta-best.sql',
      bestReferenceScript(file2, flowRow!.id, workMem), 'best_prices');
    const { seconds: deltaBestReferenceSeconds, rowsWritten: bestRowsWritten, mismatches: bestMismatches } = e;
    // psql's \timing line after the INSERT is the upsert's; everything before it (\copy, ANALYZE) is staging.
    const bestUpsertSeconds = Number(/INSERT 0 \d+\s+Time: ([\d.]+) ms/.exec(e.stdout)?.[1] ?? NaN) / 1000;
    const bestStageSeconds = deltaBestReferenceSeconds - bestUpsertSeconds;
    progress(`(e) ${deltaBestReferenceSeconds.toFixed(2)} s (stage ${bestStageSeconds.toFixed(2)} s, upsert ${bestUpsertSeconds.toFixed(2)} s), ${bestRowsWritten} rows written, ${bestMismatches} rows differ from the pipeline's result`);

    // Report.
    const snapshotRatio = snapshotRowsPerSec / copyFloorRowsPerSec;
    const deltaSeconds = cRes.seconds;
    const deltaRatio = deltaSeconds / deltaReferenceSeconds;
    const deltaBestRatio = deltaSeconds / deltaBestReferenceSeconds;
    const workerPeakRssMb = Math.max(workerHwmMb, workerSampledMaxRssMb);
    const targets = {
      snapshotRatio: { target: '>= 1.0', ok: snapshotRatio >= 1.0 },
      deltaRatio: { target: '<= 1.5', ok: deltaRatio <= 1.5 },
      deltaBestRatio: { target: '<= 0.5', ok: deltaBestRatio <= 0.5 },
      deltaRowsWritten: { target: '== deltaRowsChanged', ok: deltaRowsWritten === deltaRowsChanged },
      workerPeakRssMb: { target: '< 300', ok: workerPeakRssMb < 300 },
    };
    const r1 = (x: number) => Math.round(x * 10) / 10;
    const r3 = (x: number) => Math.round(x * 1000) / 1000;
    const result = {
      rows: N, products, priceTypes,
      copyFloorRowsPerSec: Math.round(copyFloorRowsPerSec), copyFloorSeconds: r3(floorSeconds),
      snapshotRowsPerSec: Math.round(snapshotRowsPerSec), snapshotSeconds: r3(b.seconds), snapshotRatio: r3(snapshotRatio), snapshotWorkerCpuSeconds: r3(snapshotWorkerCpuSeconds),
      extractSeconds: r3(b.run.extractMs! / 1000), mergeSeconds: r3(b.run.mergeMs! / 1000),
      deltaPhases: cRes.phases, deltaSeconds: r3(deltaSeconds), deltaExtractSeconds: r3(cRes.run.extractMs! / 1000), deltaMergeSeconds: r3(cRes.run.mergeMs! / 1000),
      deltaReferenceSeconds: r3(deltaReferenceSeconds), deltaRatio: r3(deltaRatio),
      deltaRowsChanged, deltaRowsWritten, deltaRunIdRows, deltaRowsInserted, deltaRowsRemoved, deltaValueDiffRows,
      deltaRunCounts: cRes.run.rows, statsDelta, statsRowsWritten,
      referenceRowsWritten, referenceMismatches,
      deltaBestReferenceSeconds: r3(deltaBestReferenceSeconds), deltaBestRatio: r3(deltaBestRatio),
      bestStageSeconds: r3(bestStageSeconds), bestUpsertSeconds: r3(bestUpsertSeconds), bestRowsWritten, bestMismatches,
      workerPeakRssMb: r1(workerPeakRssMb), workerHwmMb: r1(workerHwmMb), workerSampledMaxRssMb: r1(workerSampledMaxRssMb),
      generateSeconds: r3(generateSeconds), runIds: { snapshot: b.run.id, delta: cRes.run.id }, mergeWorkMem: workMem,
      targets, profile: { snapshot: profileB, delta: profileC },
    };
    const resultFile = path.join(RESULTS, `ingest-${N}-${stamp}.json`);
    writeFileSync(resultFile, `${JSON.stringify(result, null, 2)}\n`);

    const n0 = (x: number) => Math.round(x).toLocaleString('en-US');
    const mark = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
    const table: Array<[string, string, string, string]> = [
      ['(a) \\copy floor', `${n0(copyFloorRowsPerSec)} rows/s (${floorSeconds.toFixed(2)} s)`, '', ''],
      ['(b) snapshot ingest', `${n0(snapshotRowsPerSec)} rows/s (${b.seconds.toFixed(2)} s)`, `>= 1.0 × (a) = ${n0(copyFloorRowsPerSec)} rows/s`, mark(targets.snapshotRatio.ok)],
      ['    b / a', snapshotRatio.toFixed(3), '>= 1.0', ''],
      ['    extract / merge', `${(b.run.extractMs! / 1000).toFixed(2)} s / ${(b.run.mergeMs! / 1000).toFixed(2)} s`, '', ''],
      ['(c) 1 % delta ingest', `${deltaSeconds.toFixed(2)} s (extract ${(cRes.run.extractMs! / 1000).toFixed(2)} s, merge ${(cRes.run.mergeMs! / 1000).toFixed(2)} s)`, `<= 1.5 × (d) = ${(1.5 * deltaReferenceSeconds).toFixed(2)} s`, mark(targets.deltaRatio.ok)],
      ['    c / d', deltaRatio.toFixed(3), '<= 1.5', ''],
      ['    rows written / changed', `${deltaRowsWritten} / ${deltaRowsChanged}`, 'equal', mark(targets.deltaRowsWritten.ok)],
      ['    pg_stat ins/upd/del', `${statsDelta.ins} / ${statsDelta.upd} / ${statsDelta.del} (hot ${statsDelta.hotUpd})`, `upd == ${deltaRowsChanged}`, mark(statsDelta.ins === 0 && statsDelta.del === 0 && statsDelta.upd === deltaRowsChanged)],
      ['(d) SQL reference', `${deltaReferenceSeconds.toFixed(2)} s (${referenceRowsWritten} rows, ${referenceMismatches} mismatches)`, '', ''],
      ['(e) best SQL reference', `${deltaBestReferenceSeconds.toFixed(2)} s (stage ${bestStageSeconds.toFixed(2)} s + upsert ${bestUpsertSeconds.toFixed(2)} s; ${bestRowsWritten} rows, ${bestMismatches} mismatches)`, '', ''],
      ['    c / e', deltaBestRatio.toFixed(3), '<= 0.5', mark(targets.deltaBestRatio.ok)],
      ['worker peak RSS', `${workerPeakRssMb.toFixed(1)} MB (VmHWM ${workerHwmMb.toFixed(1)}, sampled ${workerSampledMaxRssMb.toFixed(1)})`, '< 300 MB', mark(targets.workerPeakRssMb.ok)],
    ];
    const wid = [0, 1, 2].map((i) => Math.max(...table.map((row) => row[i]!.length), 6));
    const fmtRow = (row: string[]) => row.map((s, i) => (i < 3 ? s.padEnd(wid[i]!) : s)).join('  ').trimEnd();
    console.log(`ingest bench: ${N} rows = ${priceTypes} price types × ${products} products; results ${path.relative(REPO, resultFile)}`);
    console.log(fmtRow(['metric', 'value', 'target', 'ok']));
    for (const row of table) console.log(fmtRow(row));
    for (const [phase, prof] of Object.entries(result.profile)) {
      console.log(`sampled statements during ${phase} (pg_stat_activity, s):`);
      for (const p of prof) console.log(`  ${p.seconds.toFixed(1).padStart(7)}  ${p.statement}`);
    }
    console.log(JSON.stringify(result));
  } finally {
    await worker?.stop().catch(() => 0);
    await c.end().catch(() => {});
    await prof.end().catch(() => {});
    // Queue keys of this run's unique prefix.
    await deleteQueueKeys(REDIS_URL, prefix).catch((e: Error) => progress(`could not remove redis keys ${prefix}:*: ${e.message}`));
    rmSync(inboxDir, { recursive: true, force: true });
    if (!args.keep) {
      await psql(ADMIN_URL, ['-c', `DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`]).catch((e: Error) => progress(e.message));
      for (const f of [file1, file2]) if (existsSync(f)) rmSync(f);
      progress(`dropped ${DB_NAME} and the generated files`);
    } else progress(`kept database ${DB_NAME} and ${path.relative(REPO, file1)}, ${path.relative(REPO, file2)}`);
  }
}

main().catch((e: Error) => {
  progress(`failed: ${e.stack ?? e.message}`);
  process.exitCode = 1;
});
