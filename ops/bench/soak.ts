// Soak benchmark (`npm run bench:soak -- [--minutes 10] [--sample 10]`), issue 17: one `magistral start`
// (API and workers in one process, as `npm start` runs it) on the demo data set, under everything at once
// for the given minutes — 1C offers files (the CommerceML sample of three price types, its prices changed
// each time) every 5 s, CSV price deltas of 2,000 rows every 2 s, and four clients reading prices through
// the portal API without pause. Every `--sample` seconds it prints the server's RSS, the jobs waiting in
// its queues (/metrics), the runs still open and the API's reads/s. At the end: the first and last thirds'
// RSS compared (flat = no leak) and whether the queues drained; the last line is one JSON object.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { BIN, REPO, exec, freePort, mustExec, procStatusKb, psql, sleep } from './lib.ts';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const MINUTES = arg('minutes', 10);
const SAMPLE_S = arg('sample', 10);

const DB = 'magistral_bench_soak';
const PG_BASE = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const DB_URL = `${PG_BASE}/${DB}`;
const ADMIN = 'soak-admin-token-0123456789abcdef';
const dataDir = mkdtempSync(path.join(tmpdir(), 'magistral-soak-'));
const port = await freePort();
const env: NodeJS.ProcessEnv = {
  ...process.env, DATABASE_URL: DB_URL, MAGISTRAL_QUEUE_PREFIX: 'bench-soak', MAGISTRAL_DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1',
  MAGISTRAL_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'warn',
};
const base = `http://127.0.0.1:${port}`;

await psql(`${PG_BASE}/postgres`, ['-c', `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`]);
await mustExec('psql', [`${PG_BASE}/postgres`, '-c', `CREATE DATABASE ${DB}`]);
const demo = await mustExec(process.execPath, [BIN, 'demo'], env);
if (!/portal API key/.test(demo.stdout)) throw new Error(`demo did not finish:\n${demo.stdout.slice(-2000)}`);
// A key of its own with a rate far above the readers' (the demo key's 600/min would answer them 429).
const created = await mustExec(process.execPath, [BIN, 'keys', 'create', '--name', 'soak', '--scopes', 'prices:read,catalog:read,stock:read', '--rate', '1000000', '--json'], env);
const key = (JSON.parse(created.stdout.trim().split('\n').at(-1)!) as { key: string }).key;
const deltaFlow = path.join(dataDir, 'soak-delta.yaml');
writeFileSync(deltaFlow, `apiVersion: magistral/v1
kind: Flow
name: soak-prices-delta
source: { connector: file.csv, system: local }
mapping: file/prices.yaml
target: prices
mode: delta
`);
await mustExec(process.execPath, [BIN, 'flows', 'apply', '-f', deltaFlow], env);

const server = spawn(process.execPath, [BIN, 'start'], { cwd: REPO, env, stdio: ['ignore', 'ignore', 'pipe'] });
let serverErr = '';
server.stderr.on('data', (d: Buffer) => { serverErr = (serverErr + d.toString()).slice(-4000); });
for (let i = 0; ; i++) {
  if (server.exitCode !== null) throw new Error(`magistral start exited ${server.exitCode}: ${serverErr}`);
  if ((await fetch(`${base}/readyz`).then((r) => r.status, () => 0)) === 200) break;
  if (i > 600) throw new Error('server not ready after 60 s');
  await sleep(100);
}

const skus = (await (async () => {
  const c = new pg.Client({ connectionString: DB_URL });
  await c.connect();
  try {
    return (await c.query<{ code: string }>(`SELECT p.code FROM products p JOIN prices x ON x.product_id = p.id JOIN price_types t ON t.id = x.price_type_id
      WHERE t.code = 'retail' AND NOT p.placeholder ORDER BY p.code`)).rows.map((r) => r.code);
  } finally {
    await c.end();
  }
})());
const offers = readFileSync(path.join(REPO, 'test/fixtures/samples/onec/05_offers_cml208_3-price-types.xml'), 'utf8');

const post = (flow: string, name: string, body: string) => fetch(`${base}/admin/api/flows/${flow}/runs?filename=${name}`, {
  method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/octet-stream' }, body,
}).then((r) => r.status);

