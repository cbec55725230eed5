// Freshness benchmark (`npm run bench:freshness -- [--rows N] [--seconds S]`): how long a small price delta
// takes from being sent to being answered by `GET /api/v1/prices/:sku`, alone (phase A) and while a big
// snapshot of another flow and other price types runs (phase B). Real processes: the API and the workers
// (`magistral start --api-only` / `--workers-only`) on a fresh database; one delta every 200 ms, by turns a
// CSV pushed through `POST /admin/api/flows/:name/runs` and a 1C offers file sent through the 1C exchange
// (checkauth → init → file → import until success → complete), of 1 and 100 rows. The last line printed is
// one JSON object (p50Ms, p95Ms, p99Ms for phase A; underLoadP95Ms, underLoadP99Ms for B; both sources
// together, and per source csv… / onec…).
import { closeSync, createReadStream, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { Readable } from 'node:stream';
import path from 'node:path';
import iconv from 'iconv-lite';
import pg from 'pg';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { deleteQueueKeys } from '../../src/pipeline/queues.ts';
import { BIN, REPO, freePort, mustExec, progress, psql, sleep, startApi, startWorker, type ApiProc, type WorkerProc } from './lib.ts';

const DATA = path.join(REPO, 'ops/bench/data');
const RESULTS = path.join(REPO, 'ops/bench/results');
const DB_NAME = 'magistral_bench_fresh';
const PG_BASE = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const DB_URL = `${PG_BASE}/${DB_NAME}`;
const ADMIN_URL = `${PG_BASE}/postgres`;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ADMIN_TOKEN = 'bench-fresh-admin-token-0123456789';
const PRODUCTS = 50_000;
const BIG_FLOW = 'fresh-snapshot';
const DELTA_FLOW = 'fresh-delta';
/** The 1C flow of the deltas sent through the exchange (`/exchange/onec/${ONEC_EXCHANGE}`). */
const ONEC_FLOW = 'fresh-onec-prices';
const ONEC_EXCHANGE = 'fresh';
const ONEC_USER = 'bench-fresh-1c';
const ONEC_PASSWORD = 'bench-fresh-1c-password';
const DELTA_PRICE_TYPE = 'B-RETAIL';
const CITY = 'msk';
const TICK_MS = 200;
/** A delta not visible after this long counts as this long (and is reported as timed out). */
const VISIBLE_TIMEOUT_MS = 300_000;

interface Args { rows: number; seconds: number; keep: boolean }

function parseArgs(argv: string[]): Args {
  // 2M rows: the snapshot's merge takes tens of seconds on the shared 2-core machine, a run of the
  // whole bench a few minutes; --rows 10000000 is the issue's size.
  const out: Args = { rows: 2_000_000, seconds: 20, keep: false };
  const num = (v: string | undefined) => Number(String(v).replace(/_/g, ''));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = () => (a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i]);
    if (a === '--keep') out.keep = true;
    else if (a === '--rows' || a.startsWith('--rows=')) out.rows = num(val());
    else if (a === '--seconds' || a.startsWith('--seconds=')) out.seconds = num(val());
    else if (a === '--help' || a === '-h') {
      process.stderr.write('usage: npm run bench:freshness -- [--rows N (100000..90000000, default 2000000)] [--seconds S (5..600, default 20)] [--keep]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(out.rows) || out.rows < 100_000 || out.rows > 90_000_000) throw new Error('--rows must be an integer from 100000 to 90000000');
  if (!Number.isInteger(out.seconds) || out.seconds < 5 || out.seconds > 600) throw new Error('--seconds must be an integer from 5 to 600');
  return out;
}

const sku = (p: number) => `SKU-${String(p + 1).padStart(7, '0')}`;
const cents = (n: number) => `${Math.floor(n / 100)}.${String(n % 100).padStart(2, '0')}`;

/** Writes a CSV file line by line in 1 MB pieces. */
function writeCsv(file: string, header: string, n: number, line: (i: number) => string): void {
  const fd = openSync(file, 'w');
  try {
    let buf = `${header}\n`;
    for (let i = 0; i < n; i++) {
      buf += `${line(i)}\n`;
      if (buf.length > 1 << 20) { writeSync(fd, buf); buf = ''; }
    }
    writeSync(fd, buf);
  } finally {
    closeSync(fd);
  }
}

/** The big snapshot: ⌈rows / 50,000⌉ price types A-… × 50,000 products; `salt` changes every value. */
function writeSnapshot(file: string, rows: number, salt: number): void {
  writeCsv(file, 'sku;price_type;price;currency', rows, (i) => {
    const t = Math.floor(i / PRODUCTS);
    const p = i % PRODUCTS;
    return `${sku(p)};A-${String(t + 1).padStart(5, '0')};${cents(100 + ((p * 7919 + t * 104_729 + salt) % 9_999_900))};RUB`;
  });
}

// ------------------------------------------------------------------------------------------ the server

interface Server { url: string; key: string; env: NodeJS.ProcessEnv }

async function post(s: Server, flow: string, fileName: string, body: string | Readable): Promise<number> {
  const res = await fetch(`${s.url}/admin/api/flows/${flow}/runs?filename=${encodeURIComponent(fileName)}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'text/csv' },
    body: typeof body === 'string' ? body : (Readable.toWeb(body) as ReadableStream),
    ...(typeof body === 'string' ? {} : { duplex: 'half' }),
  } as RequestInit);
  const text = await res.text();
  if (res.status !== 202) throw new Error(`POST ${flow} ${fileName}: ${res.status} ${text}`);
  return (JSON.parse(text) as { runId: number }).runId;
}

async function runState(c: pg.Client, id: number): Promise<{ state: string; merge_ms: number | null; error: unknown }> {
  return (await c.query<{ state: string; merge_ms: number | null; error: unknown }>('SELECT state, merge_ms, error FROM runs WHERE id = $1', [id])).rows[0]!;
}

async function waitRun(c: pg.Client, id: number): Promise<{ state: string; merge_ms: number | null }> {
  for (;;) {
    const r = await runState(c, id);
    if (['done', 'failed', 'held'].includes(r.state)) {
      if (r.state !== 'done') throw new Error(`run ${id} ended ${r.state}: ${JSON.stringify(r.error)}`);
      return r;
    }
    await sleep(100);
  }
}

/** The base price the portal API answers for a SKU in the city (undefined: none yet). */
async function visiblePrice(s: Server, code: string): Promise<string | undefined> {
  const res = await fetch(`${s.url}/api/v1/prices/${encodeURIComponent(code)}?city=${CITY}`, { headers: { authorization: `Bearer ${s.key}` } });
  if (res.status === 404) { await res.arrayBuffer(); return undefined; }
  if (res.status !== 200) throw new Error(`GET prices/${code}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { basePrice: string }).basePrice;
}

// ------------------------------------------------------------------------------------------------ deltas

type Source = 'csv' | 'onec';

interface Sample { source: Source; rows: number; ms: number; timedOut: boolean; underLoad: boolean }

interface Watched { sku: string; value: string; t0: number; source: Source; rows: number; underLoad: boolean; done: (x: Sample) => void }

/**
 * Watches every delta still invisible with one batch request (`POST /api/v1/prices/batch`, the last SKU of
 * each) every 10 ms: one poll per delta flooded the API with thousands of requests a second once deltas
 * queued behind a snapshot, taking the CPU from the merges they waited for.
 */
class Watcher {
  private watched: Watched[] = [];
  private running = true;
  private readonly loop: Promise<void>;
  constructor(private readonly s: Server) { this.loop = this.run(); }

  watch(w: Omit<Watched, 'done'>): Promise<Sample> {
    return new Promise((done) => this.watched.push({ ...w, done }));
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running || this.watched.length) {
      const batch = this.watched.slice(0, 1000);
      if (batch.length) {
        const res = await fetch(`${this.s.url}/api/v1/prices/batch?city=${CITY}`, {
          method: 'POST', headers: { authorization: `Bearer ${this.s.key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ skus: batch.map((w) => w.sku) }),
        });
        if (res.status !== 200) throw new Error(`POST prices/batch: ${res.status} ${await res.text()}`);
        const { items } = (await res.json()) as { items: Array<{ line: number; basePrice?: string }> };
        const now = performance.now();
        const seen = new Set<Watched>();
        for (const it of items) {
          const w = batch[it.line]!;
          const visible = it.basePrice === w.value;
          if (!visible && now - w.t0 <= VISIBLE_TIMEOUT_MS) continue;
          w.done({ source: w.source, rows: w.rows, ms: visible ? now - w.t0 : VISIBLE_TIMEOUT_MS, timedOut: !visible, underLoad: w.underLoad });
          seen.add(w);
        }
        this.watched = this.watched.filter((w) => !seen.has(w));
      }
      await sleep(10);
    }
  }
}

/**
 * Pushes a CSV delta of `rows` new prices (products from `first` on, consecutive, value unique to `seq`) and
 * watches the last one until the API answers it: ms from the moment the POST was sent.
 */
async function csvDelta(s: Server, watcher: Watcher, seq: number, first: number, rows: number, underLoad: boolean): Promise<Sample> {
  const lines: string[] = ['sku;price_type;price;currency'];
  let value = '';
  for (let i = 0; i < rows; i++) {
    value = cents(10_000_000 + seq * 100 + (i % 100));
    lines.push(`${sku((first + i) % PRODUCTS)};${DELTA_PRICE_TYPE};${value};RUB`);
  }
  const t0 = performance.now();
  await post(s, DELTA_FLOW, `delta-${seq}.csv`, `${lines.join('\n')}\n`);
  return watcher.watch({ sku: sku((first + rows - 1) % PRODUCTS), value, t0, source: 'csv', rows, underLoad });
}

/**
 * A 1C client of one exchange session, as 1C talks (the cookie and sessid of checkauth on every later
 * request; answers in windows-1251 lines).
 */
class OneC {
  private cookie = '';
  private sessid = '';
  constructor(private readonly url: string) {}

  async call(params: Record<string, string>, body?: Buffer, auth?: string): Promise<string[]> {
    const q = new URLSearchParams({ type: 'catalog', ...params, ...(this.sessid ? { sessid: this.sessid } : {}) });
    const headers: Record<string, string> = {};
    if (auth) headers.authorization = auth;
    if (this.cookie) headers.cookie = this.cookie;
    if (body) headers['content-type'] = 'application/octet-stream';
    const res = await fetch(`${this.url}/exchange/onec/${ONEC_EXCHANGE}?${q}`, { method: body ? 'POST' : 'GET', headers, ...(body ? { body: new Uint8Array(body) } : {}) });
    const lines = iconv.decode(Buffer.from(await res.arrayBuffer()), 'win1251').split('\n');
    if (res.status !== 200) throw new Error(`1C ${params.mode}: HTTP ${res.status} ${lines.join(' | ')}`);
    return lines;
  }

  async checkauth(): Promise<void> {
    const r = await this.call({ mode: 'checkauth' }, undefined, `Basic ${Buffer.from(`${ONEC_USER}:${ONEC_PASSWORD}`).toString('base64')}`);
    if (r[0] !== 'success') throw new Error(`1C checkauth: ${r.join(' | ')}`);
    this.cookie = `${r[1]}=${r[2]}`;
    this.sessid = (r[3] ?? '').replace(/^sessid=/, '');
  }
}

/** A CommerceML offers package of changes only (СодержитТолькоИзменения): one price of DELTA_PRICE_TYPE per offer. */
function offersXml(prices: Array<{ sku: string; value: string }>): Buffer {
  const head = '\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<КоммерческаяИнформация xmlns="urn:1C.ru:commerceml_2" ВерсияСхемы="2.07" ДатаФормирования="2026-12-07T10:00:00">\n'
    + '\t<ПакетПредложений СодержитТолькоИзменения="true">\n\t\t<Ид>fresh#</Ид>\n\t\t<Наименование>Пакет предложений</Наименование>\n\t\t<ИдКаталога>fresh</ИдКаталога>\n'
    + `\t\t<ИдКлассификатора>fresh</ИдКлассификатора>\n\t\t<ТипыЦен>\n\t\t\t<ТипЦены>\n\t\t\t\t<Ид>${DELTA_PRICE_TYPE}</Ид>\n\t\t\t\t<Наименование>Розница</Наименование>\n`
    + '\t\t\t\t<Валюта>RUB</Валюта>\n\t\t\t</ТипЦены>\n\t\t</ТипыЦен>\n\t\t<Предложения>\n';
  const offers = prices.map((p) => `\t\t\t<Предложение>\n\t\t\t\t<Ид>${p.sku}</Ид>\n\t\t\t\t<Наименование>${p.sku}</Наименование>\n\t\t\t\t<Цены>\n`
    + `\t\t\t\t\t<Цена>\n\t\t\t\t\t\t<Представление>${p.value} RUB за шт</Представление>\n\t\t\t\t\t\t<ИдТипаЦены>${DELTA_PRICE_TYPE}</ИдТипаЦены>\n`
    + `\t\t\t\t\t\t<ЦенаЗаЕдиницу>${p.value}</ЦенаЗаЕдиницу>\n\t\t\t\t\t\t<Валюта>RUB</Валюта>\n\t\t\t\t\t</Цена>\n\t\t\t\t</Цены>\n\t\t\t</Предложение>\n`);
  return Buffer.from(`${head}${offers.join('')}\t\t</Предложения>\n\t</ПакетПредложений>\n</КоммерческаяИнформация>\n`, 'utf8');
}

/**
 * Sends a 1C delta of `rows` new prices through the exchange protocol as 1C does (checkauth, init, the file,
 * import until success, complete) and watches the last one: ms from the moment checkauth was sent.
 */
async function onecDelta(s: Server, watcher: Watcher, seq: number, first: number, rows: number, underLoad: boolean): Promise<Sample> {
  const prices: Array<{ sku: string; value: string }> = [];
  for (let i = 0; i < rows; i++) prices.push({ sku: sku((first + i) % PRODUCTS), value: cents(10_000_000 + seq * 100 + (i % 100)) });
  const body = offersXml(prices);
  const last = prices[prices.length - 1]!;
  const t0 = performance.now();
  const client = new OneC(s.url);
  await client.checkauth();
  const init = await client.call({ mode: 'init' });
  if (!init.some((l) => l.startsWith('file_limit='))) throw new Error(`1C init: ${init.join(' | ')}`);
  const name = `offers-${seq}.xml`;
  const up = await client.call({ mode: 'file', filename: name }, body);
  if (up[0] !== 'success') throw new Error(`1C file ${name}: ${up.join(' | ')}`);
  const seen = watcher.watch({ sku: last.sku, value: last.value, t0, source: 'onec', rows, underLoad });
  for (;;) {
    const r = await client.call({ mode: 'import', filename: name });
    if (r[0] === 'success') break;
    if (r[0] !== 'progress') throw new Error(`1C import ${name}: ${r.join(' | ')}`);
  }
  const done = await client.call({ mode: 'complete' });
  if (done[0] !== 'success') throw new Error(`1C complete after ${name}: ${done.join(' | ')}`);
  return seen;
}

let seq = 0;
/** CSV deltas write the first half of the products, 1C deltas the second: a sample's value is never overwritten by the other source before it is seen. */
const HALF = PRODUCTS / 2;
const next = { csv: 0, onec: 0 };

/**
 * A delta every 200 ms while `go()` holds — by turns CSV and 1C, each source 1 and 100 rows by turns —;
 * resolves with every sample.
 */
async function pushDeltas(s: Server, go: () => boolean, loaded: () => boolean): Promise<Sample[]> {
  const watcher = new Watcher(s);
  const pending: Array<Promise<Sample>> = [];
  let at = performance.now();
  while (go()) {
    const source: Source = seq % 2 === 0 ? 'csv' : 'onec';
    const rows = Math.floor(seq / 2) % 2 === 0 ? 1 : 100;
    const first = (source === 'csv' ? 0 : HALF) + next[source];
    pending.push((source === 'csv' ? csvDelta : onecDelta)(s, watcher, seq++, first, rows, loaded()));
    next[source] = (next[source] + rows) % HALF;
    at += TICK_MS;
    await sleep(Math.max(0, at - performance.now()));
  }
  const samples = await Promise.all(pending);
  await watcher.stop();
  return samples;
}

function pct(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

function summary(samples: Sample[]) {
  const ms = samples.map((x) => x.ms);
  const r = (x: number) => Math.round(x);
  const by = (f: (x: Sample) => boolean) => samples.filter(f).map((x) => x.ms);
  const src = (source: Source) => {
    const xs = by((x) => x.source === source);
    return { n: xs.length, p50: r(pct(xs, 50)), p95: r(pct(xs, 95)), p99: r(pct(xs, 99)), max: r(Math.max(...xs)) };
  };
  return {
    n: samples.length, timedOut: samples.filter((x) => x.timedOut).length,
    p50: r(pct(ms, 50)), p95: r(pct(ms, 95)), p99: r(pct(ms, 99)), max: r(Math.max(...ms)),
    p95Rows1: r(pct(by((x) => x.rows === 1), 95)), p95Rows100: r(pct(by((x) => x.rows === 100), 95)),
    csv: src('csv'), onec: src('onec'),
  };
}

// -------------------------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  mkdirSync(DATA, { recursive: true });
  mkdirSync(RESULTS, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const prefix = `bench-fresh-${process.pid}-${Date.now().toString(36)}`;
  const inboxDir = path.join(DATA, `inbox-${prefix}`);
  const priceTypes = Math.ceil(args.rows / PRODUCTS);
  const snap = [0, 1].map((k) => path.join(DATA, `fresh-snapshot-${args.rows}-${k}.csv`));
  const seedFiles = {
    priceTypes: path.join(DATA, 'fresh-price-types.csv'), cities: path.join(DATA, 'fresh-cities.csv'),
    products: path.join(DATA, 'fresh-products.csv'), deltaBase: path.join(DATA, 'fresh-delta-base.csv'),
  };
  progress(`snapshot ${args.rows} rows = ${priceTypes} price types × ${PRODUCTS} products; deltas of 1 / 100 rows every ${TICK_MS} ms, ${args.seconds} s per phase`);
  snap.forEach((f, k) => writeSnapshot(f, args.rows, k * 13));
  writeCsv(seedFiles.priceTypes, 'code;name;currency;city', 1, () => `${DELTA_PRICE_TYPE};Розница;RUB;${CITY}`);
  writeCsv(seedFiles.cities, 'code;name;price_type', 1, () => `${CITY};Москва;${DELTA_PRICE_TYPE}`);
  writeCsv(seedFiles.products, 'sku;name', PRODUCTS, (p) => `${sku(p)};Товар ${p + 1}`);
  writeCsv(seedFiles.deltaBase, 'sku;price_type;price;currency', PRODUCTS, (p) => `${sku(p)};${DELTA_PRICE_TYPE};${cents(1000 + p)};RUB`);

  await psql(ADMIN_URL, ['-c', `DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`]);
  await psql(ADMIN_URL, ['-c', `CREATE DATABASE ${DB_NAME}`]);
  const env: NodeJS.ProcessEnv = {
    ...process.env, DATABASE_URL: DB_URL, REDIS_URL, MAGISTRAL_QUEUE_PREFIX: prefix, MAGISTRAL_DATA_DIR: inboxDir, LOG_LEVEL: 'info',
    MAGISTRAL_ADMIN_TOKEN: ADMIN_TOKEN, ONEC_USER, ONEC_PASSWORD, MAGISTRAL_MERGE_WORK_MEM: process.env.MAGISTRAL_MERGE_WORK_MEM ?? '256MB',
  };
  await mustExec(BIN, ['migrate'], env);
  // The example flows, guards removed: the big snapshot as ops/flows/prices-csv.yaml (scope flow), the
  // deltas the same file format in delta mode, and the catalog, price type and city they need.
  const flows: Array<Record<string, unknown>> = [];
  for (const name of ['price-types-csv', 'cities-csv', 'products-csv']) flows.push(parse(readFileSync(path.join(REPO, `ops/flows/${name}.yaml`), 'utf8')) as Record<string, unknown>);
  const prices = parse(readFileSync(path.join(REPO, 'ops/flows/prices-csv.yaml'), 'utf8')) as Record<string, unknown>;
  delete prices.guard;
  flows.push({ ...prices, name: BIG_FLOW, mode: 'snapshot' }, { ...prices, name: DELTA_FLOW, mode: 'delta' });
  // The 1C deltas: the prices flow of ops/flows/onec.yaml alone on an exchange of its own (an offers file
  // makes one run), its codes in the system the CSV flows use, so an offer's Ид is a product's SKU and the
  // price type's Ид the city's price type: the bench times the exchange's path, not a code mapping.
  const onecDocs = parseAllDocuments(readFileSync(path.join(REPO, 'ops/flows/onec.yaml'), 'utf8')).map((d) => d.toJS() as Record<string, unknown>);
  const onecPrices = onecDocs.find((f) => f.name === 'onec-prices')!;
  delete onecPrices.guard;
  const onecSource = onecPrices.source as { system: string; options: Record<string, unknown> };
  flows.push({ ...onecPrices, name: ONEC_FLOW, source: { ...onecSource, system: 'local', options: { ...onecSource.options, exchange: ONEC_EXCHANGE } } });
  const flowFile = path.join(DATA, 'fresh.bench.yaml');
  writeFileSync(flowFile, `# Generated by ops/bench/freshness.ts from ops/flows/*.yaml (guards removed).\n${flows.map((f) => stringify(f)).join('---\n')}`);
  await mustExec(BIN, ['flows', 'apply', '-f', flowFile], env);
  const keyOut = await mustExec(BIN, ['keys', 'create', '--name', 'bench', '--scopes', 'prices:read', '--rate', '100000000/min'], env);
  const key = /mgk_[A-Za-z0-9_-]+/.exec(keyOut.stdout)?.[0];
  if (!key) throw new Error(`keys create printed no key:\n${keyOut.stdout}`);

  const c = new pg.Client({ connectionString: DB_URL, application_name: 'bench-fresh' });
  await c.connect();
  let worker: WorkerProc | undefined;
  let api: ApiProc | undefined;
  try {
    worker = await startWorker({ ...env, PORT: String(await freePort()), HOST: '127.0.0.1' }, path.join(RESULTS, `fresh-worker-${stamp}.log`));
    api = await startApi(env, path.join(RESULTS, `fresh-api-${stamp}.log`));
    const s: Server = { url: `http://127.0.0.1:${api.port}`, key, env };
    progress(`worker pid ${worker.pid} and API on port ${api.port} up`);

    // Seed: the price type bound to the city, the catalog, every product's price in the delta flow.
    for (const [flow, file] of [['price-types-csv', seedFiles.priceTypes], ['cities-csv', seedFiles.cities], ['products-csv', seedFiles.products], [DELTA_FLOW, seedFiles.deltaBase]] as const) {
      await waitRun(c, await post(s, flow, path.basename(file), readFileSync(file, 'utf8')));
    }
    // A settled store: statistics current (autovacuum would analyze the 50,000 new external ids a minute
    // later; before it, the snapshot's unknown-code check planned a nested loop over them and ran for minutes).
    await c.query('ANALYZE');
    const probe = await visiblePrice(s, sku(0));
    if (probe !== cents(1000)) throw new Error(`the seeded price of ${sku(0)} reads ${probe}, expected ${cents(1000)}`);
    progress('seeded: price type, city, 50,000 products and their prices of the delta flow');

    // Phase A: deltas alone.
    const tA = performance.now();
    const phaseA = await pushDeltas(s, () => performance.now() - tA < args.seconds * 1000, () => false);
    const a = summary(phaseA);
    progress(`phase A (no load): ${a.n} deltas, p50 ${a.p50} ms, p95 ${a.p95} ms, p99 ${a.p99} ms, max ${a.max} ms; csv p95 ${a.csv.p95}, 1C p95 ${a.onec.p95}`);

    // Phase B: the same while snapshots of the big flow run back to back, started for S seconds (at least
    // one); deltas go on until the last one has merged. A delta counts as under load if one ran as it was sent.
    let bigOpen = false;
    let bigDone = 0;
    const bigRuns: Array<{ id: number; seconds: number; mergeMs: number | null }> = [];
    const tB = performance.now();
    const big = (async () => {
      for (let k = 0; k === 0 || performance.now() - tB < args.seconds * 1000; k++) {
        const file = snap[k % 2]!;
        bigOpen = true;
        try {
          const t = performance.now();
          const id = await post(s, BIG_FLOW, path.basename(file), createReadStream(file));
          const r = await waitRun(c, id);
          bigRuns.push({ id, seconds: (performance.now() - t) / 1000, mergeMs: r.merge_ms });
          progress(`big snapshot run ${id}: ${((performance.now() - t) / 1000).toFixed(1)} s (merge ${((r.merge_ms ?? 0) / 1000).toFixed(1)} s)`);
          bigDone++;
        } finally {
          bigOpen = false;
        }
      }
    })();
    const phaseB = await pushDeltas(s, () => bigOpen || performance.now() - tB < args.seconds * 1000, () => bigOpen);
    await big;
    const underLoad = phaseB.filter((x) => x.underLoad);
    if (!bigDone) throw new Error('no big snapshot finished');
    const b = summary(underLoad);
    progress(`phase B (under load): ${b.n} deltas sent and seen while a snapshot ran, p50 ${b.p50} ms, p95 ${b.p95} ms, p99 ${b.p99} ms, max ${b.max} ms; csv p95 ${b.csv.p95}, 1C p95 ${b.onec.p95}`);

    // Where the delta runs of phase B spent their time (p50 / p95 ms), per source: queued for a reader,
    // read, staged until their merge began (the flow's earlier runs, the merge queue), merged.
    const stagesOf = async (flow: string) => {
      const rows = (await c.query<{ stage: string; p50: number; p95: number }>(`
        WITH r AS (
          SELECT extract(epoch FROM r.started_at - r.received_at) * 1000 AS queued, r.extract_ms AS extract,
                 extract(epoch FROM r.finished_at - r.staged_at) * 1000 - r.merge_ms AS "waitMerge", r.merge_ms AS merge
          FROM runs r JOIN flows f ON f.id = r.flow_id WHERE f.name = $1 AND r.state = 'done' AND r.received_at >= now() - make_interval(secs => $2)
        )
        SELECT s.stage, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY s.ms))::int AS p50, round(percentile_cont(0.95) WITHIN GROUP (ORDER BY s.ms))::int AS p95
        FROM r CROSS JOIN LATERAL (VALUES ('queued', r.queued), ('extract', r.extract), ('waitMerge', r."waitMerge"), ('merge', r.merge)) s(stage, ms)
        GROUP BY s.stage`, [flow, (performance.now() - tB) / 1000])).rows;
      progress(`phase B ${flow} runs by stage (p50 / p95 ms): ${rows.map((x) => `${x.stage} ${x.p50} / ${x.p95}`).join(', ')}`);
      return Object.fromEntries(rows.map((x) => [x.stage, { p50: x.p50, p95: x.p95 }]));
    };
    const underLoadStages = await stagesOf(DELTA_FLOW);
    const underLoadOnecStages = await stagesOf(ONEC_FLOW);

    const hwmKb = await worker.stop();
    const workerPeakRssMb = Math.max(hwmKb, worker.maxRssKb) / 1024;
    worker = undefined;

    const targets = {
      p95Ms: { target: '< 1000', ok: a.p95 < 1000 }, p99Ms: { target: '< 2000', ok: a.p99 < 2000 },
      underLoadP95Ms: { target: '< 1000', ok: b.p95 < 1000 }, underLoadP99Ms: { target: '< 2000', ok: b.p99 < 2000 },
      workerPeakRssMb: { target: '< 300', ok: workerPeakRssMb < 300 },
    };
    const result = {
      rows: args.rows, priceTypes, products: PRODUCTS, seconds: args.seconds, tickMs: TICK_MS,
      p50Ms: a.p50, p95Ms: a.p95, p99Ms: a.p99, maxMs: a.max, deltas: a.n, timedOut: a.timedOut, p95Rows1Ms: a.p95Rows1, p95Rows100Ms: a.p95Rows100,
      underLoadP50Ms: b.p50, underLoadP95Ms: b.p95, underLoadP99Ms: b.p99, underLoadMaxMs: b.max, underLoadDeltas: b.n, underLoadTimedOut: b.timedOut,
      underLoadP95Rows1Ms: b.p95Rows1, underLoadP95Rows100Ms: b.p95Rows100,
      csvP50Ms: a.csv.p50, csvP95Ms: a.csv.p95, csvP99Ms: a.csv.p99, onecP50Ms: a.onec.p50, onecP95Ms: a.onec.p95, onecP99Ms: a.onec.p99,
      underLoadCsvP50Ms: b.csv.p50, underLoadCsvP95Ms: b.csv.p95, underLoadCsvP99Ms: b.csv.p99,
      underLoadOnecP50Ms: b.onec.p50, underLoadOnecP95Ms: b.onec.p95, underLoadOnecP99Ms: b.onec.p99,
      underLoadStages, underLoadOnecStages, bigRuns, workerPeakRssMb: Math.round(workerPeakRssMb * 10) / 10, targets,
    };
    const resultFile = path.join(RESULTS, `freshness-${args.rows}-${stamp}.json`);
    writeFileSync(resultFile, `${JSON.stringify(result, null, 2)}\n`);
    const mark = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
    console.log(`freshness bench: deltas of 1 / 100 rows every ${TICK_MS} ms (CSV and 1C offers by turns); load: a snapshot of ${args.rows} rows on another flow; results ${path.relative(REPO, resultFile)}`);
    console.log(`phase                 n     p50      p95      p99      max   (ms, sent → visible through GET /api/v1/prices)`);
    const line = (label: string, x: { n: number; p50: number; p95: number; p99: number; max: number }, tail = '') =>
      console.log(`${label.padEnd(18)} ${String(x.n).padStart(4)} ${String(x.p50).padStart(7)} ${String(x.p95).padStart(8)} ${String(x.p99).padStart(8)} ${String(x.max).padStart(8)}${tail}`);
    for (const [label, x] of [['A: no load', a], ['B: under load', b]] as const) {
      line(label, x, `   timed out ${x.timedOut}`);
      line('    CSV', x.csv);
      line('    1C offers', x.onec);
    }
    for (const [k, t] of Object.entries(targets)) console.log(`  ${k} ${t.target}: ${mark(t.ok)}`);
    console.log(`worker peak RSS ${workerPeakRssMb.toFixed(1)} MB`);
    console.log(JSON.stringify(result));
  } finally {
    await worker?.stop().catch(() => 0);
    await api?.stop().catch(() => {});
    await c.end().catch(() => {});
    await deleteQueueKeys(REDIS_URL, prefix).catch((e: Error) => progress(`could not remove redis keys ${prefix}:*: ${e.message}`));
    rmSync(inboxDir, { recursive: true, force: true });
    for (const f of [...snap, ...Object.values(seedFiles)]) rmSync(f, { force: true });
    if (!args.keep) await psql(ADMIN_URL, ['-c', `DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`]).catch((e: Error) => progress(e.message));
  }
}

main().catch((e: Error) => {
  progress(`failed: ${e.stack ?? e.message}`);
  process.exitCode = 1;
});
