// The worker entry point: BullMQ workers for the extract and merge queues plus the sweeper that
// re-enqueues open runs whose job vanished (Redis restarted). Stateless: scale out by running more.
import { Worker } from 'bullmq';
import type { PipelineDeps } from '../src/pipeline/deps.ts';
import { QUEUE_NAMES, redisConnection } from '../src/pipeline/queues.ts';
import { sweep } from '../src/pipeline/runs.ts';
import { extractProcessor, mergeProcessor } from './processors.ts';
import '../connectors/index.ts';

export interface Workers {
  close(): Promise<void>;
  /** Runs the sweeper once now (tests, start-up). */
  sweep(): Promise<number>;
}

export async function startWorkers(deps: PipelineDeps, opts: { name?: string } = {}): Promise<Workers> {
  const { config, log } = deps;
  const connection = redisConnection(config.REDIS_URL);
  connection.on('error', (e) => log.debug({ err: e.message }, 'redis connection error (worker)'));
  const common = {
    connection,
    prefix: config.MAGISTRAL_QUEUE_PREFIX,
    stalledInterval: config.MAGISTRAL_STALLED_INTERVAL_MS,
    lockDuration: Math.max(config.MAGISTRAL_STALLED_INTERVAL_MS, 5000),
    // A killed worker leaves its job stalled; taking it over is normal here, not a poison sign.
    maxStalledCount: 20,
    name: opts.name ?? `magistral-worker-${process.pid}`,
  };
  const extract = new Worker(QUEUE_NAMES.extract, extractProcessor(deps), { ...common, concurrency: config.MAGISTRAL_EXTRACT_CONCURRENCY });
  const merge = new Worker(QUEUE_NAMES.merge, mergeProcessor(deps), { ...common, concurrency: config.MAGISTRAL_MERGE_CONCURRENCY });
  for (const w of [extract, merge]) {
    w.on('error', (e) => log.debug({ err: e.message, queue: w.name }, 'worker error'));
    w.on('failed', (job, e) => log.debug({ queue: w.name, job: job?.id, err: e.message }, 'job failed'));
  }

  let sweeping = false;
  const doSweep = async (): Promise<number> => {
    if (sweeping) return 0;
    sweeping = true;
    try {
      return await sweep(deps);
    } catch (e) {
      log.debug({ err: (e as Error).message }, 'sweep skipped');
      return 0;
    } finally {
      sweeping = false;
    }
  };
  const timer = setInterval(() => void doSweep(), config.MAGISTRAL_SWEEP_INTERVAL_MS);
  timer.unref();
  void doSweep();
  log.info({ extractConcurrency: config.MAGISTRAL_EXTRACT_CONCURRENCY, mergeConcurrency: config.MAGISTRAL_MERGE_CONCURRENCY }, 'workers started');

  return {
    sweep: doSweep,
    async close() {
      clearInterval(timer);
      await Promise.allSettled([extract.close(), merge.close()]);
      connection.disconnect();
    },
  };
}
