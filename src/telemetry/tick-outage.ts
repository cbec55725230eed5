// How a timer loop (the workers' sweeper, schedules, outbound sweep, offers, price roll, e-mail outbox;
// a connector's sweeps through its port) speaks through an outage: it used to log every tick's failure, one warning a second from the e-mail
// outbox alone while PostgreSQL was down. Now the first tick that finds the dependency out of reach
// says so once ("postgres unavailable, pausing e-mail outbox"), the ticks after it are only counted,
// and the first tick that works again says so once with the count. Other errors are logged as before.
import type { Logger } from './logger.ts';
import { isDependencyUnavailable } from '../db/availability.ts';

export interface TickOutage {
  /** The tick worked: after an outage, logs once that the loop resumes, with the ticks skipped. */
  ok(): void;
  /**
   * The tick failed with `e`: true (and logged only on the first such tick) when the dependency is out of
   * reach; false for any other error, which the caller logs as it always did.
   */
  failed(e: unknown): boolean;
  /** Ticks skipped in the current outage (0 while the dependency answers). */
  readonly skipped: number;
}

/**
 * An outage tracker for the loop `loop` (its name in the log lines). `dependency` names what it needs:
 * PostgreSQL for all the workers' loops (a loop that also enqueues to Redis hears ioredis' own
 * reconnect errors on the connection's error handler instead).
 */
export function tickOutage(log: Logger, loop: string, dependency = 'postgres'): TickOutage {
  let down = false;
  let skipped = 0;
  let since = 0;
  return {
    get skipped() {
      return skipped;
    },
    ok() {
      if (!down) return;
      log.info({ loop, skippedTicks: skipped, downSeconds: Math.round((Date.now() - since) / 1000) }, `${dependency} available again, resuming ${loop}`);
      down = false;
      skipped = 0;
    },
    failed(e) {
      if (!isDependencyUnavailable(e)) return false;
      if (!down) {
        down = true;
        since = Date.now();
        log.warn({ loop, err: (e as Error).message }, `${dependency} unavailable, pausing ${loop}`);
      }
      skipped++;
      return true;
    },
  };
}
