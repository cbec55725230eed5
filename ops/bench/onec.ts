// 1C exchange benchmark (`npm run bench:onec -- --prices N`): a generated CommerceML offers file of N
// prices (100 price types × N/100 offers, with per-warehouse stock) pushed through the real protocol —
// checkauth → init → file in file_limit chunks → import until success — into a fresh database, with the
// API server and the workers in processes of their own (the workers' peak RSS is measured). In the same
// run: parse-only MB/s of our CommerceML reader, the reference (a plain `saxes` handler that only counts
// prices), and the machine's floors for the two things no import can skip: receiving the file (a bare
// HTTP server that hashes and writes the same POSTs) and writing the rows (a raw COPY of the same prices
// into the same table). The last line printed is one JSON object.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import http from 'node:http';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import iconv from 'iconv-lite';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { SaxesParser } from 'saxes';
import { parseAllDocuments, stringify } from 'yaml';
import { readCommerceML } from '../../connectors/onec/commerceml/index.ts';
import { deleteQueueKeys } from '../../src/pipeline/queues.ts';
import { generateOffers as generate, PRICE_TYPES, WAREHOUSES, type Generated } from './onec-file.ts';
import {
  BIN, REPO, freePort, machineCpuSeconds, mustExec, postgresCpuSeconds, procCpuSeconds, progress, psql, query, startApi, startWorker, type ApiProc, type WorkerProc,
} from './lib.ts';

const BENCH = path.join(REPO, 'ops/bench');
const DATA = path.join(BENCH, 'data');
const RESULTS = path.join(BENCH, 'results');
const DB_NAME = 'magistral_bench_onec';
const PG_BASE = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const DB_URL = `${PG_BASE}/${DB_NAME}`;
const ADMIN_URL = `${PG_BASE}/postgres`;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const USER = 'bench-1c';
const PASSWORD = 'bench-1c-password';

// ---------------------------------------------------------------------------------------------- args

interface Args { prices: number; keep: boolean; again: boolean; fileLimit: number; follow: boolean; uploadMBps: number }

