// Client-side leaky bucket, the mirror of the one Bitrix24 keeps per portal: each request adds one to a
// counter that drains at `rate` per second; a request that would lift it past `burst` waits until it
// would not. Running on the same figures as the portal keeps a pull just below the limit (no 503s),
// and a 503 that comes anyway (another application sharing the portal's bucket) fills ours, so the
// requests after it are paced at the drain rate.
import { sleep } from '../../lib/index.ts';

export interface BucketOptions {
  /** Requests per second the bucket drains. @defaultValue 2 (Bitrix24's standard plans; Enterprise: 5) */
  rate: number;
  /** Requests that may go at once from an empty bucket. @defaultValue 50 (Enterprise: 250) */
  burst: number;
}

export class LeakyBucket {
  private level = 0;
  private at: number;
  /** Admissions are handed out one after another, so concurrent callers cannot overtake the pace. */
  private queue: Promise<void> = Promise.resolve();
  /**
   * The longest flight time seen (seconds): how far the portal's count may lag ours. Measured: the
   * first request of a process took 140 ms (connection, warm-up) while the burst's others took 10–20,
   * and the portal's bucket, which started draining at that request's arrival, stayed 0.28 above ours
   * for as long as it was not empty; with the headroom decaying, the 51st request met a 503. A kept
   * maximum costs a little burst, no throughput.
   */
  private lag = 0;
  /** When each request still waiting for its reply was sent: one that has not even arrived yet may land after later ones. */
  private readonly inFlight = new Set<{ sent: number }>();

  constructor(readonly opts: BucketOptions, private readonly now: () => number = () => performance.now()) {
    this.at = now();
  }

  private drain(): void {
    const t = this.now();
    this.level = Math.max(0, this.level - ((t - this.at) / 1000) * this.opts.rate);
    this.at = t;
  }

  /** Milliseconds until one more request fits (0: now). */
  waitMs(): number {
    this.drain();
    // The portal counts a request when it arrives, up to a flight time after we counted it: its bucket
    // drains that much later than ours, and a request still in flight may arrive after the next one.
    // So keep rate × (the longest flight seen, or the age of the oldest request in flight) below the
    // burst, plus one request of slack (the test of 56 concurrent calls met a 503 in 1 of ~3 runs
    // under load with the flight time alone). It costs some burst, no throughput.
    let lag = this.lag;
    const now = this.now();
    for (const f of this.inFlight) lag = Math.max(lag, (now - f.sent) / 1000);
    const limit = Math.max(1, this.opts.burst - Math.min(lag * this.opts.rate + 1, this.opts.burst / 2));
    const over = this.level + 1 - limit;
    return over > 0 ? Math.ceil((over / this.opts.rate) * 1000) : 0;
  }

  /**
   * Resolves when one more request may go, and counts it; call the answer once the request's reply
   * has arrived (its flight time sets the headroom kept below the burst).
   */
  take(signal?: AbortSignal): Promise<() => void> {
    const turn = this.queue.then(async () => {
      for (let w = this.waitMs(); w > 0; w = this.waitMs()) await sleep(w, signal);
      this.level += 1;
      const flying = { sent: this.now() };
      this.inFlight.add(flying);
      return (): void => {
        if (!this.inFlight.delete(flying)) return;
        this.lag = Math.max((this.now() - flying.sent) / 1000, this.lag);
      };
    });
    // A caller that gave up (abort) must not stop the queue for the others.
    this.queue = turn.then(() => {}, () => {});
    return turn;
  }

  /** The remote said the bucket is full: count ours as full, so the next request waits one drain step. */
  fill(): void {
    this.drain();
    this.level = Math.max(this.level, this.opts.burst);
  }

  /** The counter now (tests, logs). */
  get current(): number {
    this.drain();
    return this.level;
  }
}
