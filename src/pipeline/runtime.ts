// Builds the pipeline's dependencies for one process (CLI, server, worker) from configuration.
import { createDb } from '../db/index.ts';
import type { Config } from '../config/index.ts';
import type { Logger } from '../telemetry/logger.ts';
import { createMetrics, type Metrics } from '../telemetry/metrics.ts';
import { createQueues } from './queues.ts';
import type { PipelineDeps } from './deps.ts';
import type { Registry } from './registry.ts';

export interface Runtime extends PipelineDeps {
  metrics: Metrics;
  close(): Promise<void>;
}

export function createRuntime(config: Config, log: Logger, registry: Registry, opts: { applicationName?: string; poolSize?: number } = {}): Runtime {
  const d = createDb(config.DATABASE_URL, { applicationName: opts.applicationName ?? 'magistral', max: opts.poolSize ?? 12 });
  const queues = createQueues(config.REDIS_URL, config.MAGISTRAL_QUEUE_PREFIX);
  const metrics = createMetrics();
  return {
    db: d.db,
    pool: d.pool,
    queues,
    config,
    log,
    metrics,
    registry,
    async close() {
      await queues.close();
      await d.close();
    },
  };
}