const deadline = Date.now() + MINUTES * 60_000;
let stop = false;
const counts = { onec: 0, deltas: 0, reads: 0, readErrors: 0, pushRefused: 0 };
async function loop(every: number, fn: (i: number) => Promise<void>): Promise<void> {
  for (let i = 0; !stop; i++) {
    const t = Date.now();
    await fn(i);
    await sleep(Math.max(0, every - (Date.now() - t)));
  }
}
const pushers = [
  loop(5000, async (i) => {
    // The 1C prices change each time (the sample's values + i kopecks): every file is a real change.
    const text = offers.replace(/<ЦенаЗаЕдиницу>(\d+)(?:\.\d+)?<\/ЦенаЗаЕдиницу>/g, (_m, v: string) => `<ЦенаЗаЕдиницу>${v}.${String(i % 100).padStart(2, '0')}</ЦенаЗаЕдиницу>`);
    for (const flow of ['onec-price-types', 'onec-products', 'onec-prices']) if ((await post(flow, `offers-${i}.xml`, text)) !== 202) counts.pushRefused++;
    counts.onec++;
  }),
  loop(2000, async (i) => {
    const rows = Array.from({ length: 2000 }, (_, k) => `${skus[(i * 2000 + k) % skus.length]};retail;${100 + ((i + k) % 900)}.${String(k % 100).padStart(2, '0')};RUB`);
    if ((await post('soak-prices-delta', `delta-${i}.csv`, `sku;price_type;price;currency\n${rows.join('\n')}\n`)) !== 202) counts.pushRefused++;
    counts.deltas++;
  }),
];
const readers = Array.from({ length: 4 }, (_, r) => (async () => {
  for (let i = r; !stop; i += 4) {
    const res = await fetch(`${base}/api/v1/prices/${encodeURIComponent(skus[i % skus.length]!)}`, { headers: { authorization: `Bearer ${key}`, 'x-client-id': 'C1' } }).catch(() => undefined);
    if (res?.status === 200) counts.reads++;
    else counts.readErrors++;
    await res?.arrayBuffer().catch(() => {});
  }
})());

interface Sample { s: number; rssMb: number; queued: number; openRuns: number; readsPerS: number }
const samples: Sample[] = [];
async function sample(startedAt: number, readsBefore: number, secs: number): Promise<Sample> {
  const metrics = await fetch(`${base}/metrics`).then((r) => r.text(), () => '');
  let queued = 0;
  let openRuns = 0;
  for (const line of metrics.split('\n')) {
    const q = /^magistral_queue_jobs\{[^}]*state="(waiting|active|delayed|prioritized|waiting-children)"[^}]*\} (\d+)/.exec(line);
    if (q) queued += Number(q[2]);
    const r = /^magistral_runs\{state="(received|extracting|staged|merging)"\} (\d+)/.exec(line);
    if (r) openRuns += Number(r[2]);
  }
  return { s: Math.round((Date.now() - startedAt) / 1000), rssMb: Math.round(procStatusKb(server.pid!, 'VmRSS') / 1024), queued, openRuns, readsPerS: Math.round((counts.reads - readsBefore) / secs) };
}
const started = Date.now();
console.log(`soak: ${MINUTES} min, ${skus.length} demo SKUs, server pid ${server.pid} on ${base}`);
console.log('   s   rssMb  queued  openRuns  reads/s');
while (Date.now() < deadline) {
  const before = counts.reads;
  await sleep(SAMPLE_S * 1000);
  if (server.exitCode !== null) throw new Error(`magistral start exited ${server.exitCode} during the soak: ${serverErr}`);
  const x = await sample(started, before, SAMPLE_S);
  samples.push(x);
  console.log(`${String(x.s).padStart(4)} ${String(x.rssMb).padStart(7)} ${String(x.queued).padStart(7)} ${String(x.openRuns).padStart(9)} ${String(x.readsPerS).padStart(8)}`);
}
stop = true;
await Promise.all([...pushers, ...readers]);
// Drain: the work pushed so far finishes (open runs and queued jobs back to 0).
const drainStart = Date.now();
let drained = await sample(started, counts.reads, 1);
while ((drained.openRuns > 0 || drained.queued > 0) && Date.now() - drainStart < 120_000) {
  await sleep(1000);
  drained = await sample(started, counts.reads, 1);
}
const third = Math.max(1, Math.floor(samples.length / 3));
const avg = (xs: Sample[]) => Math.round(xs.reduce((n, x) => n + x.rssMb, 0) / xs.length);
const rssFirst = avg(samples.slice(0, third));
const rssLast = avg(samples.slice(-third));
const c = new pg.Client({ connectionString: DB_URL });
await c.connect();
const runStates = Object.fromEntries((await c.query<{ state: string; n: number }>('SELECT state, count(*)::int AS n FROM runs GROUP BY 1')).rows.map((r) => [r.state, r.n]));
await c.end();
server.kill('SIGTERM');
await new Promise((r) => server.once('exit', r));
const result = {
  minutes: MINUTES, ...counts, rssFirstThirdMb: rssFirst, rssLastThirdMb: rssLast, rssGrowthPct: Math.round(((rssLast - rssFirst) / rssFirst) * 1000) / 10,
  rssMaxMb: Math.max(...samples.map((x) => x.rssMb)), queuedAtEnd: drained.queued, openRunsAtEnd: drained.openRuns, drainSeconds: Math.round((Date.now() - drainStart) / 1000), runStates,
};
console.log(`RSS first third ${rssFirst} MB, last third ${rssLast} MB (${result.rssGrowthPct} %), max ${result.rssMaxMb} MB; after ${result.drainSeconds} s of drain: ${drained.queued} jobs queued, ${drained.openRuns} runs open`);
console.log(JSON.stringify(result));
if (!process.argv.includes('--keep')) {
  await exec('psql', [`${PG_BASE}/postgres`, '-c', `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`]);
  rmSync(dataDir, { recursive: true, force: true });
}
