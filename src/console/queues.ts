// What the console's queue page shows of each BullMQ queue: the job counts /metrics exports
// (magistral_queue_jobs, read the same way), the workers connected to it, and how long the oldest
// waiting job has waited — the number that says "stuck" when the counts alone look calm.
import type { Queue } from 'bullmq';
import type { Queues } from '../pipeline/queues.ts';
import { readQueues } from '../api/metrics-routes.ts';
import { withTimeout } from '../api/with-timeout.ts';
import { CHECK_TIMEOUT_MS } from '../api/dependency-checks.ts';

export interface QueueRow {
  name: string;
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
  paused: number;
  /** Workers connected to this queue (BullMQ's CLIENT LIST of its workers). */
  workers: number;
  /** When the oldest waiting job was queued (null: nothing waits). */
  oldestWaitingAt: Date | null;
}

async function oldestWaiting(q: Queue): Promise<Date | null> {
  // Oldest first (asc): the head of each list that waits for a worker.
  const heads = await Promise.all((['waiting', 'prioritized'] as const).map((t) => q.getJobs([t], 0, 0, true)));
  const times = heads.flat().map((j) => j.timestamp).filter((t): t is number => typeof t === 'number');
  return times.length ? new Date(Math.min(...times)) : null;
}

export async function queueOverview(queues: Queues): Promise<QueueRow[]> {
  const counts = await readQueues(queues);
  return Promise.all(queues.all().map(async (q) => {
    const c = counts.find((x) => x.queue === q.name)?.counts ?? {};
    const [workers, oldest] = await withTimeout(Promise.all([q.getWorkersCount(), oldestWaiting(q)]), CHECK_TIMEOUT_MS, `Redis (workers of ${q.name})`);
    return {
      name: q.name, waiting: c.waiting ?? 0, active: c.active ?? 0, delayed: c.delayed ?? 0, failed: c.failed ?? 0,
      completed: c.completed ?? 0, paused: c.paused ?? 0, workers, oldestWaitingAt: oldest,
    };
  }));
}
