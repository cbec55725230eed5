// Console benchmark (`npm run bench:console -- [--flows N] [--runs-per-flow R] [--requests Q]`): the
// operations console's pages on a store of N flows (default 200: CSV price and stock flows pushed, 1C OData
// flows pulled every 15 minutes or every 5 minutes) with R runs each (default 500 → 100 000 runs: done,
// a few failed and held, the last ones still open, one flow in ten failing for its last 40 % of runs) and prices of a price type bound to no city (the
// list's warning counts them). A real API process (`magistral start --api-only`) serves; one signed-in
// console user asks for each page Q times (default 200) after a warm-up, one request at a time.
// Prints figures; the last line is one JSON object ({ flowsPageP95Ms, … }).
//
// A page is one entry of PAGES: a second page (the runs page) is one more `{ key, path }` line.
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { sql } from 'kysely';
import { createDb, dropDatabase, ensureDatabase } from '../../src/db/index.ts';
import { applyFlows } from '../../src/pipeline/flows.ts';
import { addConsoleUser } from '../../src/console/users.ts';
import { deleteQueueKeys } from '../../src/pipeline/queues.ts';
import type { Flow } from '../../src/schemas/index.ts';
import { BIN, REPO, mustExec, progress, startApi, type ApiProc } from './lib.ts';

const DB_NAME = 'magistral_bench_console';
const PG_BASE = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const DB_URL = `${PG_BASE}/${DB_NAME}`;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const USER = { name: 'bench-operator', password: 'bench-Пароль-1', role: 'operator' };

interface Args { flows: number; runsPerFlow: number; requests: number }

