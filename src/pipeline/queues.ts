// The BullMQ queues of the pipeline. Jobs carry references (run ids), never rows: rows travel as
// streams into PostgreSQL. Job ids are derived from run ids so that enqueueing twice is harmless.
import { Queue, type ConnectionOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';

export const QUEUE_NAMES = { extract: 'extract', merge: 'merge', outbound: 'outbound', acts: 'acts' } as const;
export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

/**
 * `trace`: the W3C traceparent of the span that made the job (src/telemetry/tracing.ts), so that one trace
 * covers a run from receipt to merge; absent when tracing is off or the sweeper made the job.
 */
export interface TracedJob { trace?: string }

/**
 * `installation`: the id of the database the run belongs to (src/pipeline/installation.ts); a worker
 * of another database refuses the job. Absent in jobs added before installations existed.
 */
export interface ExtractJob extends TracedJob { runId: number; installation?: string }
export interface MergeJob extends TracedJob { runId: number; installation?: string }
/** One order version to send through one outbound flow (src/pipeline/outbound.ts). `version`: updated_at as JSON text. */
export interface OutboundJob extends TracedJob { flowId: number; orderId: number; version: string; installation?: string }
/** One reconciliation act asked of an ERP (src/backoffice/act-requests.ts): the act_requests row's id. */
export interface ActJob extends TracedJob { requestId: number; installation?: string }

export interface Queues {
  prefix: string;
  extract: Queue<ExtractJob>;
  merge: Queue<MergeJob>;
  outbound: Queue<OutboundJob>;
  acts: Queue<ActJob>;
  all(): Queue[];
  close(): Promise<void>;
}

/** A Redis connection suitable for BullMQ (workers need maxRetriesPerRequest: null to block). */
export function redisConnection(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, ...extra });
}

export function createQueues(redisUrl: string, prefix: string): Queues {
  // Producers fail fast when Redis is down: the run is already in the inbox and the sweeper
  // enqueues it once Redis is back, so nobody waits on a dead connection.
  const connection = redisConnection(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
  connection.on('error', () => {});
  const opts = { connection: connection as ConnectionOptions, prefix };
  const extract = new Queue<ExtractJob>(QUEUE_NAMES.extract, opts);
  const merge = new Queue<MergeJob>(QUEUE_NAMES.merge, opts);
  const outbound = new Queue<OutboundJob>(QUEUE_NAMES.outbound, opts);
  const acts = new Queue<ActJob>(QUEUE_NAMES.acts, opts);
  extract.on('error', () => {});
  merge.on('error', () => {});
  outbound.on('error', () => {});
  acts.on('error', () => {});
  return {
    prefix,
    extract,
    merge,
    outbound,
    acts,
    all: () => [extract, merge, outbound, acts] as Queue[],
    async close() {
      await Promise.allSettled([extract.close(), merge.close(), outbound.close(), acts.close()]);
      connection.disconnect();
    },
  };
}

export const extractJobId = (runId: number): string => `extract-${runId}`;
export const mergeJobId = (runId: number): string => `merge-${runId}`;

/**
 * Deletes every Redis key under a queue prefix (obliterate leaves BullMQ's meta keys behind): for
 * removing an installation's or a test suite's queues entirely.
 */
export async function deleteQueueKeys(redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => {});
  let n = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) n += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return n;
}
