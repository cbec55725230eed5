// What pipeline functions need, passed in explicitly (no singletons): database, queues, config, logger,
// and the registry of connectors.
import type { Kysely } from 'kysely';
import type pg from 'pg';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/index.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { Queues } from './queues.ts';
import type { Registry } from './registry.ts';

export interface PipelineDeps {
  db: Kysely<Database>;
  /** The pool behind `db`, for COPY streams and hand-written merge transactions. */
  pool: pg.Pool;
  queues: Queues;
  config: Config;
  log: Logger;
  metrics?: Metrics;
  /** The connectors of this process, built once by the composition root. */
  registry: Registry;
  /** Aborted when the workers close: a job that waits without end (following a 1C upload) stops waiting. */
  stopping?: AbortSignal;
}