function parseArgs(argv: string[]): Args {
  const out: Args = { flows: 200, runsPerFlow: 500, requests: 200 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = () => Number(String(a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i]).replace(/_/g, ''));
    if (a.startsWith('--flows')) out.flows = val();
    else if (a.startsWith('--runs-per-flow')) out.runsPerFlow = val();
    else if (a.startsWith('--requests')) out.requests = val();
    else if (a === '--help' || a === '-h') {
      process.stderr.write('usage: npm run bench:console -- [--flows N (default 200)] [--runs-per-flow R (default 500)] [--requests Q (default 200)]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return out;
}

/** The pages measured: `{key}P95Ms` and `{key}P50Ms` in the result. */
const PAGES: Array<{ key: string; path: (flows: string[], runs: number) => string }> = [
  { key: 'flowsPage', path: () => '/console/flows' },
  { key: 'flowPage', path: (flows) => `/console/flows/${flows[Math.floor(flows.length / 2)]}` },
  { key: 'runsPage', path: () => '/console/runs' },
  // The runs page's filters and cursor over every run: a rare state (1 in 50 failed), one flow, a page
  // half-way down the list, a day a month back (Moscow days; runs are 15 minutes apart per flow), held runs.
  { key: 'runsFailedPage', path: () => '/console/runs?state=failed' },
  { key: 'runsFlowPage', path: (flows) => `/console/runs?flow=${flows[Math.floor(flows.length / 3)]}` },
  { key: 'runsDeepPage', path: (_f, runs) => `/console/runs?beforeId=${Math.floor(runs / 2)}` },
  { key: 'runsPeriodPage', path: () => { const d = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10); return `/console/runs?from=${d}&to=${d}`; } },
  { key: 'heldPage', path: () => '/console/held' },
  { key: 'runPage', path: (_f, runs) => `/console/runs/${Math.floor(runs / 3)}` },
];

const template = (file: string): Flow => parse(readFileSync(path.join(REPO, 'ops/flows', file), 'utf8')) as Flow;

/** N flows from the example files: pushed CSV prices and stock, pulled 1C OData prices (cron or every 5 minutes). */
function benchFlows(n: number): Flow[] {
  const prices = template('prices-csv.yaml');
  const stock = template('stock-csv.yaml');
  const odata = template('onec-odata-prices.yaml');
  return Array.from({ length: n }, (_, i) => {
    const name = `bench-${String(i).padStart(4, '0')}`;
    if (i % 4 === 0) return { ...odata, name, ...(i % 8 === 0 ? { schedule: { everySeconds: 300 } } : {}) };
    return { ...(i % 4 === 1 ? stock : prices), name, description: `Bench flow ${i}` };
  });
}

/**
 * Runs of every flow in one statement: mostly done, every 50th failed, the newest of some flows open or held,
 * and one flow in ten broken for its last 40 % of runs (its last success far behind its last run).
 */
async function seed(args: Args): Promise<string[]> {
  const d = createDb(DB_URL, { applicationName: 'bench-console' });
  try {
    const flows = benchFlows(args.flows);
    await applyFlows(d.db, flows);
    await sql`
      INSERT INTO runs (flow_id, inbox_ids, state, mode, target, rows_read, rows_staged, rows_rejected, rows_inserted, rows_updated,
        received_at, started_at, finished_at, error_code, error)
      SELECT f.id, '{}', s.state, 'delta', f.definition->>'target', 5000 + g % 1000, 5000, CASE WHEN g % 7 = 0 THEN 3 ELSE 0 END, 10, g % 100,
        now() - make_interval(mins => (${args.runsPerFlow} - g) * 15), now() - make_interval(mins => (${args.runsPerFlow} - g) * 15) + interval '1 second',
        CASE WHEN s.state IN ('done', 'failed', 'held') THEN now() - make_interval(mins => (${args.runsPerFlow} - g) * 15) + interval '4 seconds' END,
        CASE WHEN s.state = 'failed' THEN 'MAG_ERR_PAYLOAD_MALFORMED' END, CASE WHEN s.state = 'failed' THEN 'line 12: unterminated quote' END
      FROM flows f CROSS JOIN generate_series(1, ${args.runsPerFlow}) g
      CROSS JOIN LATERAL (SELECT CASE
        WHEN g = ${args.runsPerFlow} AND f.id % 10 = 0 THEN 'extracting'
        WHEN g = ${args.runsPerFlow} AND f.id % 10 = 1 THEN 'held'
        WHEN g % 50 = 0 OR (g > ${Math.floor(args.runsPerFlow * 0.6)} AND f.id % 10 = 2) THEN 'failed'
        ELSE 'done' END::text AS state) s`.execute(d.db);
    // Prices: two price types bound to a city, one bound to nothing (the list warns of its 20 000 prices).
    await sql`INSERT INTO price_types (code, name) VALUES ('retail', 'Розница'), ('wholesale', 'Опт'), ('orphan', 'Без города')`.execute(d.db);
    await sql`INSERT INTO cities (code, name, price_type_id) SELECT 'msk', 'Москва', id FROM price_types WHERE code = 'retail'`.execute(d.db);
    await sql`UPDATE price_types SET city_id = (SELECT id FROM cities WHERE code = 'msk') WHERE code = 'wholesale'`.execute(d.db);
    await sql`
      INSERT INTO prices (price_type_id, product_id, value, currency, flow_id, run_id)
      SELECT pt.id, p, 100 + p % 1000, 'RUB', (SELECT id FROM flows WHERE name = 'bench-0002'), (SELECT min(id) FROM runs)
      FROM price_types pt CROSS JOIN generate_series(1, CASE WHEN pt.code = 'orphan' THEN 20000 ELSE 200000 END) p`.execute(d.db);
    await sql`ANALYZE`.execute(d.db);
    await addConsoleUser(d.db, { ...USER, replace: true });
    return flows.map((f) => f.name);
  } finally {
    await d.close();
  }
}

const cookieOf = (res: Response, name: string): string | undefined => res.headers.getSetCookie().map((x) => x.split(';')[0]!).find((x) => x.startsWith(`${name}=`));

async function signIn(url: string): Promise<string> {
  const form = await fetch(`${url}/console/login`);
  const pre = cookieOf(form, 'mg_con_pre')!;
  const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
  const r = await fetch(`${url}/console/login`, {
    method: 'POST', redirect: 'manual', headers: { cookie: pre, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: token, name: USER.name, password: USER.password }),
  });
  const session = cookieOf(r, 'mg_con');
  if (r.status !== 303 || !session) throw new Error(`console sign-in answered ${r.status}`);
  return session;
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/** One page asked `n` times in a row (after 20 unmeasured): p50 and p95 in ms, and the page's size. */
async function measurePage(url: string, cookie: string, pagePath: string, n: number): Promise<{ p50: number; p95: number; bytes: number }> {
  let bytes = 0;
  const get = async (): Promise<number> => {
    const t = performance.now();
    const r = await fetch(`${url}${pagePath}`, { headers: { cookie } });
    const body = await r.text();
    if (r.status !== 200) throw new Error(`${pagePath} answered ${r.status}: ${body.slice(0, 300)}`);
    bytes = body.length;
    return performance.now() - t;
  };
  for (let i = 0; i < 20; i++) await get();
  const times: number[] = [];
  for (let i = 0; i < n; i++) times.push(await get());
  times.sort((a, b) => a - b);
  return { p50: Math.round(percentile(times, 50) * 10) / 10, p95: Math.round(percentile(times, 95) * 10) / 10, bytes };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const prefix = `bench-console-${process.pid}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env, DATABASE_URL: DB_URL, REDIS_URL, MAGISTRAL_QUEUE_PREFIX: prefix, MAGISTRAL_DATA_DIR: path.join(REPO, 'ops/bench/data/console'),
    MAGISTRAL_ADMIN_TOKEN: 'bench-admin-token', LOG_LEVEL: 'warn',
  };
  await dropDatabase(DB_URL).catch(() => {});
  await ensureDatabase(DB_URL);
  await mustExec(BIN, ['migrate'], env);
  progress(`seeding ${args.flows} flows × ${args.runsPerFlow} runs`);
  const flows = await seed(args);
  let api: ApiProc | undefined;
  const result: Record<string, number> = { flows: args.flows, runs: args.flows * args.runsPerFlow, requests: args.requests };
  try {
    api = await startApi(env, path.join(REPO, 'ops/bench/data/console-api.log'));
    const url = `http://127.0.0.1:${api.port}`;
    const cookie = await signIn(url);
    for (const page of PAGES) {
      const m = await measurePage(url, cookie, page.path(flows, args.flows * args.runsPerFlow), args.requests);
      progress(`${page.key}: p50 ${m.p50} ms, p95 ${m.p95} ms (${Math.round(m.bytes / 1024)} KiB)`);
      result[`${page.key}P50Ms`] = m.p50;
      result[`${page.key}P95Ms`] = m.p95;
    }
  } finally {
    await api?.stop();
    await deleteQueueKeys(REDIS_URL, prefix).catch(() => {});
  }
  console.log(JSON.stringify(result));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exit(1);
});
