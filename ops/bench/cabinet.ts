// Cabinet benchmark (`npm run bench:cabinet -- [--prices N] [--products P] [--users U] [--seconds S]`):
// the catalog page in the table view (100 rows with the client's prices and stock per warehouse of
// the city) for U signed-in contacts of clients buying by agreement price type, at once, on the store
// of bench:api (ops/bench/api-data.ts: 10M prices by default, built by bench:api and kept). Load
// from a second process (cabinet-load.ts): each user asks for the next page when it has read the
// last (a think time, default 2 s), then once more with no pause (the server saturated). Prints
// figures; the last line is one JSON object (`catalogP95Ms`: with the think time, …).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { createDb } from '../../src/db/index.ts';
import { setPassword } from '../../src/cabinet/accounts.ts';
import { deleteQueueKeys } from '../../src/pipeline/queues.ts';
import { clientCode, type Shape } from './api-data.ts';
import type { CabinetLoadConfig, CabinetLoadResult } from './cabinet-load.ts';
import { BIN, REPO, exec, mustExec, progress, runJsonScript, startApi, type ApiProc } from './lib.ts';

const DATA = path.join(REPO, 'ops/bench/data/api');
const DB_NAME = 'magistral_bench_api';
const PG_BASE = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const DB_URL = `${PG_BASE}/${DB_NAME}`;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PASSWORD = 'bench-Пароль-1';
/** Groups of the bench catalog (api-data.ts): the five sections and their sixteen leaves. */
const GROUPS = ['cable', 'protection', 'wiring', 'light', 'install', 'wires', 'cables', 'breakers', 'rcbo', 'rcd', 'sockets', 'switches',
  'lamps', 'luminaires', 'extensions', 'channels', 'tubes', 'terminals', 'boards', 'meters', 'contactors'];
const BRANDS = ['IEK', 'ABB', 'Legrand', 'EKF'];

interface Args { prices: number; products: number; users: number; seconds: number; thinkMs: number }

