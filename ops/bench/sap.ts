// SAP IDoc benchmark (`npm run bench:sap -- --conditions N`): COND_A05 IDoc-XML messages, generated on
// disk first (one IDoc per condition record, as change pointers produce them; `--idocs-per-message` per
// POST, as the partner profile's packet size groups them), posted with SAP's parallelism through the
// real endpoint (/exchange/sap/idoc/<endpoint>) into a fresh database, with the API server and the
// workers in processes of their own (the workers' peak RSS is measured). In the same run: the reference
// (the same bytes parsed by a plain `saxes` handler that only counts E1KONP), the machine's floors for
// receiving (a bare HTTP server that hashes and writes the same POSTs) and for writing (a raw COPY of the
// same rows into prices), the freshness of a one-condition IDoc posted while the load runs (POST start →
// the new value answered by the portal API), where the time goes per stage (the runs table), and the
// floor of any design (receive + parse once + write, perfectly overlapped on every core). The last line
// printed is one JSON object.
// Diagnostics: BENCH_API_PROF=<dir> / BENCH_WORKER_PROF=<dir> write V8 CPU profiles of the API and the
// worker there; BENCH_AUTO_EXPLAIN=<duration, e.g. 50ms> logs the plans of slower statements of the
// bench database to the PostgreSQL server log (auto_explain).
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { open, type FileHandle } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { SaxesParser } from 'saxes';
import { parseAllDocuments, stringify } from 'yaml';
import { deleteQueueKeys } from '../../src/pipeline/queues.ts';
import {
  BIN, REPO, exec, freePort, mustExec, procCpuSeconds, progress, psql, query, sleep, startApi, startWorker, type ApiProc, type WorkerProc,
} from './lib.ts';

const BENCH = path.join(REPO, 'ops/bench');
const DATA = path.join(BENCH, 'data');
const RESULTS = path.join(BENCH, 'results');
const DB_NAME = 'magistral_bench_sap';
const PG_BASE = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const DB_URL = `${PG_BASE}/${DB_NAME}`;
const ADMIN_URL = `${PG_BASE}/postgres`;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const FLOWS_FILE = path.join(REPO, 'ops/flows/sap-idoc.yaml');
const PRICE_KEYS = 100;
const USER = 'bench-sap';
const PASSWORD = 'bench-sap-password';
const FRESH_SAMPLES = 50;
const cores = availableParallelism();
/**
 * Give up on one freshness sample after this long (it then counts as this long and is reported as a
 * timeout). Long: a sample queued behind the load's runs shows when the queue reaches it, and how long
 * that takes is what is measured.
 */
const FRESH_TIMEOUT_MS = 30 * 60_000;
/** How often the portal is asked for the probe's price: fine enough for a 1 s target, light on the API. */
const FRESH_POLL_MS = 50;

// ---------------------------------------------------------------------------------------------- args

interface Args { conditions: number; perMessage: number; concurrency: number; keep: boolean }

// SAP's guide for the partner profile's packet size ("Pack. Size", WE20 / SALE → generate partner
// profiles) is 10–200 IDocs per packet, larger for small IDocs, and a packet should stay under about
// 10,000 data records (help.sap.com, "Sending IDoc Packets"). A COND_A05 IDoc here has 4 data records
// (7 with scales) besides its control record, so 100 IDocs (~430 records, ~130 KB of XML) is the middle
// of that guide and what partner profiles generated for background output are commonly set to.
const DEFAULT_PER_MESSAGE = 100;
// SAP sends tRFC/XML-HTTP packets from parallel dialog work processes; 2–4 is what an RFC server group
// quota typically leaves a single partner. 3: the middle of that range.
const DEFAULT_CONCURRENCY = 3;

function parseArgs(argv: string[]): Args {
  const out: Args = { conditions: 5_000_000, perMessage: DEFAULT_PER_MESSAGE, concurrency: DEFAULT_CONCURRENCY, keep: false };
  const num = (v: string | undefined) => Number(String(v).replace(/_/g, ''));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = () => (a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i]);
    if (a === '--keep') out.keep = true;
    else if (a === '--conditions' || a.startsWith('--conditions=')) out.conditions = num(val());
    else if (a === '--idocs-per-message' || a.startsWith('--idocs-per-message=')) out.perMessage = num(val());
    else if (a === '--concurrency' || a.startsWith('--concurrency=')) out.concurrency = num(val());
    else if (a === '--help' || a === '-h') {
      process.stderr.write(`usage: npm run bench:sap -- [--conditions N (1000..50000000, default 5000000)] [--idocs-per-message M (default ${DEFAULT_PER_MESSAGE}: SAP's packet size)] [--concurrency C (1..16, default ${DEFAULT_CONCURRENCY}: SAP's parallel senders)] [--keep]\n`);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(out.conditions) || out.conditions < 1000 || out.conditions > 50_000_000) throw new Error('--conditions must be an integer from 1000 to 50000000');
  if (!Number.isInteger(out.perMessage) || out.perMessage < 1 || out.perMessage > 100_000) throw new Error('--idocs-per-message must be an integer from 1 to 100000');
  if (!Number.isInteger(out.concurrency) || out.concurrency < 1 || out.concurrency > 16) throw new Error('--concurrency must be an integer from 1 to 16');
  return out;
}

// --------------------------------------------------------------------------------------- generation

/**
 * The condition records: N = materials × price keys (50,000 × 100 at the default N; fewer materials for
 * a smaller N), one PR00 record per material and price list (condition table 006: sales organization /
 * distribution channel / price list type / currency / material), valid from 2024-01-01 to 9999-12-31.
 * Material-major order. 10 % carry three quantity scales; every 5th is priced per 100 units.
 */
interface Shape { conditions: number; materials: number; keys: number }
const shapeOf = (n: number): Shape => {
  // At the default N: 50,000 materials × 100 price lists.
  const keys = Math.min(PRICE_KEYS, n);
  return { conditions: n, keys, materials: Math.ceil(n / keys) };
};

const VKORG = '1000';
const VTWEG = '10';
const WAERK = 'RUB';
const SNDPOR = 'SAPPRD';
const SNDPRN = 'PRDCLNT100';
const RCVPOR = 'MAGISTRAL';
const RCVPRN = 'MAGISTRAL';
/** Price list types (PLTYP, CHAR 2): 00 … 99, one per price key. */
const pltyp = (t: number) => String(t).padStart(2, '0');
/** Material numbers as SAP stores numeric ones (MATNR CHAR 18, leading zeros). */
const matnr = (m: number) => String(100_000 + m).padStart(18, '0');
/** The freshness probe's key: a material of its own (never in the load), price list 00. */
const FRESH_MATNR = matnr(99_999_999);

interface Condition {
  docnum: number;
  knumh: number;
  matnr: string;
  pltyp: string;
  /** KBETR in cents (KONWA RUB). */
  cents: number;
  kpein: 1 | 100;
  kmein: 'ST' | 'PCE';
  scales: boolean;
}

