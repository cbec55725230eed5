// A real pipeline for tests: its own database, its own Redis key prefix, its own inbox directory,
// workers in this process (or in child processes for crash tests), and helpers to push payloads.
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { registry } from './registry.ts';
import type { Registry } from '../../src/pipeline/registry.ts';
import { loadConfig, type Config } from '../../src/config/index.ts';
import { createRuntime, type Runtime } from '../../src/pipeline/runtime.ts';
import { applyFlows, parseFlowFile } from '../../src/pipeline/flows.ts';
import { receivePayload } from '../../src/pipeline/receive.ts';
import { waitForRun, type RunView } from '../../src/pipeline/runs.ts';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { startWorkers, type Workers } from '../../workers/index.ts';
import { createTestDb, dropQueuePrefix, REDIS_URL, testQueuePrefix, type TestDb } from './db.ts';

export interface TestPipeline {
  db: TestDb;
  rt: Runtime;
  config: Config;
  env: Record<string, string>;
  dataDir: string;
  workers?: Workers;
  startWorkers(): Promise<Workers>;
  applyFlowYaml(yaml: string): Promise<void>;
  applyFlowFile(rel: string): Promise<void>;
  send(flow: string, content: string | Buffer, fileName?: string): Promise<number>;
  ingest(flow: string, content: string | Buffer, fileName?: string): Promise<RunView>;
  close(): Promise<void>;
}

export async function createTestPipeline(label: string, opts: { redisUrl?: string; pgBase?: string; workers?: boolean; env?: Record<string, string>; log?: Logger; registry?: Registry; poolSize?: number } = {}): Promise<TestPipeline> {
  const db = await createTestDb(label, opts.pgBase);
  const dataDir = await mkdtemp(path.join(tmpdir(), `magistral-${label}-`));
  const env: Record<string, string> = {
    DATABASE_URL: db.url,
    REDIS_URL: opts.redisUrl ?? REDIS_URL,
    MAGISTRAL_QUEUE_PREFIX: testQueuePrefix(label),
    MAGISTRAL_DATA_DIR: dataDir,
    MAGISTRAL_SWEEP_INTERVAL_MS: '300',
    MAGISTRAL_STALLED_INTERVAL_MS: '1000',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...opts.env,
  };
  const config = loadConfig(env);
  const log = opts.log ?? pino({ level: env.LOG_LEVEL! });
  const rt = createRuntime(config, log, opts.registry ?? registry, { applicationName: `test-${label}`, poolSize: opts.poolSize ?? 6 });
  const tp: TestPipeline = {
    db, rt, config, env, dataDir,
    async startWorkers() {
      tp.workers = await startWorkers(rt);
      return tp.workers;
    },
    async applyFlowYaml(yaml: string) {
      await applyFlows(rt.db, await parseFlowFile(yaml, 'test-flow.yaml', rt.registry));
    },
    async applyFlowFile(rel: string) {
      const text = await readFile(path.join(REPO_DIR, rel), 'utf8');
      await applyFlows(rt.db, await parseFlowFile(text, rel, rt.registry));
    },
    async send(flow, content, fileName = 'payload.csv') {
      const body = Readable.from([typeof content === 'string' ? Buffer.from(content) : content]);
      return (await receivePayload(rt, { flow, files: [{ fileName, body }] })).runId;
    },
    async ingest(flow, content, fileName) {
      const runId = await tp.send(flow, content, fileName);
      return waitForRun(rt.db, runId, { timeoutMs: 60_000, intervalMs: 50 });
    },
    async close() {
      await tp.workers?.close();
      await rt.queues.extract.obliterate({ force: true }).catch(() => {});
      await rt.queues.merge.obliterate({ force: true }).catch(() => {});
      await rt.close();
      await dropQueuePrefix(config.MAGISTRAL_QUEUE_PREFIX, config.REDIS_URL).catch(() => {});
      await db.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  if (opts.workers !== false) await tp.startWorkers();
  return tp;
}

/** Prices as `product|priceType|value|currency` strings, sorted: a stable picture of the table. */
export async function pricesPicture(tp: TestPipeline): Promise<string[]> {
  const r = await tp.rt.pool.query(`
    SELECT p.code AS product, pt.code AS pt, x.value::text AS value, x.currency
    FROM prices x JOIN products p ON p.id = x.product_id JOIN price_types pt ON pt.id = x.price_type_id
    ORDER BY 1, 2`);
  return r.rows.map((x) => `${x.product}|${x.pt}|${x.value}|${x.currency}`);
}

export async function stockPicture(tp: TestPipeline): Promise<string[]> {
  const r = await tp.rt.pool.query(`
    SELECT p.code AS product, w.code AS wh, x.quantity::text AS q
    FROM stock x JOIN products p ON p.id = x.product_id JOIN warehouses w ON w.id = x.warehouse_id ORDER BY 1, 2`);
  return r.rows.map((x) => `${x.product}|${x.wh}|${x.q}`);
}

/** prices-csv as a delta (no snapshot removal, no guard): for tests that drive runs' stages by hand. */
export const DELTA_PRICES_FLOW = `
apiVersion: magistral/v1
kind: Flow
name: prices-csv
source: { connector: file.csv, options: { delimiter: auto, encoding: auto } }
mapping: file/prices.yaml
target: prices
mode: delta
`;

/** A flow of prices from CSV (header `sku;price_type;price;currency`), with any further YAML lines. */
export const pricesFlow = (name: string, extra = '', mode: 'delta' | 'snapshot' = 'delta'): string => `
apiVersion: magistral/v1
kind: Flow
name: ${name}
source: { connector: file.csv }
mapping: file/prices.yaml
target: prices
mode: ${mode}
${extra}
`;

export const pricesDeltaFlow = (name: string, extra = ''): string => pricesFlow(name, extra);

export function csv(header: string, rows: string[]): string {
  return `${header}\n${rows.join('\n')}\n`;
}

/** A prices CSV of `n` rows over 5,000 products and n / 5,000 price types: big enough to take seconds. */
export function bigPricesPayload(n: number, salt = 0): string {
  const rows: string[] = [];
  for (let i = 0; i < n; i++) rows.push(`P${i % 5000};pt${Math.floor(i / 5000)};${(i * 7 + salt) % 100000},${i % 100};RUB`);
  return csv('sku;price_type;price;currency', rows);
}
