// Price-list benchmark (`tsx ops/bench/cabinet-price-list.ts [--db URL] [--group CODE[,CODE…]] [--runs N] [--legal-entity CODE] [--rebuild]`):
// the XLSX price list of a 5,000-product section for a client with an agreement, written by a child
// process to a file, so its peak RSS (process.resourceUsage().maxRSS) is the price list's alone.
// Store: `magistral_bench_api` (bench:api --keep) when it exists and --group names its section, else
// our own `magistral_bench_cabinet_pl` (cabinet-files-data.ts). Last line: JSON with
// priceListXlsxSeconds and priceListPeakRssMb (targets: < 3 s, < 200 MB).
import { createWriteStream, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createDb } from '../../src/db/index.ts';
import { resolvePricing } from '../../src/portal/pricing.ts';
import { writePriceListXlsx } from '../../src/cabinet/price-list.ts';
import { PL_DB_NAME, ensureFilesStore } from './cabinet-files-data.ts';
import { progress, runJsonScript } from './lib.ts';

const PG_BASE = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';

interface Args { db: string; group: string; legalEntity: string; rebuild: boolean; child: boolean; out: string; runs: number }

function parseArgs(argv: string[]): Args {
  const a: Args = { db: `${PG_BASE}/${PL_DB_NAME}`, group: 'sec-1', legalEntity: 'LE-1', rebuild: false, child: false, out: '', runs: 3 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = () => String(argv[++i]);
    if (k === '--db') a.db = v();
    else if (k === '--group') a.group = v();
    else if (k === '--legal-entity') a.legalEntity = v();
    else if (k === '--rebuild') a.rebuild = true;
    else if (k === '--child') a.child = true;
    else if (k === '--out') a.out = v();
    else if (k === '--runs') a.runs = Number(v());
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

/** In the child: one price list, timed from the first query to the last byte on disk. */
async function child(a: Args): Promise<void> {
  const d = createDb(a.db, { max: 2, applicationName: 'bench-price-list' });
  try {
    const baseRssMb = process.memoryUsage().rss / 1024 / 1024; // node, tsx and the modules loaded
    const started = performance.now();
    const le = await d.db.selectFrom('legal_entities as le').innerJoin('clients as c', 'c.id', 'le.client_id')
      .select(['le.id', 'le.client_id', 'c.city_id', 'le.name']).where('le.code', '=', a.legalEntity).executeTakeFirstOrThrow();
    const pricing = await resolvePricing(d.db, { clientId: Number(le.client_id), legalEntityId: Number(le.id), cityId: le.city_id });
    const out = createWriteStream(a.out);
    const closed = new Promise<void>((r) => out.on('close', () => r()));
    const { rows } = await writePriceListXlsx(d.db, { pricing, cityId: le.city_id }, { groups: a.group.split(','), customer: le.name }, out);
    await closed;
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(`${JSON.stringify({ rows, seconds, maxRssMb: process.resourceUsage().maxRSS / 1024, baseRssMb, bytes: statSync(a.out).size })}\n`);
  } finally {
    await d.close();
  }
}

const runChild = (a: Args, out: string) => runJsonScript<{ rows: number; seconds: number; maxRssMb: number; baseRssMb: number; bytes: number }>(
  'ops/bench/cabinet-price-list.ts', ['--child', '--db', a.db, '--group', a.group, '--legal-entity', a.legalEntity, '--out', out]);

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  if (a.child) return child(a);
  if (a.db.endsWith(`/${PL_DB_NAME}`)) await ensureFilesStore(a.db, a.rebuild);
  const out = path.join(tmpdir(), `bench-price-list-${process.pid}.xlsx`);
  const results = [];
  try {
    for (let i = 0; i < a.runs; i++) {
      const r = await runChild(a, out);
      progress(`run ${i + 1}: ${r.rows} products, ${r.seconds.toFixed(2)} s, peak RSS ${r.maxRssMb.toFixed(0)} MB (${r.baseRssMb.toFixed(0)} MB before the first query), ${(r.bytes / 1024).toFixed(0)} KB`);
      results.push(r);
    }
  } finally {
    rmSync(out, { force: true });
  }
  // The median run (the first also pays for cold caches; all are printed above).
  const bySeconds = [...results].sort((x, y) => x.seconds - y.seconds);
  const median = bySeconds[Math.floor(bySeconds.length / 2)]!;
  const peak = Math.max(...results.map((r) => r.maxRssMb));
  console.log(`price list XLSX of ${median.rows} products (section ${a.group}, ${a.db.replace(/.*\//, '')}): ${median.seconds.toFixed(2)} s (median of ${results.length}), peak RSS ${peak.toFixed(0)} MB`);
  console.log(JSON.stringify({ priceListXlsxSeconds: Number(median.seconds.toFixed(3)), priceListPeakRssMb: Math.round(peak), products: median.rows, xlsxBytes: median.bytes }));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