const money = (cents: number) => `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
const el = (name: string, value: string) => `<${name}>${value}</${name}>`;

/** One COND_A05 IDoc as SAP's XML port writes it (no indentation, empty fields left out). */
function idoc(c: Condition, created: { date: string; time: string }): string {
  const docnum = String(c.docnum).padStart(16, '0');
  const vakey = VKORG.padEnd(4) + VTWEG.padEnd(2) + c.pltyp.padEnd(2) + WAERK.padEnd(5) + c.matnr;
  let s = '<IDOC BEGIN="1"><EDI_DC40 SEGMENT="1">'
    + el('TABNAM', 'EDI_DC40') + el('MANDT', '100') + el('DOCNUM', docnum) + el('DOCREL', '758') + el('STATUS', '30') + el('DIRECT', '1')
    + el('OUTMOD', '2') + el('IDOCTYP', 'COND_A05') + el('MESTYP', 'COND_A') + el('SNDPOR', SNDPOR) + el('SNDPRT', 'LS') + el('SNDPRN', SNDPRN)
    + el('RCVPOR', RCVPOR) + el('RCVPRT', 'LS') + el('RCVPRN', RCVPRN) + el('CREDAT', created.date) + el('CRETIM', created.time)
    + el('SERIAL', `${created.date}${created.time}`)
    + '</EDI_DC40><E1KOMG SEGMENT="1">'
    + el('KVEWE', 'A') + el('KOTABNR', '006') + el('KAPPL', 'V') + el('KSCHL', 'PR00') + el('VAKEY', vakey)
    + el('VKORG', VKORG) + el('VTWEG', VTWEG) + el('PLTYP', c.pltyp) + el('WAERK', WAERK) + el('MATNR', c.matnr)
    + '<E1KONH SEGMENT="1">'
    + el('KNUMH', String(c.knumh).padStart(10, '0')) + el('DATAB', '20240101') + el('DATBI', '99991231')
    + '<E1KONP SEGMENT="1">'
    + el('KSCHL', 'PR00') + (c.scales ? el('STFKZ', 'A') + el('KZBZG', 'C') + el('KONMS', c.kmein) : '')
    + el('KRECH', 'C') + el('KBETR', money(c.cents)) + el('KONWA', 'RUB') + el('KPEIN', String(c.kpein)) + el('KMEIN', c.kmein)
    + el('KUMZA', '1') + el('KUMNE', '1') + el('MEINS', c.kmein);
  if (c.scales) {
    // From 1, 10 and 100 units: the price, 5 % and 10 % off (KSTBM QUAN 15,3 as SAP formats it).
    for (const [qty, pct] of [[1, 100], [10, 95], [100, 90]] as const) {
      s += `<E1KONM SEGMENT="1">${el('KSTBM', `${qty}.000`)}${el('KBETR', money(Math.round((c.cents * pct) / 100)))}</E1KONM>`;
    }
  }
  return `${s}</E1KONP></E1KONH></E1KOMG></IDOC>\n`;
}

const message = (idocs: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<COND_A05>\n${idocs}</COND_A05>\n`;

const CREATED = { date: '20261206', time: '120000' };

interface Generated extends Shape {
  perMessage: number;
  messages: number;
  bytes: number;
  scaled: number;
  /** Byte offsets: message k is bytes [bounds[k], bounds[k + 1]) of the file. */
  bounds: number[];
}

async function generate(file: string, shape: Shape, perMessage: number): Promise<Generated> {
  const out = createWriteStream(file, { highWaterMark: 1 << 22 });
  const bounds = [0];
  let bytes = 0;
  let scaled = 0;
  let idocs = '';
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (!pending.length) return;
    const b = Buffer.concat(pending);
    pending = [];
    pendingBytes = 0;
    if (!out.write(b)) await once(out, 'drain');
  };
  const endMessage = async () => {
    const b = Buffer.from(message(idocs), 'utf8');
    idocs = '';
    bytes += b.length;
    bounds.push(bytes);
    pending.push(b);
    pendingBytes += b.length;
    if (pendingBytes > 1 << 22) await flush();
  };
  for (let i = 0; i < shape.conditions; i++) {
    const m = Math.floor(i / shape.keys);
    const t = i % shape.keys;
    const scales = i % 10 === 0;
    if (scales) scaled++;
    idocs += idoc({
      docnum: i + 1, knumh: i + 1, matnr: matnr(m), pltyp: pltyp(t), cents: 100 + ((m * 7919 + t * 104_729) % 9_999_900),
      kpein: i % 5 === 4 ? 100 : 1, kmein: i % 10 === 7 ? 'PCE' : 'ST', scales,
    }, CREATED);
    if ((i + 1) % perMessage === 0) await endMessage();
  }
  if (idocs) await endMessage();
  await flush();
  out.end();
  await once(out, 'finish');
  return { ...shape, perMessage, messages: bounds.length - 1, bytes, scaled, bounds };
}

/** A message of one IDoc for the freshness probe's fixed key, with a DOCNUM of its own. */
function freshMessage(docnum: number, cents: number): Buffer {
  return Buffer.from(message(idoc({ docnum, knumh: 9_999_999_999, matnr: FRESH_MATNR, pltyp: pltyp(0), cents, kpein: 1, kmein: 'ST', scales: false }, CREATED)), 'utf8');
}

// ---------------------------------------------------------------------------------------- reference

async function readMessage(fh: FileHandle, gen: Generated, k: number): Promise<Buffer> {
  const start = gen.bounds[k]!;
  const len = gen.bounds[k + 1]! - start;
  const buf = Buffer.allocUnsafe(len);
  const { bytesRead } = await fh.read(buf, 0, len, start);
  if (bytesRead !== len) throw new Error(`short read of message ${k}`);
  return buf;
}

/** The reference: each message read and parsed by a fresh saxes parser counting E1KONP start tags, nothing else. */
async function saxesReference(file: string, gen: Generated): Promise<{ conditions: number; seconds: number }> {
  const t = performance.now();
  const fh = await open(file, 'r');
  let conditions = 0;
  try {
    for (let k = 0; k < gen.messages; k++) {
      const parser = new SaxesParser({ xmlns: false, position: false });
      parser.on('opentag', (tag) => {
        if (tag.name === 'E1KONP') conditions++;
      });
      parser.write((await readMessage(fh, gen, k)).toString('utf8'));
      parser.close();
    }
  } finally {
    await fh.close();
  }
  return { conditions, seconds: (performance.now() - t) / 1000 };
}

// ------------------------------------------------------------------------------------------ posting

interface Posted { seconds: number; latenciesMs: number[]; firstAt: number; lastAt: number }

/**
 * Posts every message of the file to `url` with `concurrency` requests in flight on keep-alive
 * connections, as SAP's parallel senders do; anything but 200 stops the bench with the answer.
 * `onPosted` is told the count after each answer.
 */
