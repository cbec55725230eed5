// Small runs first, within a worker process. bench:freshness, 2M-row snapshot of another flow on a 2-core
// machine: while the snapshot was read, a 1-row delta's extract took ~300 ms instead of 20-40 ms and its
// merge 400-700 ms instead of 10-60 ms. Neither waited for a slot or a lock: the big read kept one core
// busy in this process and its COPY the other in PostgreSQL, and a small run's every query shared them.
// Making the read give the event loop back every 2 ms instead of 10 ms changed nothing (extract p95
// 332 ms against 331 ms). So a big read pauses while a small run of this process is in flight: then
// neither it nor its COPY uses a core. The pause is bounded (BIG_READ_MAX_PAUSE_MS), so a steady stream
// of deltas slows a big read down without ever stopping it.
import { AsyncLocalStorage } from 'node:async_hooks';

/** Longest a big read waits for small runs at one turn before it reads on for another slice. */
export const BIG_READ_MAX_PAUSE_MS = 200;

const smallRun = new AsyncLocalStorage<true>();
let active = 0;
let waiters: Array<() => void> = [];

/** Runs `fn` as a small run: big reads of this process pause (bounded) until it and every other small run end. */
export async function asSmallRun<T>(fn: () => Promise<T>): Promise<T> {
  active++;
  try {
    return await smallRun.run(true, fn);
  } finally {
    if (--active === 0) {
      const w = waiters;
      waiters = [];
      for (const resolve of w) resolve();
    }
  }
}

/** Small runs in flight in this process. */
export function smallRunsActive(): number {
  return active;
}

/**
 * Called by a read between its slices: resolves at once for a small run's own read or when no small run
 * is in flight, else when the last one ends or after `maxMs`.
 */
export function giveWayToSmallRuns(maxMs = BIG_READ_MAX_PAUSE_MS): Promise<void> | undefined {
  if (active === 0 || smallRun.getStore()) return undefined;
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, maxMs);
    function done(): void {
      clearTimeout(timer);
      resolve();
    }
    waiters.push(done);
  });
}
