// A real server for API tests: its own migrated database, a unique queue prefix on the real Redis,
// a temporary inbox directory, and a logger whose output the test can read back.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildServer, type ServerDeps } from '../../src/api/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createQueues, type Queues } from '../../src/pipeline/queues.ts';
import { REDACT_PATHS } from '../../src/telemetry/logger.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { createTestDb, dropQueuePrefix, REDIS_URL, testQueuePrefix, type TestDb } from '../helpers/db.ts';
import { registry } from '../helpers/registry.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

/** Log lines written by the server, as text. */
export class LogCapture extends Writable {
  lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    cb();
  }
  text(): string {
    return this.lines.join('\n');
  }
}

export interface ApiFixture {
  app: FastifyInstance;
  db: TestDb;
  queues: Queues;
  deps: ServerDeps;
  logs: LogCapture;
  auth: { authorization: string };
  /** Another server on the same database, with other options (closed Redis port, no token, …). */
  variant(opts: { redisUrl?: string; token?: string | null; mode?: 'full' | 'workers-only' }): Promise<{ app: FastifyInstance; logs: LogCapture }>;
  close(): Promise<void>;
}

/** The logger of the server, built like createLogger (same redaction) but writing where the test can read. */
export function captureLogger(): { log: pino.Logger; logs: LogCapture } {
  const logs = new LogCapture();
  const log = pino({ level: 'trace', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, logs);
  return { log, logs };
}

export async function apiFixture(label: string): Promise<ApiFixture> {
  const db = await createTestDb(label);
  const dataDir = await mkdtemp(path.join(tmpdir(), `magistral-${label}-`));
  const toClose: Array<() => Promise<void>> = [];

  async function make(opts: { redisUrl?: string; token?: string | null; mode?: 'full' | 'workers-only' }) {
    const config = loadConfig({
      DATABASE_URL: db.url,
      REDIS_URL: opts.redisUrl ?? REDIS_URL,
      MAGISTRAL_DATA_DIR: dataDir,
      ...(opts.token === null ? {} : { MAGISTRAL_ADMIN_TOKEN: opts.token ?? ADMIN_TOKEN }),
    });
    const queues = createQueues(config.REDIS_URL, testQueuePrefix(label));
    const { log, logs } = captureLogger();
    const deps: ServerDeps = { registry, config, db: db.db, pool: db.pool, queues, log, metrics: createMetrics(), mode: opts.mode ?? 'full' };
    const app = await buildServer(deps);
    toClose.push(async () => {
      await app.close();
      // A queue pointed at a closed port never connects: only clean up queues on the real Redis.
      if (!opts.redisUrl) await Promise.all(queues.all().map((q) => q.obliterate({ force: true }).catch(() => {})));
      if (!opts.redisUrl) await dropQueuePrefix(queues.prefix).catch(() => {});
      await bounded(queues.close(), 3000);
    });
    return { app, logs, queues, deps };
  }

  const main = await make({});
  return {
    ...main,
    db,
    auth: { authorization: `Bearer ${ADMIN_TOKEN}` },
    variant: async (opts) => {
      const v = await make(opts);
      return { app: v.app, logs: v.logs };
    },
    async close() {
      for (const c of toClose.reverse()) await c();
      await db.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A TCP port on 127.0.0.1 where nothing listens. */
export async function closedPort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function bounded(p: Promise<unknown>, ms: number): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => {}), new Promise((r) => { t = setTimeout(r, ms); })]);
  clearTimeout(t);
}