async function postAll(file: string, gen: Generated, port: number, urlPath: string, auth: string, concurrency: number,
  onPosted?: (n: number) => void): Promise<Posted> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const fh = await open(file, 'r');
  const latenciesMs: number[] = new Array<number>(gen.messages);
  let next = 0;
  let done = 0;
  const firstAt = Date.now();
  const t = performance.now();
  try {
    const lane = async () => {
      for (;;) {
        const k = next++;
        if (k >= gen.messages) return;
        const body = await readMessage(fh, gen, k);
        const t1 = performance.now();
        const r = await post(port, urlPath, auth, body, agent);
        latenciesMs[k] = performance.now() - t1;
        if (r.status !== 200) throw new Error(`message ${k + 1} of ${gen.messages} answered ${r.status}: ${r.body.slice(0, 2000)}`);
        onPosted?.(++done);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
    return { seconds: (performance.now() - t) / 1000, latenciesMs, firstAt, lastAt: Date.now() };
  } finally {
    await fh.close();
    agent.destroy();
  }
}

function post(port: number, urlPath: string, auth: string, body: Buffer, agent: http.Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port, path: urlPath, method: 'POST', agent,
      headers: { authorization: auth, 'content-type': 'application/xml; charset=UTF-8', 'content-length': body.length },
    }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

// ------------------------------------------------------------------------------------------ floors

/**
 * The receive floor: the same POSTs, by the same client with the same concurrency, to a bare node:http
 * server that does only what receiving must (sha256 and write each body to a file of its own, no
 * database, no fsync).
 */
async function receiveFloor(file: string, gen: Generated, concurrency: number, dir: string): Promise<number> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let n = 0;
  const server = http.createServer((req, res) => {
    void (async () => {
      const hash = createHash('sha256');
      const parts: Buffer[] = [];
      for await (const c of req as AsyncIterable<Buffer>) {
        hash.update(c);
        parts.push(c);
      }
      const fh = await open(path.join(dir, `${n++}.xml`), 'w');
      await fh.writev(parts);
      await fh.close();
      res.end(hash.digest('hex'));
    })();
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const r = await postAll(file, gen, (server.address() as { port: number }).port, '/floor', 'Basic floor', concurrency);
    return r.seconds;
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The write floor: what the load wrote to `table`, copied out as COPY text, the table emptied, and the
 * same rows COPYed back in one statement (same partitions, same indexes). Leaves the table as it was.
 */
async function copyFloor(c: pg.Client, table: string, cols: string, out: string): Promise<{ seconds: number; rows: number }> {
  await pipeline(c.query(copyTo(`COPY (SELECT ${cols} FROM ${table}) TO STDOUT`)), createWriteStream(out, { highWaterMark: 1 << 20 }));
  const [{ n }] = await query<{ n: string }>(c, `SELECT count(*) AS n FROM ${table}`) as [{ n: string }];
  await c.query(`TRUNCATE ${table}`);
  await c.query('CHECKPOINT');
  const t = performance.now();
  await pipeline(createReadStream(out, { highWaterMark: 1 << 20 }), c.query(copyFrom(`COPY ${table} (${cols}) FROM STDIN`)));
  const seconds = (performance.now() - t) / 1000;
  rmSync(out, { force: true });
  return { seconds, rows: Number(n) };
}

// ---------------------------------------------------------------------------------------- utilities

function pct(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** CPU seconds per PostgreSQL process (server and backends, all databases) so far. */
function postgresCpu(): Map<number, number> {
  const out = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() !== 'postgres') continue;
    } catch {
      continue;
    }
    out.set(Number(d), procCpuSeconds(Number(d)));
  }
  return out;
}

/** CPU used between two readings: processes in both count their growth, new ones all they used (ones gone in between are lost). */
function cpuDelta(a: Map<number, number>, b: Map<number, number>): number {
  let s = 0;
  for (const [pid, v] of b) s += v - (a.get(pid) ?? 0);
  return s;
}

/** Busy CPU seconds of the whole machine so far (/proc/stat: everything but idle and iowait). */
function machineBusySeconds(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return (f.reduce((a, b) => a + b, 0) - (f[3] ?? 0) - (f[4] ?? 0)) / 100;
  } catch {
    return 0;
  }
}

interface FlowDoc { name: string; source: { connector: string; system?: string; options?: Record<string, unknown> }; guard?: unknown; [k: string]: unknown }

/** The example flows of a file, as objects. */
function flowsOf(file: string): FlowDoc[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  return (Array.isArray(docs) ? docs : [docs]).map((d) => d.toJS() as FlowDoc).filter(Boolean);
}

/**
 * The portal price type code the prices flow's mapping gives a condition key (`PR00/1000/10/01`): the
 * values of the `lookup` on its priceType field, the key itself where it has none (onMissing: keep).
 */
function priceTypeCodes(flows: FlowDoc[]): (key: string) => string {
  const values: Record<string, string> = {};
  for (const f of flows) {
    for (const m of [f.mapping].flat()) {
      if (typeof m !== 'string') continue;
      const doc = parseAllDocuments(readFileSync(path.join(REPO, 'mappings', m), 'utf8'));
      const mapping = (Array.isArray(doc) ? doc[0] : doc)?.toJS() as { fields?: Record<string, { transforms?: unknown[] }> } | undefined;
      for (const t of mapping?.fields?.priceType?.transforms ?? []) {
        const lookup = (t as { lookup?: { values?: Record<string, string> } } | null)?.lookup;
        if (lookup?.values) Object.assign(values, lookup.values);
      }
    }
  }
  return (key) => values[key] ?? key;
}

/** Per run: ms from the previous run of its flow merged to its own merge start, where it was staged before that (NaN otherwise). */
function handOffs(runs: RunRow[]): number[] {
  const last = new Map<string, number>();
  const out: number[] = [];
  for (const r of [...runs].filter((x) => x.merged_with === null).sort((a, b) => Number(a.id) - Number(b.id))) {
    if (!r.finished_at || r.merge_ms === null || !r.staged_at) continue;
    const start = r.finished_at.getTime() - r.merge_ms;
    const prev = last.get(r.flow);
    if (prev !== undefined && r.staged_at.getTime() <= prev) out.push(start - prev);
    last.set(r.flow, r.finished_at.getTime());
  }
  return out;
}

// -------------------------------------------------------------------------------------------- main