function parseArgs(argv: string[]): Args {
  const out: Args = { prices: 10_000_000, products: 50_000, users: 20, seconds: 30, thinkMs: 2000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = () => Number(String(a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i]).replace(/_/g, ''));
    if (a.startsWith('--prices')) out.prices = val();
    else if (a.startsWith('--products')) out.products = val();
    else if (a.startsWith('--users')) out.users = val();
    else if (a.startsWith('--seconds')) out.seconds = val();
    else if (a.startsWith('--think')) out.thinkMs = val();
    else if (a === '--help' || a === '-h') {
      process.stderr.write('usage: npm run bench:cabinet -- [--prices N (default 10000000)] [--products P (default 50000)] [--users U (default 20)] [--seconds S (default 30)] [--think MS (default 2000)]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!(out.users >= 1 && out.users <= 100)) throw new Error('--users must be from 1 to 100');
  return out;
}

/** The store of bench:api for this shape: kept from an earlier run, else built now by bench:api itself (--keep). */
async function ensureStore(args: Args, shape: Shape): Promise<void> {
  const shapeFile = path.join(DATA, 'shape.json');
  if (existsSync(shapeFile) && readFileSync(shapeFile, 'utf8') === JSON.stringify(shape)) {
    progress('using the store bench:api kept');
    return;
  }
  progress(`building the bench:api store (${args.prices} prices) with bench:api --keep`);
  const r = await exec(process.execPath, ['--import', 'tsx', path.join(REPO, 'ops/bench/api.ts'), '--prices', String(args.prices), '--products', String(args.products),
    '--keep', '--only', 'priceBatch', '--seconds', '2'], process.env);
  if (r.code !== 0) throw new Error(`bench:api could not build the store:\n${r.stderr.slice(-4000)}`);
}

/** Contacts of the first U clients buying by agreement (even client numbers, api-data.ts), with cabinet passwords. */
async function ensureContacts(env: NodeJS.ProcessEnv, users: number): Promise<string[]> {
  const clients = Array.from({ length: users }, (_, i) => clientCode(i * 2));
  const emails = clients.map((c) => `buyer-${c.toLowerCase()}@example.com`);
  const c = new pg.Client({ connectionString: DB_URL });
  await c.connect();
  const have = Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM contacts WHERE code LIKE 'BK-%'`)).rows[0]!.n);
  await c.end();
  if (have < users) {
    // Through the real flows, like every other row of the store.
    const contacts = path.join(DATA, 'cabinet-contacts.csv');
    const links = path.join(DATA, 'cabinet-contact-legal-entities.csv');
    writeFileSync(contacts, ['code;client;name;email', ...clients.map((cl, i) => `BK-${cl};${cl};Закупщик ${i + 1};${emails[i]}`)].join('\n') + '\n');
    writeFileSync(links, ['contact;legal_entity;role', ...clients.map((cl, i) => `BK-${cl};LE-${i * 2 + 1};head`)].join('\n') + '\n');
    await mustExec(BIN, ['flows', 'apply', '-f', path.join(REPO, 'ops/flows/contacts-csv.yaml'), path.join(REPO, 'ops/flows/contact-legal-entities-csv.yaml')], env);
    await mustExec(BIN, ['ingest', '--flow', 'contacts-csv', contacts], env);
    await mustExec(BIN, ['ingest', '--flow', 'contact-legal-entities-csv', links], env);
  }
  const d = createDb(DB_URL, { applicationName: 'bench-cabinet' });
  try {
    for (const cl of clients) await setPassword(d.db, `BK-${cl}`, PASSWORD);
  } finally {
    await d.close();
  }
  return emails;
}

const cookieOf = (res: Response): string | undefined => res.headers.getSetCookie().map((x) => x.split(';')[0]!).find((x) => x.startsWith('mg_cab='));
const csrfOf = (html: string): string => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? /"X-CSRF-Token":"([^"]+)"/.exec(html.replace(/&quot;/g, '"'))?.[1] ?? '';

/** Signs a contact in through the login form and chooses the table view; returns its session cookie. */
async function signIn(url: string, email: string): Promise<string> {
  const page = await fetch(`${url}/cabinet/login`);
  let cookie = cookieOf(page)!;
  const login = await fetch(`${url}/cabinet/login`, {
    method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ email, password: PASSWORD, _csrf: csrfOf(await page.text()) }),
  });
  if (login.status !== 303) throw new Error(`signing in ${email} answered ${login.status}: ${(await login.text()).slice(0, 500)}`);
  cookie = cookieOf(login) ?? cookie;
  const home = await fetch(`${url}/cabinet/catalog`, { headers: { cookie } });
  const view = await fetch(`${url}/cabinet/context`, {
    method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', 'hx-request': 'true' },
    body: new URLSearchParams({ view: 'table', _csrf: csrfOf(await home.text()) }),
  });
  if (view.status !== 204) throw new Error(`choosing the table view answered ${view.status}`);
  return cookie;
}

const runLoad = (cfg: CabinetLoadConfig): Promise<CabinetLoadResult> => runJsonScript<CabinetLoadResult>('ops/bench/cabinet-load.ts', [JSON.stringify(cfg)]);

function catalogPaths(): string[] {
  const out: string[] = [];
  for (const g of GROUPS) {
    for (const sort of ['-popularity', 'price']) {
      out.push(`/cabinet/catalog?group=${g}&sort=${sort}`);
      out.push(`/cabinet/catalog?group=${g}&sort=${sort}&inStock=1`);
      out.push(`/cabinet/catalog?group=${g}&sort=${sort}&prop=brand%3A${encodeURIComponent(BRANDS[(g.length + sort.length) % BRANDS.length]!)}`);
    }
  }
  return out;
}

async function priceListFigures(db: string, group: string, legalEntity: string): Promise<{ priceListXlsxSeconds: number; priceListPeakRssMb: number; priceListProducts: number }> {
  const r = await runJsonScript<{ priceListXlsxSeconds: number; priceListPeakRssMb: number; products: number }>('ops/bench/cabinet-price-list.ts',
    ['--db', db, '--group', group, '--legal-entity', legalEntity, '--runs', '3']);
  return { priceListXlsxSeconds: r.priceListXlsxSeconds, priceListPeakRssMb: r.priceListPeakRssMb, priceListProducts: r.products };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const shape: Shape = { products: args.products, priceTypes: Math.ceil(args.prices / args.products), cities: 20, clients: 200 };
  const prefix = `bench-cabinet-${process.pid}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env, DATABASE_URL: DB_URL, REDIS_URL, MAGISTRAL_QUEUE_PREFIX: prefix, MAGISTRAL_DATA_DIR: path.join(DATA, 'inbox'),
    MAGISTRAL_ADMIN_TOKEN: 'bench-admin-token', LOG_LEVEL: 'warn',
  };
  await ensureStore(args, shape);
  await mustExec(BIN, ['migrate'], env);
  let api: ApiProc | undefined;
  try {
    const emails = await ensureContacts(env, args.users);
    api = await startApi(env, path.join(DATA, 'cabinet-api.log'));
    const url = `http://127.0.0.1:${api.port}`;
    const cookies: string[] = [];
    for (const e of emails) cookies.push(await signIn(url, e));
    const paths = catalogPaths();
    // Every page once (offers of the users' cities built, plans cached), and one checked for what it shows.
    const probe = await fetch(url + paths[0]!, { headers: { cookie: cookies[0]! } });
    const html = await probe.text();
    const rows = (html.match(/<tr data-sku=/g) ?? []).length;
    if (probe.status !== 200 || rows !== 100 || !html.includes('id="catalog-table"')) throw new Error(`${paths[0]} answered ${probe.status} with ${rows} table rows`);
    await runLoad({ url, cookies, seconds: 5, paths, thinkMs: 0 });
    // Twenty buyers reading their pages (a think time between pages), then the same twenty asking
    // with no pause at all: the server saturated, where latency is queueing behind the others.
    const res = await runLoad({ url, cookies, seconds: args.seconds, paths, thinkMs: args.thinkMs });
    progress(`${args.users} users, think ${args.thinkMs} ms: ${res.rps} pages/s, p50 ${res.p50Ms} ms, p95 ${res.p95Ms} ms, p99 ${res.p99Ms} ms`);
    const sat = await runLoad({ url, cookies, seconds: Math.min(args.seconds, 20), paths, thinkMs: 0 });
    progress(`${args.users} users, no pause: ${sat.rps} pages/s, p50 ${sat.p50Ms} ms, p95 ${sat.p95Ms} ms, p99 ${sat.p99Ms} ms`);
    const c = new pg.Client({ connectionString: DB_URL });
    await c.connect();
    const n = Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM prices')).rows[0]!.n);
    await c.end();
    const ok = res.p95Ms < 100 && res.non2xx === 0 && res.errors === 0;
    const line = (label: string, x: CabinetLoadResult, target: string) =>
      `| ${label} | ${x.users} | ${x.rps} | ${x.p50Ms} | ${x.p95Ms} | ${x.p99Ms} | ${x.maxMs} | ${x.non2xx + x.errors} | ${target} |`;
    console.log(['', `Cabinet catalog page, table view of 100 rows, ${n} prices, ${shape.products} products, ${args.users} signed-in users (agreement price types)`, '',
      '| load | users | pages/s | p50 ms | p95 ms | p99 ms | max ms | failed | target |', '|---|---|---|---|---|---|---|---|---|',
      line(`think ${args.thinkMs} ms, ${args.seconds} s`, res, `p95 < 100: ${ok ? 'met' : 'MISSED'}`),
      line('no pause (saturated), 20 s', sat, 'none'), ''].join('\n'));
    // One object built here; other parts of the cabinet benchmark add their keys beside.
    const summary: Record<string, unknown> = {
      catalogP95Ms: res.p95Ms, catalogP50Ms: res.p50Ms, catalogP99Ms: res.p99Ms, catalogPagesPerSecond: res.rps, catalogUsers: res.users, catalogThinkMs: args.thinkMs, catalogOk: ok,
      catalogSaturatedP95Ms: sat.p95Ms, catalogSaturatedP50Ms: sat.p50Ms, catalogSaturatedPagesPerSecond: sat.rps,
      shape: { prices: n, ...shape },
    };
    // The price list of a section of this same store for an agreement client (ops/bench/cabinet-price-list.ts,
    // in a child process: its peak RSS is the price list's alone). No section here holds exactly 5,000
    // products: 'light' holds 6,250, more than the target's 5,000.
    const pl = await priceListFigures(DB_URL, 'light', 'LE-1');
    Object.assign(summary, pl);
    console.log(`price list XLSX of ${pl.priceListProducts} products: ${pl.priceListXlsxSeconds} s (target < 3), peak RSS ${pl.priceListPeakRssMb} MB (target < 200)`);
    console.log(JSON.stringify(summary));
  } finally {
    await api?.stop();
    await deleteQueueKeys(REDIS_URL, prefix).catch(() => {});
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : e);
  process.exit(1);
});
