// One leaky bucket per portal in this process: Bitrix24 counts the requests of every application and
// webhook of a portal in one bucket, so flows pulling the same portal at the same time share ours.
import { LeakyBucket } from './pacing.ts';

const buckets = new Map<string, LeakyBucket>();

/** The bucket of a portal (by origin); a flow asking for other figures replaces it. */
export function sharedBucket(origin: string, rate: number, burst: number): LeakyBucket {
  const b = buckets.get(origin);
  if (b && b.opts.rate === rate && b.opts.burst === burst) return b;
  const fresh = new LeakyBucket({ rate, burst });
  buckets.set(origin, fresh);
  return fresh;
}

/** Forgets every bucket (tests that restart a portal on the same address). */
export function clearBuckets(): void {
  buckets.clear();
}