interface RunRow {
  id: string; flow: string; state: string; rows_read: string; rows_staged: string; rows_rejected: string; rows_inserted: string; rows_updated: string;
  extract_ms: number | null; merge_ms: number | null; received_at: Date; started_at: Date | null; staged_at: Date | null; finished_at: Date | null;
  error: string | null;
  /** Set on a run whose rows merged in an earlier run's transaction (a group merge): it has no merge of its own. */
  merged_with: string | null;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  mkdirSync(DATA, { recursive: true });
  mkdirSync(RESULTS, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const prefix = `bench-sap-${process.pid}-${Date.now().toString(36)}`;
  const inboxDir = path.join(DATA, `inbox-${prefix}`);
  const file = path.join(DATA, `cond_a-${args.conditions}-${args.perMessage}.xml`);
  const metaFile = `${file}.json`;
  const flowFile = path.join(DATA, 'sap.bench.yaml');
  if (!existsSync(FLOWS_FILE)) throw new Error(`${path.relative(REPO, FLOWS_FILE)} is missing: the bench posts through the example SAP IDoc flows`);

  // 1. Generation, not timed (kept between runs of the same size).
  const shape = shapeOf(args.conditions);
  let gen: Generated;
  if (existsSync(file) && existsSync(metaFile) && (JSON.parse(readFileSync(metaFile, 'utf8')) as Generated).bytes === statSync(file).size) {
    gen = JSON.parse(readFileSync(metaFile, 'utf8')) as Generated;
    progress(`reusing ${path.relative(REPO, file)}`);
  } else {
    const t = performance.now();
    gen = await generate(file, shape, args.perMessage);
    writeFileSync(metaFile, JSON.stringify(gen));
    progress(`generated ${path.relative(REPO, file)} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const mb = gen.bytes / 1e6;
  progress(`${gen.conditions} condition records = ${gen.materials} materials × ${gen.keys} price lists (${gen.scaled} with 3 scales), ${gen.messages} messages of ≤ ${gen.perMessage} IDocs, ${mb.toFixed(1)} MB`);

  // 2. The reference and the receive floor, before any of our processes runs.
  // Best of two passes: on a shared machine one pass can be caught by another job (a pass of 53 s
  // against 5 s for the same 200 MB was seen); the reference is what the machine can parse.
  progress('reference: saxes counting E1KONP, best of two passes …');
  const passes = [await saxesReference(file, gen), await saxesReference(file, gen)];
  const ref = passes.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  progress(`reference passes: ${passes.map((p) => `${p.seconds.toFixed(2)} s`).join(', ')}`);
  if (ref.conditions !== gen.conditions) throw new Error(`saxes counted ${ref.conditions} E1KONP, expected ${gen.conditions}`);
  const referencePerSec = gen.conditions / ref.seconds;
  progress(`reference: ${ref.seconds.toFixed(2)} s, ${Math.round(referencePerSec)} conditions/s, ${(mb / ref.seconds).toFixed(1)} MB/s`);
  progress(`receive floor: the same ${gen.messages} POSTs (${args.concurrency} in flight) to a bare HTTP server that hashes and writes …`);
  const rcvFloor = await receiveFloor(file, gen, args.concurrency, path.join(DATA, `receive-floor-${prefix}`));
  progress(`receive floor: ${rcvFloor.toFixed(2)} s, ${Math.round(gen.conditions / rcvFloor)} conditions/s, ${(mb / rcvFloor).toFixed(0)} MB/s`);

  // Fresh database; the COND_A flows of ops/flows/sap-idoc.yaml without guards, and two file flows of
  // the same source system that complete the freshness probe's product and give it a city to price in.
  await psql(ADMIN_URL, ['-c', `DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`]);
  await psql(ADMIN_URL, ['-c', `CREATE DATABASE ${DB_NAME}`]);
  if (process.env.BENCH_AUTO_EXPLAIN) await psql(ADMIN_URL, ['-c', `ALTER DATABASE ${DB_NAME} SET session_preload_libraries = 'auto_explain'`, '-c', `ALTER DATABASE ${DB_NAME} SET auto_explain.log_min_duration = '${process.env.BENCH_AUTO_EXPLAIN}'`, '-c', `ALTER DATABASE ${DB_NAME} SET auto_explain.log_nested_statements = on`]);
  const condFlows = flowsOf(FLOWS_FILE).filter((f) => f.source?.connector === 'sap.idoc'
    && Array.isArray(f.source.options?.messageTypes) && (f.source.options.messageTypes as unknown[]).includes('COND_A'));
  if (!condFlows.length) throw new Error(`${path.relative(REPO, FLOWS_FILE)} has no sap.idoc flow taking COND_A`);
  const endpoints = [...new Set(condFlows.map((f) => String(f.source.options?.endpoint ?? f.name)))];
  const systems = [...new Set(condFlows.map((f) => String(f.source.system ?? 'sap')))];
  if (endpoints.length !== 1 || systems.length !== 1) throw new Error(`the COND_A flows serve endpoints ${endpoints.join(', ')} of systems ${systems.join(', ')}: the bench expects one of each`);
  const [endpoint] = endpoints as [string];
  const [system] = systems as [string];
  const userEnv = String(condFlows[0]!.source.options?.userEnv ?? 'SAP_USER');
  const passwordEnv = String(condFlows[0]!.source.options?.passwordEnv ?? 'SAP_PASSWORD');
  for (const f of condFlows) delete f.guard;
  const helperFlows = (['price-types-csv', 'products-csv', 'cities-csv'] as const).map((name) => {
    const [f] = flowsOf(path.join(REPO, 'ops/flows', `${name}.yaml`)) as [FlowDoc];
    return { ...f, name: `bench-sap-${name}`, source: { ...f.source, system } };
  });
  writeFileSync(flowFile, `# Generated by ops/bench/sap.ts: the COND_A flows of ops/flows/sap-idoc.yaml without guards; price-types-csv, products-csv and cities-csv as system ${system}.\n`
    + [...condFlows, ...helperFlows].map((f) => stringify(f)).join('---\n'));
  const env: NodeJS.ProcessEnv = {
    ...process.env, DATABASE_URL: DB_URL, REDIS_URL, MAGISTRAL_QUEUE_PREFIX: prefix, MAGISTRAL_DATA_DIR: inboxDir, LOG_LEVEL: 'info',
    [userEnv]: USER, [passwordEnv]: PASSWORD, MAGISTRAL_SWEEP_INTERVAL_MS: '1000',
  };
  await mustExec(BIN, ['migrate'], env);
  await mustExec(BIN, ['flows', 'apply', '-f', flowFile], env);
  progress(`database ${DB_NAME} migrated; flows ${condFlows.map((f) => f.name).join(', ')} (endpoint ${endpoint}, system ${system}) applied from ${path.relative(REPO, flowFile)}`);

  const c = new pg.Client({ connectionString: DB_URL, application_name: 'bench-sap' });
  await c.connect();
  let worker: WorkerProc | undefined;
  let api: ApiProc | undefined;
  let failed = false;
  try {
    worker = await startWorker({ ...env, PORT: String(await freePort()), HOST: '127.0.0.1' }, path.join(RESULTS, `sap-worker-${stamp}.log`));
    api = await startApi(env, path.join(RESULTS, `sap-api-${stamp}.log`));
    progress(`worker pid ${worker.pid} and API pid ${api.pid} on port ${api.port} up`);
    const ingest = async (flow: string, file: string) => {
      const r = await exec(BIN, ['ingest', '--flow', flow, file, '--no-embedded-workers', '--json', '--timeout', '120'], env);
      if (!/"state"\s*:\s*"done"/.test(r.stdout)) throw new Error(`${flow}: ${r.stderr}${r.stdout}`);
    };
    const csvDir = path.join(DATA, `csv-${prefix}`);
    mkdirSync(csvDir, { recursive: true });
    // The SAP prices flow invents no price types (an undeclared key is rejected): the portal declares the
    // 100 price lists first, under the codes the mapping gives their keys, as an administrator would.
    const codeOf = priceTypeCodes(condFlows);
    const ptCodes = Array.from({ length: gen.keys }, (_, t) => codeOf(`PR00/${VKORG}/${VTWEG}/${pltyp(t)}`));
    writeFileSync(path.join(csvDir, 'price-types.csv'), `code;name;currency\n${ptCodes.map((code, t) => `${code};Price list ${pltyp(t)};RUB`).join('\n')}\n`);
    await ingest('bench-sap-price-types-csv', path.join(csvDir, 'price-types.csv'));
    progress(`${ptCodes.length} price types declared (${ptCodes.slice(0, 3).join(', ')} …)`);
    const auth = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
    const idocPath = `/exchange/sap/idoc/${encodeURIComponent(endpoint)}`;
    const freshAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let freshDocnum = 90_000_000_000;

    const openRuns = async () => (await query<{ total: string; open: string }>(c,
      `SELECT count(*) AS total, count(*) FILTER (WHERE state NOT IN ('done', 'failed', 'rejected')) AS open FROM runs`))[0]!;
    const waitIdle = async (timeoutMs: number) => {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const r = await openRuns();
        if (Number(r.open) === 0) return;
        if (Date.now() > until) throw new Error(`${r.open} runs still open after ${timeoutMs / 1000} s`);
        await sleep(100);
      }
    };

    // The freshness probe's setup, not timed: its key posted once, its product completed and a city
    // pricing by its price type (both through file flows of the SAP system), an API key, and the
    // value the portal answers for the KBETR sent (the unit conversion of the mapping, if any).
    const firstFresh = await post(api.port, idocPath, auth, freshMessage(++freshDocnum, 100_000), freshAgent);
    if (firstFresh.status === 404) throw new Error(`${idocPath} answered 404: no SAP IDoc endpoint on this build (connectors/sap exchanges)? ${firstFresh.body}`);
    if (firstFresh.status !== 200) throw new Error(`the freshness IDoc answered ${firstFresh.status}: ${firstFresh.body}`);
    await waitIdle(60_000);
    const [probeRow] = await query<{ price_type_id: number; product_id: string; pt_code: string; product_code: string }>(c, `
      SELECT x.price_type_id, x.product_id,
        (SELECT external_id FROM external_ids WHERE entity = 'priceType' AND system = $1 AND internal_id = x.price_type_id LIMIT 1) AS pt_code,
        (SELECT external_id FROM external_ids WHERE entity = 'product' AND system = $1 AND internal_id = x.product_id LIMIT 1) AS product_code
      FROM prices x`, [system]);
    if (!probeRow) {
      const rej = await query<{ reason: string; path: string | null }>(c, 'SELECT reason, path FROM rejects ORDER BY id LIMIT 5');
      const runs = await query<{ state: string; error: string | null }>(c, 'SELECT state, error FROM runs ORDER BY id');
      throw new Error(`one COND_A IDoc stored no price: runs ${JSON.stringify(runs)}, rejects ${JSON.stringify(rej)}`);
    }
    if (!probeRow.pt_code || !probeRow.product_code) throw new Error(`the freshness price's price type or product has no external id of system ${system}`);
    writeFileSync(path.join(csvDir, 'products.csv'), `sku;name\n${probeRow.product_code};Bench freshness material\n`);
    writeFileSync(path.join(csvDir, 'cities.csv'), `code;name;price_type\nbench-sap;Bench city;${probeRow.pt_code}\n`);
    await ingest('bench-sap-products-csv', path.join(csvDir, 'products.csv'));
    await ingest('bench-sap-cities-csv', path.join(csvDir, 'cities.csv'));
    rmSync(csvDir, { recursive: true, force: true });
    const keyOut = await mustExec(BIN, ['keys', 'create', '--name', 'bench-sap', '--scopes', 'prices:read', '--rate', '100000000/min'], env);
    const key = /mgk_[A-Za-z0-9_-]+/.exec(keyOut.stdout)?.[0];
    if (!key) throw new Error(`keys create printed no key:\n${keyOut.stdout}`);
    const priceUrl = `http://127.0.0.1:${api.port}/api/v1/prices/${encodeURIComponent(probeRow.product_code)}?city=bench-sap`;
    const portalPrice = async (): Promise<number | undefined> => {
      const res = await fetch(priceUrl, { headers: { authorization: `Bearer ${key}` } });
      const body = await res.text();
      if (res.status === 404) return undefined;
      if (!res.ok) throw new Error(`${priceUrl} answered ${res.status}: ${body}`);
      return Number((JSON.parse(body) as { basePrice: string }).basePrice);
    };
    const seen = await portalPrice();
    if (seen === undefined) throw new Error(`${priceUrl} answers no price after the setup`);
    const perKbetr = seen / 1000;
    progress(`freshness probe: product ${probeRow.product_code}, price type ${probeRow.pt_code}; KBETR 1000.00 answered as ${seen}`);
    await c.query('CHECKPOINT');

    // 3. and 4. The load, with the freshness samples taken while it runs.
    const loadFlows = condFlows.length;
    const runsBefore = Number((await openRuns()).total);
    const expectedLoadRuns = gen.messages * loadFlows;
    let posted = 0;
    let loadDone = false;
    let stopFresh = false;
    // A sample is posted every ~(load duration / 50), without waiting for the one before to show (a slow
    // merge queue would otherwise leave most samples for after the load). One poller reads the portal's
    // price every FRESH_POLL_MS; the values rise with every sample, so a value seen makes that sample and every
    // earlier one visible (an earlier one it superseded counts as visible then: an upper bound).
    interface Sample { i: number; want: number; t: number; duringLoad: boolean; visibleAt?: number }
    const fresh: Sample[] = [];
    let sending = true;
    const freshness = async (t0: number) => {
      for (let i = 0; i < FRESH_SAMPLES && !stopFresh; i++) {
        const cents = 100_000 + (i + 1) * 101;
        const t = performance.now();
        const sample: Sample = { i, want: (cents / 100) * perKbetr, t, duringLoad: !loadDone };
        const r = await post(api!.port, idocPath, auth, freshMessage(++freshDocnum, cents), freshAgent);
        if (r.status !== 200) throw new Error(`freshness IDoc ${i + 1} answered ${r.status}: ${r.body}`);
        fresh.push(sample);
        // The time left (from the share of the load done so far) over the samples left. Posting runs
        // ahead of merging when the merge is behind: 3/4 of the share posted is the lower bound.
        const { total, open: o } = await openRuns();
        const finished = Math.max(0, Number(total) - Number(o) - runsBefore - (i + 1) * loadFlows);
        const elapsed = Date.now() - t0;
        const frac = Math.max((posted / gen.messages) * 0.75, finished / expectedLoadRuns, 0.005);
        const gap = loadDone ? 100 : ((elapsed / frac) - elapsed) / (FRESH_SAMPLES - i - 1 || 1);
        await sleep(Math.min(10_000, Math.max(100, gap - (performance.now() - t))));
      }
    };
    const poller = async () => {
      while (!stopFresh && (sending || fresh.some((f) => f.visibleAt === undefined))) {
        const pending = fresh.filter((f) => f.visibleAt === undefined);
        if (pending.length) {
          const v = await portalPrice();
          const now = performance.now();
          for (const f of pending) {
            if (v !== undefined && v >= f.want - 1e-6) f.visibleAt = now;
            else if (now - f.t > FRESH_TIMEOUT_MS) f.visibleAt = Infinity;
          }
        }
        await sleep(FRESH_POLL_MS);
      }
    };

    // What PostgreSQL is busy with during the load: its active statements of this database sampled every
    // 250 ms (a poor man's profile, pg_stat_statements not being loaded on a shared server).
    const activity = new Map<string, number>();
    let activitySamples = 0;
    let sampling = true;
    const sampler = (async () => {
      const a = new pg.Client({ connectionString: DB_URL, application_name: 'bench-sap-sampler' });
      await a.connect();
      try {
        while (sampling) {
          const rows = await query<{ what: string }>(a, `
            SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') || '  ' || regexp_replace(left(query, 400), '\\s+', ' ', 'g') AS what
            FROM pg_stat_activity WHERE datname = $1 AND state = 'active' AND pid <> pg_backend_pid()`, [DB_NAME]);
          activitySamples++;
          for (const r of rows) {
            const key = r.what.replace(/\$\d+|'[^']*'|\b\d+\b/g, '?').slice(0, 160);
            activity.set(key, (activity.get(key) ?? 0) + 1);
          }
          await sleep(250);
        }
      } finally {
        await a.end();
      }
    })().catch((e: Error) => progress(`activity sampler: ${e.message}`));
    const cpu0 = {
      api: procCpuSeconds(api.pid), worker: procCpuSeconds(worker.pid), machine: machineBusySeconds(), self: process.cpuUsage(), postgres: postgresCpu(),
    };
    const t0 = Date.now();
    progress(`end to end: ${gen.messages} POSTs to ${idocPath}, ${args.concurrency} in flight, ${FRESH_SAMPLES} freshness samples beside …`);
    let freshError: Error | undefined;
    const polled = poller().catch((e: Error) => { freshError = e; });
    const freshDone = freshness(t0).catch((e: Error) => { freshError = e; }).finally(() => { sending = false; }).then(() => polled);
    let lastLog = 0;
    const load = await postAll(file, gen, api.port, idocPath, auth, args.concurrency, (n) => {
      posted = n;
      if (Date.now() - lastLog > 10_000) { lastLog = Date.now(); progress(`  posted ${n}/${gen.messages} messages`); }
    }).catch(async (e: Error) => {
      stopFresh = true;
      await freshDone;
      throw e;
    });
    progress(`all ${gen.messages} messages stored in ${load.seconds.toFixed(2)} s; waiting for the runs …`);
    for (let last = ''; ;) {
      const { open: o } = await openRuns();
      if (Number(o) === 0) break;
      if (o !== last && Date.now() - lastLog > 10_000) { lastLog = Date.now(); progress(`  ${o} runs open`); last = o; }
      await sleep(100);
    }
    loadDone = true;
    const [{ last_finished: lastFinished }] = await query<{ last_finished: Date }>(c,
      'SELECT max(finished_at) AS last_finished FROM runs WHERE id > $1', [runsBefore]) as [{ last_finished: Date }];
    const cpu1 = {
      api: procCpuSeconds(api.pid), worker: procCpuSeconds(worker.pid), machine: machineBusySeconds(), self: process.cpuUsage(cpu0.self), postgres: postgresCpu(),
    };
    sampling = false;
    await sampler;
    const seconds = (lastFinished.getTime() - t0) / 1000;
    const conditionsPerSec = gen.conditions / seconds;
    progress(`end to end: ${seconds.toFixed(2)} s (first POST → last run merged), ${Math.round(conditionsPerSec)} conditions/s; finishing freshness samples …`);
    await freshDone;
    freshAgent.destroy();
    if (freshError) throw freshError;

    // The store: one price per distinct key (the load's plus the probe's).
    const expectedKeys = gen.conditions + 1;
    const [counts] = await query<{ prices: string; periods: string; tiers: string; rejects: string; products: string; price_types: string }>(c, `
      SELECT (SELECT count(*) FROM prices) AS prices, (SELECT count(*) FROM price_periods) AS periods,
             (SELECT count(*) FROM prices WHERE tiers IS NOT NULL) AS tiers, (SELECT count(*) FROM rejects) AS rejects,
             (SELECT count(*) FROM products) AS products, (SELECT count(*) FROM price_types) AS price_types`);
    type StoreCounts = 'prices' | 'periods' | 'tiers' | 'rejects' | 'products' | 'price_types';
    const store = Object.fromEntries(Object.entries(counts!).map(([k, v]) => [k, Number(v)])) as Record<StoreCounts, number>;
    const runs = await query<RunRow>(c, `
      SELECT r.id, f.name AS flow, r.state, r.rows_read, r.rows_staged, r.rows_rejected, r.rows_inserted, r.rows_updated, r.extract_ms, r.merge_ms,
             r.received_at, r.started_at, r.staged_at, r.finished_at, r.error, r.merged_with
      FROM runs r JOIN flows f ON f.id = r.flow_id WHERE r.id > $1 ORDER BY r.id`, [runsBefore]);
    const hwmKb = await worker.stop();
    const workerPeakRssMb = Math.max(hwmKb, worker.maxRssKb) / 1024;
    worker = undefined;

    // Per-stage breakdown from the runs (the freshness probe's 50 one-IDoc runs included).
    const ms = (a: Date | null, b: Date | null) => (a && b ? b.getTime() - a.getTime() : NaN);
    const stage = (name: string, xs: number[]) => {
      const v = xs.filter((x) => Number.isFinite(x));
      return { stage: name, runs: v.length, totalS: v.reduce((a, b) => a + b, 0) / 1000, p50Ms: pct(v, 50), p95Ms: pct(v, 95), maxMs: v.length ? Math.max(...v) : NaN };
    };
    const leaders = runs.filter((r) => r.merged_with === null);
    const stages = [
      stage('queued (received → extract started)', runs.map((r) => ms(r.received_at, r.started_at))),
      stage('extract (read + map + stage)', runs.map((r) => r.extract_ms ?? NaN)),
      stage('waiting for merge (staged → merge done − merge)', runs.map((r) => ms(r.staged_at, r.finished_at) - (r.merge_ms ?? NaN))),
      // One merge transaction per group: runs carried by an earlier run's merge (merged_with) have none.
      stage('merge (transactions; a group merge carries later staged runs)', leaders.map((r) => r.merge_ms ?? NaN)),
      // Merges of a flow go one at a time in run order (claim.ts, ordered): the time from one run's
      // merge done to the next run's merge start, when that run was already staged by then, is the
      // hand-off the ordered chain pays per run on top of the merges themselves.
      stage('merge hand-off (previous run of the flow merged → this merge starts, run staged)', handOffs(runs)),
      stage('received → merged', runs.map((r) => ms(r.received_at, r.finished_at))),
    ];
    const mergeChain = {
      mergeS: leaders.reduce((a, r) => a + (r.merge_ms ?? 0), 0) / 1000,
      handOffS: handOffs(runs).reduce((a, b) => a + b, 0) / 1000,
    };
    const bad = runs.filter((r) => r.state !== 'done');
    const sum = (k: keyof RunRow) => runs.reduce((a, r) => a + Number(r[k]), 0);
    const rows = { read: sum('rows_read'), staged: sum('rows_staged'), rejected: sum('rows_rejected'), inserted: sum('rows_inserted'), updated: sum('rows_updated') };
    const cpu = {
      apiS: cpu1.api - cpu0.api, workerS: cpu1.worker - cpu0.worker, benchS: (cpu1.self.user + cpu1.self.system) / 1e6,
      machineS: cpu1.machine - cpu0.machine, postgresS: cpuDelta(cpu0.postgres, cpu1.postgres),
    };
    const otherCpuS = cpu.machineS - cpu.apiS - cpu.workerS - cpu.benchS - cpu.postgresS;
    const topActivity = [...activity.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12)
      .map(([what, n]) => ({ share: Math.round((n / Math.max(1, activitySamples)) * 100) / 100, what }));

    // 2. (cont.) The write floor, once the workers are gone.
    progress('write floor: the same prices (and their periods) COPYed again into the emptied tables …');
    const cpPrices = await copyFloor(c, 'prices', 'price_type_id, product_id, value, currency, unit, factor, tiers, valid_from, valid_until, flow_id, run_id',
      path.join(DATA, `copy-floor-${prefix}.txt`));
    const cpPeriods = store.periods
      ? await copyFloor(c, 'price_periods', 'price_type_id, product_id, valid_from, valid_until, value, currency, unit, factor, tiers, flow_id, run_id',
        path.join(DATA, `copy-floor-periods-${prefix}.txt`))
      : { seconds: 0, rows: 0 };
    const copyFloorPerSec = gen.conditions / cpPrices.seconds;
    progress(`write floor: prices ${cpPrices.seconds.toFixed(2)} s (${Math.round(copyFloorPerSec)} rows/s), price_periods ${cpPeriods.seconds.toFixed(2)} s`);

    // Results.
    const msOf = (f: Sample) => (f.visibleAt ?? Infinity) - f.t;
    const freshAll = fresh.map(msOf).map((x) => (Number.isFinite(x) ? x : FRESH_TIMEOUT_MS));
    const freshLoad = fresh.filter((f) => f.duringLoad).map(msOf).map((x) => (Number.isFinite(x) ? x : FRESH_TIMEOUT_MS));
    const r1 = (x: number) => Math.round(x * 10) / 10;
    const r3 = (x: number) => Math.round(x * 1000) / 1000;
    const ratioToReference = conditionsPerSec / referencePerSec;
    // The floor of any design on this machine: the bytes must be received (the bare receive floor: no
    // fsync, no idempotency record), parsed at least once (the reference itself), and their rows written
    // (the COPY floors of prices and price_periods). Perfectly overlapped on every core, nothing can end
    // before their sum over the cores (nor before the longest of them): the best ratio any design reaches.
    const floorParts = [rcvFloor, ref.seconds, cpPrices.seconds, cpPeriods.seconds];
    const floorSeconds = Math.max(floorParts.reduce((a, b) => a + b, 0) / cores, ...floorParts);
    const floorRatio = ref.seconds / floorSeconds;
    const freshnessP95Ms = pct(freshAll, 95);
    const freshnessP50Ms = pct(freshAll, 50);
    const receiveFloorPerSec = gen.conditions / rcvFloor;
    const keysOk = store.prices === expectedKeys;
    const targets = {
      ratioToReference: { target: '>= 1.0', ok: ratioToReference >= 1 },
      freshnessP95Ms: { target: '<= 1000', ok: freshnessP95Ms <= 1000 },
      workerPeakRssMb: { target: '< 300', ok: workerPeakRssMb < 300 },
      prices: { target: `= ${expectedKeys} distinct keys`, ok: keysOk },
    };
    const result = {
      conditions: gen.conditions, materials: gen.materials, priceKeys: gen.keys, scaled: gen.scaled, messages: gen.messages, idocsPerMessage: gen.perMessage,
      concurrency: args.concurrency, bytes: gen.bytes, endpoint, flows: condFlows.map((f) => f.name),
      conditionsPerSec: Math.round(conditionsPerSec), seconds: r3(seconds), postSeconds: r3(load.seconds), drainSeconds: r3((lastFinished.getTime() - load.lastAt) / 1000),
      postLatencyMs: { p50: r1(pct(load.latenciesMs, 50)), p95: r1(pct(load.latenciesMs, 95)), max: r1(Math.max(...load.latenciesMs)) },
      referencePerSec: Math.round(referencePerSec), referenceSeconds: r3(ref.seconds), ratioToReference: r3(ratioToReference),
      receiveFloorPerSec: Math.round(receiveFloorPerSec), receiveFloorSeconds: r3(rcvFloor),
      copyFloorPerSec: Math.round(copyFloorPerSec), copyFloorSeconds: r3(cpPrices.seconds), copyFloorPeriodsSeconds: r3(cpPeriods.seconds),
      floorSeconds: r3(floorSeconds), floorRatio: r3(floorRatio),
      freshnessP50Ms: Math.round(freshnessP50Ms), freshnessP95Ms: Math.round(freshnessP95Ms), freshnessMaxMs: Math.round(Math.max(...freshAll)),
      freshnessSamples: fresh.length, freshnessDuringLoad: freshLoad.length, freshnessDuringLoadP95Ms: Math.round(pct(freshLoad, 95)),
      freshnessTimeouts: fresh.filter((f) => f.visibleAt === Infinity).length,
      workerPeakRssMb: r1(workerPeakRssMb),
      cpuSeconds: { api: r1(cpu.apiS), worker: r1(cpu.workerS), bench: r1(cpu.benchS), postgres: r1(cpu.postgresS), other: r1(otherCpuS), machine: r1(cpu.machineS), wall: r3(seconds) },
      postgresActivity: topActivity,
      store, expectedKeys, rows, runs: runs.length, runsNotDone: bad.length,
      mergeChain: { mergeS: r3(mergeChain.mergeS), handOffS: r3(mergeChain.handOffS) },
      stages: stages.map((s) => ({ ...s, totalS: r3(s.totalS), p50Ms: Math.round(s.p50Ms), p95Ms: Math.round(s.p95Ms), maxMs: Math.round(s.maxMs) })),
      targets,
    };
    const resultFile = path.join(RESULTS, `sap-${gen.conditions}-${stamp}.json`);
    writeFileSync(resultFile, `${JSON.stringify(result, null, 2)}\n`);

    const n0 = (x: number) => Math.round(x).toLocaleString('en-US');
    const mark = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
    const table: Array<[string, string, string, string]> = [
      ['end to end (first POST → last run merged)', `${n0(conditionsPerSec)} conditions/s (${seconds.toFixed(2)} s)`, '', ''],
      ['    posting / drain after the last POST', `${load.seconds.toFixed(2)} s (${gen.messages} POSTs, p50 ${result.postLatencyMs.p50} ms, p95 ${result.postLatencyMs.p95} ms) / ${result.drainSeconds.toFixed(2)} s`, '', ''],
      ['reference (saxes counting E1KONP)', `${n0(referencePerSec)} conditions/s, ${(mb / ref.seconds).toFixed(1)} MB/s (${ref.seconds.toFixed(2)} s)`, '', ''],
      ['    end to end / reference', ratioToReference.toFixed(3), '>= 1.0', mark(targets.ratioToReference.ok)],
      ['receive floor (bare HTTP: sha256 + write)', `${n0(receiveFloorPerSec)} conditions/s (${rcvFloor.toFixed(2)} s); ours ${load.seconds.toFixed(2)} s`, '', ''],
      ['write floor (raw COPY into prices)', `${n0(copyFloorPerSec)} rows/s (${cpPrices.seconds.toFixed(2)} s); price_periods ${cpPeriods.seconds.toFixed(2)} s (${cpPeriods.rows} rows)`, '', ''],
      ['floor of any design (receive + parse once + write,', `${floorSeconds.toFixed(2)} s = (${floorParts.map((x) => x.toFixed(2)).join(' + ')}) / ${cores} cores: best ratio to the reference ${floorRatio.toFixed(3)}`, '', ''],
      ['    perfectly overlapped on every core)', `ours ${seconds.toFixed(2)} s: ${(floorSeconds / seconds).toFixed(3)} of the floor`, '', ''],
      ['freshness (POST → portal answers it)', `p50 ${n0(freshnessP50Ms)} ms, p95 ${n0(freshnessP95Ms)} ms, max ${n0(result.freshnessMaxMs)} ms; ${freshLoad.length}/${fresh.length} during the load (p95 ${n0(result.freshnessDuringLoadP95Ms)} ms)${result.freshnessTimeouts ? `, ${result.freshnessTimeouts} TIMED OUT` : ''}`, '<= 1000 ms p95', mark(targets.freshnessP95Ms.ok)],
      ['worker peak RSS', `${workerPeakRssMb.toFixed(1)} MB`, '< 300 MB', mark(targets.workerPeakRssMb.ok)],
      ['CPU during the load', `API ${cpu.apiS.toFixed(1)} s, worker ${cpu.workerS.toFixed(1)} s, PostgreSQL ${cpu.postgresS.toFixed(1)} s, bench ${cpu.benchS.toFixed(1)} s, other processes ${otherCpuS.toFixed(1)} s; ${cpu.machineS.toFixed(1)} s busy of ${(seconds * cores).toFixed(1)} s (${cores} cores × ${seconds.toFixed(1)} s)`, '', ''],
      ['store', `prices ${n0(store.prices)} (with tiers ${n0(store.tiers)}), price_periods ${n0(store.periods)}, products ${n0(store.products)}, price types ${n0(store.price_types)}, rejects ${n0(store.rejects)}`, `prices = ${n0(expectedKeys)}`, mark(keysOk)],
    ];
    const wid = [0, 1, 2].map((i) => Math.max(...table.map((row) => row[i]!.length), 6));
    const fmtRow = (row: string[]) => row.map((s, i) => (i < 3 ? s.padEnd(wid[i]!) : s)).join('  ').trimEnd();
    console.log(`SAP IDoc bench: ${gen.conditions} COND_A conditions in ${gen.messages} messages of ≤ ${gen.perMessage} IDocs, ${mb.toFixed(1)} MB, ${args.concurrency} in flight; results ${path.relative(REPO, resultFile)}`);
    console.log(fmtRow(['metric', 'value', 'target', 'ok']));
    for (const row of table) console.log(fmtRow(row));
    console.log(`per stage, summed over ${runs.length} runs (rows read ${n0(rows.read)}, staged ${n0(rows.staged)}, rejected ${n0(rows.rejected)}, inserted ${n0(rows.inserted)}, updated ${n0(rows.updated)}):`);
    const sw = Math.max(...stages.map((s) => s.stage.length));
    for (const s of result.stages) console.log(`  ${s.stage.padEnd(sw)}  sum ${s.totalS.toFixed(1).padStart(8)} s  p50 ${String(s.p50Ms).padStart(7)} ms  p95 ${String(s.p95Ms).padStart(7)} ms  max ${String(s.maxMs).padStart(7)} ms  (${s.runs} runs)`);
    console.log(`  merge transactions: ${leaders.length} for ${runs.length} runs (${runs.length - leaders.length} carried by a group merge)`);
    console.log(`  the ordered merge chain: ${mergeChain.mergeS.toFixed(1)} s merging + ${mergeChain.handOffS.toFixed(1)} s handing off = ${(((mergeChain.mergeS + mergeChain.handOffS) / seconds) * 100).toFixed(0)} % of the ${seconds.toFixed(1)} s end to end`);
    console.log(`PostgreSQL, active statements of ${DB_NAME} (share of ${activitySamples} samples every 250 ms; wait event or CPU):`);
    for (const a of topActivity) console.log(`  ${a.share.toFixed(2).padStart(5)}  ${a.what}`);
    if (bad.length) {
      console.log(`!!! ${bad.length} runs did not finish as done:`);
      for (const r of bad.slice(0, 10)) console.log(`  run ${r.id} ${r.flow} ${r.state}: ${r.error ?? ''}`);
    }
    if (!keysOk) {
      const rej = await query<{ path: string | null; rule: string | null; reason: string }>(c, 'SELECT path, rule, reason FROM rejects ORDER BY id LIMIT 10');
      console.log(`!!! MISMATCH: prices holds ${store.prices} rows, the load has ${expectedKeys} distinct keys (${gen.conditions} + the freshness key); ${store.rejects} rejects${rej.length ? ', first:' : ''}`);
      for (const r of rej) console.log(`  ${r.path ?? ''} ${r.rule ?? ''}: ${r.reason}`);
      failed = true;
    }
    if (bad.length) failed = true;
    console.log(JSON.stringify({
      conditionsPerSec: result.conditionsPerSec, referencePerSec: result.referencePerSec, ratioToReference: result.ratioToReference,
      freshnessP95Ms: result.freshnessP95Ms, freshnessP50Ms: result.freshnessP50Ms, workerPeakRssMb: result.workerPeakRssMb,
      receiveFloorPerSec: result.receiveFloorPerSec, copyFloorPerSec: result.copyFloorPerSec, floorRatio: result.floorRatio, conditions: result.conditions, messages: result.messages,
      bytes: result.bytes, seconds: result.seconds, idocsPerMessage: result.idocsPerMessage, concurrency: result.concurrency, prices: store.prices, targets,
    }));
  } finally {
    await api?.stop().catch(() => {});
    await worker?.stop().catch(() => 0);
    await c.end().catch(() => {});
    await deleteQueueKeys(REDIS_URL, prefix).catch((e: Error) => progress(`could not remove redis keys ${prefix}:*: ${e.message}`));
    rmSync(inboxDir, { recursive: true, force: true });
    if (!args.keep) {
      await psql(ADMIN_URL, ['-c', `DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`]).catch((e: Error) => progress(e.message));
      for (const f of [file, metaFile]) if (existsSync(f)) rmSync(f);
      progress(`dropped ${DB_NAME} and the generated messages`);
    } else progress(`kept database ${DB_NAME} and ${path.relative(REPO, file)}`);
  }
  if (failed) process.exitCode = 1;
}

main().catch((e: Error) => {
  progress(`failed: ${e.stack ?? e.message}`);
  process.exitCode = 1;
});