function parseArgs(argv: string[]): Args {
  const out: Args = { prices: 5_000_000, keep: false, again: false, fileLimit: 64 * 1024 * 1024, follow: true, uploadMBps: 0 };
  const num = (v: string | undefined) => Number(String(v).replace(/_/g, ''));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = () => (a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i]);
    if (a === '--keep') out.keep = true;
    else if (a === '--again') out.again = true;
    else if (a === '--no-follow') out.follow = false;
    else if (a === '--prices' || a.startsWith('--prices=')) out.prices = num(val());
    else if (a === '--file-limit' || a.startsWith('--file-limit=')) out.fileLimit = num(val());
    else if (a === '--upload-mbps' || a.startsWith('--upload-mbps=')) out.uploadMBps = num(val());
    else if (a === '--help' || a === '-h') {
      process.stderr.write('usage: npm run bench:onec -- [--prices N (1000..50000000, default 5000000)] [--file-limit BYTES (default 64 MiB)] [--keep] [--again: then the same export once more into the loaded store] [--no-follow: read the file after the import, not while it arrives (followUploads: false)] [--upload-mbps N: 1C sends at most N MB/s, as over a network (the upload floor too)]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(out.prices) || out.prices < 1000 || out.prices > 50_000_000) throw new Error('--prices must be an integer from 1000 to 50000000');
  if (!Number.isInteger(out.fileLimit) || out.fileLimit < 65536) throw new Error('--file-limit must be at least 65536');
  if (!(out.uploadMBps >= 0)) throw new Error('--upload-mbps must be a positive number of MB/s (0: as fast as loopback goes)');
  return out;
}

/** CPU seconds (user + system) this process has used so far. */
const ownCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

// ------------------------------------------------------------------------------------- parse phases

/** The reference: saxes over the decoded text, counting `Цена` start tags and nothing else. */
async function saxesReference(file: string): Promise<{ prices: number; seconds: number }> {
  const t = performance.now();
  const parser = new SaxesParser({ xmlns: false, position: false });
  let prices = 0;
  parser.on('opentag', (tag) => {
    if (tag.name === 'Цена') prices++;
  });
  let first = true;
  const decoder = new StringDecoder('utf8');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    let text = decoder.write(chunk as Buffer);
    if (first && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    first = false;
    parser.write(text);
  }
  parser.write(decoder.end());
  parser.close();
  return { prices, seconds: (performance.now() - t) / 1000 };
}

/** Our reader alone: the file read into `prices` records (what the prices flow parses), nothing written. */
async function readerOnly(file: string): Promise<{ prices: number; seconds: number; cpu: number }> {
  const t = performance.now();
  const cpu = ownCpu();
  let prices = 0;
  const it = readCommerceML(createReadStream(file, { highWaterMark: 1 << 20 }), { fileName: path.basename(file), kinds: new Set(['prices']) });
  for await (const batch of it) prices += batch.length;
  return { prices, seconds: (performance.now() - t) / 1000, cpu: ownCpu() - cpu };
}

// ------------------------------------------------------------------------------------------ floors

/**
 * The upload floor: the file POSTed in the same chunks, by the same client, over loopback to a bare
 * node:http server that does only what receiving must (sha256 and append to a file, no database, no
 * fsync). `cpu`: what the client and the server (both in this process) used.
 */
async function uploadFloor(file: string, bytes: number, chunk: number, out: string, mbps: number): Promise<{ seconds: number; cpu: number }> {
  rmSync(out, { force: true });
  const server = http.createServer((req, res) => {
    void (async () => {
      const fh = await open(out, 'a');
      const hash = createHash('sha256');
      let pending: Buffer[] = [];
      let n = 0;
      for await (const c of req as AsyncIterable<Buffer>) {
        hash.update(c);
        pending.push(c);
        n += c.length;
        if (n >= 4 << 20) {
          await fh.writev(pending);
          pending = [];
          n = 0;
        }
      }
      if (pending.length) await fh.writev(pending);
      await fh.close();
      res.end(`success\n${hash.copy().digest('hex')}`);
    })();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = new OneC((server.address() as { port: number }).port, mbps);
  const t = performance.now();
  const cpu = ownCpu();
  try {
    for (let start = 0; start < bytes; start += chunk) {
      const r = await client.call({ type: 'catalog', mode: 'file', filename: 'floor.xml' }, { file, start, end: Math.min(bytes, start + chunk) });
      if (r[0] !== 'success') throw new Error(`upload floor: ${r.join(' | ')}`);
    }
    return { seconds: (performance.now() - t) / 1000, cpu: ownCpu() - cpu };
  } finally {
    client.close();
    server.close();
    rmSync(out, { force: true });
  }
}

/**
 * The write floor: the prices the import wrote, copied out as COPY text, the table emptied, and the same
 * rows COPYed back in one statement (same partitions, same indexes). Leaves the table as it was. `cpu`:
 * PostgreSQL's and this process's (the client's) CPU for the COPY.
 */
async function copyFloor(c: pg.Client, out: string): Promise<{ seconds: number; cpu: number }> {
  const cols = 'price_type_id, product_id, value, currency, unit, factor, flow_id, run_id';
  await pipeline(c.query(copyTo(`COPY (SELECT ${cols} FROM prices) TO STDOUT`)), createWriteStream(out, { highWaterMark: 1 << 20 }));
  await c.query('TRUNCATE prices');
  await c.query('CHECKPOINT');
  const t = performance.now();
  const cpu = ownCpu() + postgresCpuSeconds();
  await pipeline(createReadStream(out, { highWaterMark: 1 << 20 }), c.query(copyFrom(`COPY prices (${cols}) FROM STDIN`)));
  const seconds = (performance.now() - t) / 1000;
  const used = ownCpu() + postgresCpuSeconds() - cpu;
  rmSync(out, { force: true });
  return { seconds, cpu: used };
}

// --------------------------------------------------------------------------------------- protocol

/** A 1C client: what 1C sends, in the order it sends it, on one keep-alive connection. */
class OneC {
  private cookie = '';
  private sessid = '';
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  requests = 0;
  /** `mbps`: bytes sent at most at this many MB/s (0: unlimited). */
  constructor(private readonly port: number, private readonly mbps = 0) {}

  async call(params: Record<string, string>, body?: { file: string; start: number; end: number }, auth?: string): Promise<string[]> {
    const q = new URLSearchParams({ ...params, ...(this.sessid ? { sessid: this.sessid } : {}) });
    const headers: http.OutgoingHttpHeaders = {};
    if (auth) headers.authorization = auth;
    if (this.cookie) headers.cookie = this.cookie;
    if (body) {
      headers['content-type'] = 'application/octet-stream';
      headers['content-length'] = body.end - body.start;
    }
    this.requests++;
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: this.port, path: `/exchange/onec/default?${q}`, method: body ? 'POST' : 'GET', headers, agent: this.agent }, resolve);
      req.on('error', reject);
      if (body && this.mbps > 0) void this.paced(req, body).catch((e: Error) => req.destroy(e));
      else if (body) createReadStream(body.file, { start: body.start, end: body.end - 1, highWaterMark: 1 << 20 }).pipe(req);
      else req.end();
    });
    const parts: Buffer[] = [];
    for await (const c of res) parts.push(c as Buffer);
    return iconv.decode(Buffer.concat(parts), 'win1251').split('\n');
  }

  /** The body in 256 KiB pieces, each sent no sooner than the rate allows (a 1C on a network link). */
  private async paced(req: http.ClientRequest, body: { file: string; start: number; end: number }): Promise<void> {
    const t0 = performance.now();
    let sent = 0;
    for await (const c of createReadStream(body.file, { start: body.start, end: body.end - 1, highWaterMark: 1 << 18 })) {
      const due = t0 + (sent / (this.mbps * 1e6)) * 1000;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      sent += (c as Buffer).length;
      if (!req.write(c)) await once(req, 'drain');
    }
    req.end();
  }

  async checkauth(user: string, password: string): Promise<void> {
    const r = await this.call({ type: 'catalog', mode: 'checkauth' }, undefined, `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`);
    if (r[0] !== 'success') throw new Error(`checkauth: ${r.join(' | ')}`);
    this.cookie = `${r[1]}=${r[2]}`;
    this.sessid = (r[3] ?? '').replace(/^sessid=/, '');
  }

  close(): void {
    this.agent.destroy();
  }
}

