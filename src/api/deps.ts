// What the HTTP server is built from: everything is passed in (config, datastore, queues, logger,
// metrics), so tests and the CLI wire real instances and nothing here is a global singleton.
import type { Kysely } from 'kysely';
import type pg from 'pg';
import type { Redis } from 'ioredis';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/index.ts';
import type { Queues } from '../pipeline/queues.ts';
import type { Registry } from '../pipeline/registry.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { LoginGuard } from '../port/port.ts';

export interface ServerDeps {
  config: Config;
  db: Kysely<Database>;
  queues: Queues;
  log: Logger;
  metrics: Metrics;
  /** The connectors: flow checks name their kinds, and their exchange endpoints are mounted. */
  registry: Registry;
  /** full: every route; workers-only: health and metrics (a worker process exposes them too). */
  mode?: 'full' | 'workers-only';
  /** Connection used by /readyz to PING Redis; defaults to the queues' own connection. */
  redis?: Redis;
  /** The pg pool behind `db`: the pipeline's run actions (upload, approve, reject, replay) take it. */
  pool?: pg.Pool;
  /** Failed-login throttle of the process (default: one per server, 5 free failures per source, then 1 s doubling). */
  logins?: LoginGuard;
}
