// Quick-order benchmark (`tsx ops/bench/quick-order.ts [--runs N] [--lines N] [--rebuild]`): a signed-in
// buyer uploads a 1,000-line XLSX (SKUs, articles and barcodes mixed, some duplicates and unknown
// rows) to POST /cabinet/quick-order of a real server (in this process, on the bench store of
// cabinet-files-data.ts, 50,000 products, 2M prices); the time is from the first byte sent to the
// last byte of the report page received. Last line JSON: quickOrder1000Ms (median), …Max; target < 2 s.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import ExcelJS from 'exceljs';
import { loadConfig } from '../../src/config/index.ts';
import { createRuntime } from '../../src/pipeline/runtime.ts';
import { buildServer } from '../../src/api/index.ts';
import { createSession, SESSION_COOKIE } from '../../src/cabinet/sessions.ts';
import { setPassword } from '../../src/cabinet/accounts.ts';
import { deleteQueueKeys } from '../../src/pipeline/queues.ts';
import { registry } from '../../test/helpers/registry.ts';
import { PL_DB_NAME, ensureBenchContact, ensureFilesStore } from './cabinet-files-data.ts';
import { progress } from './lib.ts';

const PG_BASE = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

function parseArgs(argv: string[]): { runs: number; lines: number; rebuild: boolean } {
  const a = { runs: 7, lines: 1000, rebuild: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--runs') a.runs = Number(argv[++i]);
    else if (argv[i] === '--lines') a.lines = Number(argv[++i]);
    else if (argv[i] === '--rebuild') a.rebuild = true;
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return a;
}

/** An order file as buyers make them: a header, identifiers of three kinds, ~3 % unknown, some repeats. */
async function orderFile(lines: number): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('Заказ');
  ws.addRow(['Артикул', 'Количество']);
  for (let i = 0; i < lines; i++) {
    const p = 1 + ((i * 7919) % 49_000) - (i % 10 === 9 ? 1 : 0); // every tenth row repeats a product nearby
    const id = i % 33 === 5 ? `UNKNOWN-${i}` : i % 3 === 0 ? `SKU-${String(p).padStart(6, '0')}` : i % 3 === 1 ? `ART-${String(p).padStart(6, '0')}` : String(4600000000000 + p);
    ws.addRow([id, (i % 9) + 1]);
  }
  return Buffer.from(await wb.xlsx.writeBuffer());
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const url = `${PG_BASE}/${PL_DB_NAME}`;
  await ensureFilesStore(url, a.rebuild);
  const who = await ensureBenchContact(url);
  const prefix = `magistral-bench-qo-${randomBytes(3).toString('hex')}`;
  const config = loadConfig({ DATABASE_URL: url, REDIS_URL, MAGISTRAL_QUEUE_PREFIX: prefix, LOG_LEVEL: 'silent' });
  const log = pino({ level: 'silent' });
  const rt = createRuntime(config, log, registry, { applicationName: 'bench-quick-order', poolSize: 4 });
  const app = await buildServer({ registry, config, db: rt.db, pool: rt.pool, queues: rt.queues, log, metrics: rt.metrics, mode: 'full' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  try {
    await setPassword(rt.db, 'K-1', randomBytes(12).toString('hex'), 'bench@example.ru'); // a cabinet account, so the session is live
    const session = await createSession(rt.db, { contactId: who.contactId, legalEntityId: who.legalEntityId, cityId: who.cityId });
    const file = await orderFile(a.lines);
    progress(`order file: ${a.lines} lines, ${(file.length / 1024).toFixed(0)} KB`);
    const times: number[] = [];
    for (let i = 0; i < a.runs; i++) {
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(file)]), 'заказ.xlsx');
      const started = performance.now();
      const res = await fetch(`${base}/cabinet/quick-order?_csrf=${session.row.csrf}`, { method: 'POST', body: form, headers: { cookie: `${SESSION_COOKIE}=${session.id}` } });
      const html = await res.text();
      const ms = performance.now() - started;
      const found = /Найдено <!-- -->?<b>(\d+)<\/b>/.exec(html)?.[1] ?? /Найдено\s*<b>(\d+)/.exec(html)?.[1];
      if (res.status !== 200 || !found) throw new Error(`unexpected answer ${res.status}: ${html.slice(0, 500)}`);
      progress(`run ${i + 1}: ${ms.toFixed(0)} ms, ${found} lines found, ${(html.length / 1024).toFixed(0)} KB of HTML`);
      times.push(ms);
    }
    const sorted = [...times].sort((x, y) => x - y);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    console.log(`quick order of ${a.lines} lines, upload to report: median ${median.toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms (${a.runs} runs)`);
    console.log(JSON.stringify({ quickOrderLines: a.lines, quickOrder1000Ms: Math.round(median), quickOrder1000MaxMs: Math.round(sorted.at(-1)!) }));
  } finally {
    await app.close();
    await rt.close();
    await deleteQueueKeys(REDIS_URL, prefix).catch(() => {});
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