// -------------------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  mkdirSync(DATA, { recursive: true });
  mkdirSync(RESULTS, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const prefix = `bench-onec-${process.pid}-${Date.now().toString(36)}`;
  const inboxDir = path.join(DATA, `inbox-${prefix}`);
  const file = path.join(DATA, `offers-${args.prices}.xml`);
  const flowFile = path.join(DATA, 'onec.bench.yaml');

  // Generation (kept between runs of the same size).
  let gen: Generated;
  const metaFile = `${file}.json`;
  if (existsSync(file) && existsSync(metaFile) && (JSON.parse(readFileSync(metaFile, 'utf8')) as Generated).bytes === statSync(file).size) {
    gen = JSON.parse(readFileSync(metaFile, 'utf8')) as Generated;
    progress(`reusing ${path.relative(REPO, file)}`);
  } else {
    const t = performance.now();
    gen = await generate(file, args.prices);
    writeFileSync(metaFile, JSON.stringify(gen));
    progress(`generated ${path.relative(REPO, file)} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const mb = gen.bytes / 1e6;
  progress(`${gen.prices} prices = ${gen.offers} offers × ${Math.min(PRICE_TYPES, args.prices)} price types, ${gen.stock} stock entries, ${mb.toFixed(0)} MB`);

  // Parse phases in this process, before any server runs: the reference and our reader alone.
  progress('reference: saxes counting prices …');
  const ref = await saxesReference(file);
  if (ref.prices !== gen.prices) throw new Error(`saxes counted ${ref.prices} prices, expected ${gen.prices}`);
  const referencePricesPerSec = gen.prices / ref.seconds;
  progress(`reference: ${ref.seconds.toFixed(2)} s, ${Math.round(referencePricesPerSec)} prices/s, ${(mb / ref.seconds).toFixed(1)} MB/s`);
  progress('our reader, prices only, parse-only …');
  const own = await readerOnly(file);
  if (own.prices !== gen.prices) throw new Error(`the reader emitted ${own.prices} prices, expected ${gen.prices}`);
  const parseMBPerSec = mb / own.seconds;
  progress(`reader: ${own.seconds.toFixed(2)} s, ${parseMBPerSec.toFixed(1)} MB/s, ${Math.round(gen.prices / own.seconds)} prices/s`);

  progress(`upload floor: the same ${Math.ceil(gen.bytes / args.fileLimit)} POSTs to a bare HTTP server that hashes and writes …`);
  const upFloorRun = await uploadFloor(file, gen.bytes, args.fileLimit, path.join(DATA, `upload-floor-${prefix}.bin`), args.uploadMBps);
  const upFloor = upFloorRun.seconds;
  progress(`upload floor: ${upFloor.toFixed(2)} s, ${(mb / upFloor).toFixed(0)} MB/s, CPU ${upFloorRun.cpu.toFixed(2)} s`);

  // Fresh database; the example flows of ops/flows/onec.yaml without guards.
  await psql(ADMIN_URL, ['-c', `DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`]);
  await psql(ADMIN_URL, ['-c', `CREATE DATABASE ${DB_NAME}`]);
  const env: NodeJS.ProcessEnv = {
    ...process.env, DATABASE_URL: DB_URL, REDIS_URL, MAGISTRAL_QUEUE_PREFIX: prefix, MAGISTRAL_DATA_DIR: inboxDir, LOG_LEVEL: 'info',
    ONEC_USER: USER, ONEC_PASSWORD: PASSWORD, MAGISTRAL_SWEEP_INTERVAL_MS: '1000',
  };
  await mustExec(BIN, ['migrate'], env);
  const docs = parseAllDocuments(readFileSync(path.join(REPO, 'ops/flows/onec.yaml'), 'utf8'));
  const flows = (Array.isArray(docs) ? docs : [docs]).map((d) => d.toJS() as Record<string, unknown>).filter(Boolean);
  for (const f of flows) {
    delete f.guard;
    const source = f.source as { options: Record<string, unknown> };
    source.options = { ...source.options, fileLimit: args.fileLimit, followUploads: args.follow };
  }
  writeFileSync(flowFile, `# Generated by ops/bench/onec.ts from ops/flows/onec.yaml: guards removed, fileLimit ${args.fileLimit}.\n${flows.map((f) => stringify(f)).join('---\n')}`);
  await mustExec(BIN, ['flows', 'apply', '-f', flowFile], env);
  progress(`database ${DB_NAME} migrated, ${flows.length} flows applied from ${path.relative(REPO, flowFile)} (no guards)`);

  const c = new pg.Client({ connectionString: DB_URL, application_name: 'bench-onec' });
  await c.connect();
  let worker: WorkerProc | undefined;
  let api: ApiProc | undefined;
  const onec = { client: undefined as OneC | undefined };
  try {
    worker = await startWorker({ ...env, PORT: String(await freePort()), HOST: '127.0.0.1' }, path.join(RESULTS, `onec-worker-${stamp}.log`));
    api = await startApi(env, path.join(RESULTS, `onec-api-${stamp}.log`));
    progress(`worker pid ${worker.pid} and API on port ${api.port} up`);
    await c.query('CHECKPOINT');

    // The protocol, as 1C performs it, timed end to end.
    const exchange = async (label: string) => {
      const client = new OneC(api!.port, args.uploadMBps);
      onec.client = client;
      const cpu0 = { worker: procCpuSeconds(worker!.pid), api: procCpuSeconds(api!.pid), postgres: postgresCpuSeconds(), client: ownCpu(), machine: machineCpuSeconds() };
      const t0 = performance.now();
      await client.checkauth(USER, PASSWORD);
      const init = await client.call({ type: 'catalog', mode: 'init' });
      const fileLimit = Number((init.find((l) => l.startsWith('file_limit=')) ?? '').slice('file_limit='.length));
      if (!(fileLimit > 0)) throw new Error(`init: ${init.join(' | ')}`);
      const name = 'offers0_1.xml';
      let chunks = 0;
      for (let start = 0; start < gen.bytes; start += fileLimit) {
        const r = await client.call({ type: 'catalog', mode: 'file', filename: name }, { file, start, end: Math.min(gen.bytes, start + fileLimit) });
        if (r[0] !== 'success') throw new Error(`file chunk at ${start}: ${r.join(' | ')}`);
        chunks++;
      }
      const tUploaded = performance.now();
      progress(`${label}: uploaded in ${chunks} POSTs of ≤ ${fileLimit} bytes: ${((tUploaded - t0) / 1000).toFixed(2)} s`);
      let polls = 0;
      let last = '';
      for (;;) {
        const r = await client.call({ type: 'catalog', mode: 'import', filename: name });
        polls++;
        if (r[0] === 'success') { last = r.slice(1).join(' '); break; }
        if (r[0] !== 'progress') throw new Error(`import: ${r.join(' | ')}`);
        if (r[1] !== last) { last = r[1] ?? ''; progress(`${label}: import: ${last}`); }
      }
      const tDone = performance.now();
      const m1 = machineCpuSeconds();
      // Where the CPU went between the first request and the import's success (all processes on this
      // machine; `machineBusy` ÷ `machineTotal` is how busy its cores were).
      const cpu = {
        worker: procCpuSeconds(worker!.pid) - cpu0.worker, api: procCpuSeconds(api!.pid) - cpu0.api, postgres: postgresCpuSeconds() - cpu0.postgres,
        client: ownCpu() - cpu0.client, machineBusy: m1.busy - cpu0.machine.busy, machineTotal: m1.total - cpu0.machine.total,
      };
      progress(`${label}: import success after ${polls} requests: ${last}`);
      progress(`${label}: CPU s: worker ${cpu.worker.toFixed(2)}, API ${cpu.api.toFixed(2)}, PostgreSQL ${cpu.postgres.toFixed(2)}, 1C client ${cpu.client.toFixed(2)}; machine ${(100 * cpu.machineBusy / cpu.machineTotal).toFixed(0)} % busy`);
      const tClose = performance.now();
      const closeAnswer = await client.call({ type: 'catalog', mode: 'complete' });
      const closeSeconds = (performance.now() - tClose) / 1000;
      client.close();
      return {
        seconds: (tDone - t0) / 1000, uploadSeconds: (tUploaded - t0) / 1000, importSeconds: (tDone - tUploaded) / 1000,
        fileLimit, chunks, polls, requests: client.requests, answer: last, closeAnswer, closeSeconds, cpu,
      };
    };
    const first = await exchange('first load');
    const { seconds, fileLimit, chunks, polls, closeAnswer, closeSeconds } = first;
    // --again: the same export once more into the loaded store — the daily case, where every fact run
    // is staged and merged against what is there (nothing changed, so nothing is written).
    const again = args.again ? await exchange('again') : undefined;
    if (again && !/ 0 inserted, 0 updated, \d+ unchanged/.test(again.answer)) throw new Error(`the same export again changed the store: ${again.answer}`);

    const [counts] = await query<{ prices: string; stock: string; price_types: string; warehouses: string; products: string }>(c, `
      SELECT (SELECT count(*) FROM prices) AS prices, (SELECT count(*) FROM stock) AS stock, (SELECT count(*) FROM price_types) AS price_types,
             (SELECT count(*) FROM warehouses) AS warehouses, (SELECT count(*) FROM products) AS products`);
    if (Number(counts!.prices) !== gen.prices) throw new Error(`prices holds ${counts!.prices} rows, expected ${gen.prices}`);
    if (Number(counts!.stock) !== gen.stock) throw new Error(`stock holds ${counts!.stock} rows, expected ${gen.stock}`);
    const runs = await query<{ id: number; flow: string; state: string; load_path: string; rows_read: string; rows_inserted: string; extract_ms: number | null; merge_ms: number | null; received_at: Date; finished_at: Date | null; started_at: Date | null }>(c, `
      SELECT r.id, f.name AS flow, r.state, r.load_path, r.rows_read, r.rows_inserted, r.extract_ms, r.merge_ms, r.received_at, r.started_at, r.finished_at
      FROM runs r JOIN flows f ON f.id = r.flow_id ORDER BY r.id`);

    const hwmKb = await worker.stop();
    const workerPeakRssMb = Math.max(hwmKb, worker.maxRssKb) / 1024;
    worker = undefined;

    progress('write floor: the same prices COPYed again into the emptied table …');
    const cpFloorRun = await copyFloor(c, path.join(DATA, `copy-floor-${prefix}.txt`));
    const cpFloor = cpFloorRun.seconds;
    progress(`write floor: ${cpFloor.toFixed(2)} s, ${Math.round(gen.prices / cpFloor)} prices/s, CPU ${cpFloorRun.cpu.toFixed(2)} s`);
    // What no import can beat when it starts reading at the import: the upload, then the parse and the
    // write overlapping completely.
    const floorSeconds = upFloor + Math.max(own.seconds, cpFloor);
    // Read while the file arrives (imports.ts followUpload), the floor is the longest of the three stages.
    const overlapFloorSeconds = Math.max(upFloor, own.seconds, cpFloor);
    const overlapFloorRatio = ref.seconds / overlapFloorSeconds;
    // The three stages overlap only as far as the cores allow: receiving, parsing and writing each take
    // CPU (the 1C client's sending too), and on this machine's cores they share, the exchange can be no
    // shorter than their CPU at the floors divided by the cores.
    const cores = availableParallelism();
    const floorCpu = upFloorRun.cpu + own.cpu + cpFloorRun.cpu;
    const cpuFloorSeconds = Math.max(overlapFloorSeconds, floorCpu / cores);
    const cpuFloorRatio = ref.seconds / cpuFloorSeconds;
    const exchangeCpu = first.cpu.worker + first.cpu.api + first.cpu.postgres + first.cpu.client;

    const pricesPerSec = gen.prices / seconds;
    const ratioToReference = pricesPerSec / referencePricesPerSec;
    const r1 = (x: number) => Math.round(x * 10) / 10;
    const r3 = (x: number) => Math.round(x * 1000) / 1000;
    const targets = {
      pricesPerSec: { target: '>= 250000', ok: pricesPerSec >= 250_000 },
      ratioToReference: { target: '>= 1.5', ok: ratioToReference >= 1.5 },
      workerPeakRssMb: { target: '< 300', ok: workerPeakRssMb < 300 },
    };
    const result = {
      prices: gen.prices, offers: gen.offers, priceTypes: Math.min(PRICE_TYPES, args.prices), warehouses: WAREHOUSES, stock: gen.stock, fileMB: r1(mb),
      pricesPerSec: Math.round(pricesPerSec), seconds: r3(seconds), uploadSeconds: r3(first.uploadSeconds), importSeconds: r3(first.importSeconds),
      parseMBPerSec: r1(parseMBPerSec), parseSeconds: r3(own.seconds),
      referencePricesPerSec: Math.round(referencePricesPerSec), referenceMBPerSec: r1(mb / ref.seconds), referenceSeconds: r3(ref.seconds),
      ratioToReference: r3(ratioToReference), workerPeakRssMb: r1(workerPeakRssMb),
      uploadFloorSeconds: r3(upFloor), copyFloorSeconds: r3(cpFloor), floorSeconds: r3(floorSeconds),
      floorPricesPerSec: Math.round(gen.prices / floorSeconds), floorRatioToReference: r3(gen.prices / floorSeconds / referencePricesPerSec),
      overlapFloorSeconds: r3(overlapFloorSeconds), overlapFloorRatio: r3(overlapFloorRatio),
      cores, uploadFloorCpuSeconds: r3(upFloorRun.cpu), parseCpuSeconds: r3(own.cpu), copyFloorCpuSeconds: r3(cpFloorRun.cpu),
      cpuFloorSeconds: r3(cpuFloorSeconds), cpuFloorRatio: r3(cpuFloorRatio),
      exchangeCpu: Object.fromEntries(Object.entries(first.cpu).map(([k, v]) => [k, r3(v)])), exchangeCpuSeconds: r3(exchangeCpu),
      fileLimit, chunks, importPolls: polls, requests: first.requests, completeSeconds: r3(closeSeconds), completeAnswer: closeAnswer.join(' ').trim(),
      ...(again ? {
        againSeconds: r3(again.seconds), againUploadSeconds: r3(again.uploadSeconds), againImportSeconds: r3(again.importSeconds),
        againPricesPerSec: Math.round(gen.prices / again.seconds), againAnswer: again.answer,
      } : {}),
      store: Object.fromEntries(Object.entries(counts!).map(([k, v]) => [k, Number(v)])),
      runs: runs.map((r) => ({ id: r.id, flow: r.flow, state: r.state, loadPath: r.load_path, read: Number(r.rows_read), inserted: Number(r.rows_inserted), extractMs: r.extract_ms, mergeMs: r.merge_ms })),
      targets,
    };
    const resultFile = path.join(RESULTS, `onec-${gen.prices}-${stamp}.json`);
    writeFileSync(resultFile, `${JSON.stringify(result, null, 2)}\n`);

    const n0 = (x: number) => Math.round(x).toLocaleString('en-US');
    const mark = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
    const table: Array<[string, string, string, string]> = [
      ['end to end (checkauth → import success)', `${n0(pricesPerSec)} prices/s (${seconds.toFixed(2)} s)`, '>= 250,000 prices/s', mark(targets.pricesPerSec.ok)],
      ['    upload / import', `${result.uploadSeconds.toFixed(2)} s (${chunks} POSTs) / ${result.importSeconds.toFixed(2)} s (${polls} polls)`, '', ''],
      ['parse only (our reader, prices)', `${parseMBPerSec.toFixed(1)} MB/s (${own.seconds.toFixed(2)} s)`, '', ''],
      ['reference (saxes counting prices)', `${n0(referencePricesPerSec)} prices/s, ${result.referenceMBPerSec} MB/s (${ref.seconds.toFixed(2)} s)`, '', ''],
      ['    end to end / reference', ratioToReference.toFixed(3), '>= 1.5', mark(targets.ratioToReference.ok)],
      ['upload floor (bare HTTP server: sha256 + write)', `${upFloor.toFixed(2)} s (${(mb / upFloor).toFixed(0)} MB/s); ours ${result.uploadSeconds.toFixed(2)} s`, '', ''],
      ['write floor (raw COPY of the same prices)', `${cpFloor.toFixed(2)} s (${n0(gen.prices / cpFloor)} prices/s)`, '', ''],
      ['floor: upload + max(parse, write)', `${floorSeconds.toFixed(2)} s = ${n0(gen.prices / floorSeconds)} prices/s, ${(gen.prices / floorSeconds / referencePricesPerSec).toFixed(3)} × reference`, '', ''],
      ['    end to end / floor', `${(floorSeconds / seconds).toFixed(3)} of the floor's speed`, '', ''],
      ['overlap floor: max(upload, parse, write)', `${overlapFloorSeconds.toFixed(2)} s = ${overlapFloorRatio.toFixed(3)} × reference`, '', ''],
      ['    end to end / overlap floor', `${(overlapFloorSeconds / seconds).toFixed(3)} of the overlap floor's speed`, '', ''],
      ['CPU at the floors (upload + parse + write)', `${upFloorRun.cpu.toFixed(2)} + ${own.cpu.toFixed(2)} + ${cpFloorRun.cpu.toFixed(2)} = ${floorCpu.toFixed(2)} s`, '', ''],
      [`CPU floor: that ÷ ${cores} cores (≥ overlap floor)`, `${cpuFloorSeconds.toFixed(2)} s = ${cpuFloorRatio.toFixed(3)} × reference`, '', ''],
      ['CPU of the exchange (worker, API, PG, 1C)', `${first.cpu.worker.toFixed(2)} + ${first.cpu.api.toFixed(2)} + ${first.cpu.postgres.toFixed(2)} + ${first.cpu.client.toFixed(2)} = ${exchangeCpu.toFixed(2)} s; cores ${(100 * first.cpu.machineBusy / first.cpu.machineTotal).toFixed(0)} % busy`, '', ''],
      ['worker peak RSS', `${workerPeakRssMb.toFixed(1)} MB`, '< 300 MB', mark(targets.workerPeakRssMb.ok)],
      ['complete (session snapshot closed)', `${closeSeconds.toFixed(2)} s: ${result.completeAnswer}`, '', ''],
      ...(again ? [['the same export again (staged, merged)', `${n0(gen.prices / again.seconds)} prices/s (${again.seconds.toFixed(2)} s: upload ${again.uploadSeconds.toFixed(2)} s, import ${again.importSeconds.toFixed(2)} s)`, '', ''] as [string, string, string, string]] : []),
    ];
    const wid = [0, 1, 2].map((i) => Math.max(...table.map((row) => row[i]!.length), 6));
    const fmtRow = (row: string[]) => row.map((s, i) => (i < 3 ? s.padEnd(wid[i]!) : s)).join('  ').trimEnd();
    console.log(`1C exchange bench: ${gen.prices} prices, ${gen.stock} stock entries, ${mb.toFixed(0)} MB file; results ${path.relative(REPO, resultFile)}`);
    console.log(fmtRow(['metric', 'value', 'target', 'ok']));
    for (const row of table) console.log(fmtRow(row));
    console.log('runs:');
    for (const r of result.runs) console.log(`  ${String(r.id).padStart(3)} ${r.flow.padEnd(18)} ${r.state.padEnd(7)} ${r.loadPath.padEnd(7)} read ${String(r.read).padStart(9)} inserted ${String(r.inserted).padStart(9)} extract ${((r.extractMs ?? 0) / 1000).toFixed(2)} s merge ${((r.mergeMs ?? 0) / 1000).toFixed(2)} s`);
    console.log(JSON.stringify({
      pricesPerSec: result.pricesPerSec, parseMBPerSec: result.parseMBPerSec, referencePricesPerSec: result.referencePricesPerSec,
      ratioToReference: result.ratioToReference, workerPeakRssMb: result.workerPeakRssMb, seconds: result.seconds, uploadSeconds: result.uploadSeconds,
      importSeconds: result.importSeconds, uploadFloorSeconds: result.uploadFloorSeconds, copyFloorSeconds: result.copyFloorSeconds,
      floorPricesPerSec: result.floorPricesPerSec, floorRatioToReference: result.floorRatioToReference,
      overlapFloorSeconds: result.overlapFloorSeconds, overlapFloorRatio: result.overlapFloorRatio,
      cpuFloorSeconds: result.cpuFloorSeconds, cpuFloorRatio: result.cpuFloorRatio, exchangeCpuSeconds: result.exchangeCpuSeconds,
      ...(again ? { againSeconds: result.againSeconds, againUploadSeconds: result.againUploadSeconds, againImportSeconds: result.againImportSeconds, againRatioToReference: r3(gen.prices / again.seconds / referencePricesPerSec) } : {}),
      followUploads: args.follow, uploadMBps: args.uploadMBps || null, prices: result.prices, stock: result.stock, fileMB: result.fileMB, targets,
    }));
  } finally {
    onec.client?.close();
    await api?.stop().catch(() => {});
    await worker?.stop().catch(() => 0);
    await c.end().catch(() => {});
    await deleteQueueKeys(REDIS_URL, prefix).catch((e: Error) => progress(`could not remove redis keys ${prefix}:*: ${e.message}`));
    rmSync(inboxDir, { recursive: true, force: true });
    if (!args.keep) {
      await psql(ADMIN_URL, ['-c', `DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`]).catch((e: Error) => progress(e.message));
      for (const f of [file, metaFile]) if (existsSync(f)) rmSync(f);
      progress(`dropped ${DB_NAME} and the generated file`);
    } else progress(`kept database ${DB_NAME} and ${path.relative(REPO, file)}`);
  }
}

main().catch((e: Error) => {
  progress(`failed: ${e.stack ?? e.message}`);
  process.exitCode = 1;
});
