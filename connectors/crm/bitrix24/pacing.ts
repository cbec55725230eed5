// Client-side leaky bucket, the mirror of the one Bitrix24 keeps per portal: each request adds one to a
// counter that drains at `rate` per second; a request that would lift it past `burst` waits until it
// would not. Running on the same figures as the portal keeps a pull just below the limit (no 503s),
// and a 503 that comes anyway (another application sharing the portal's bucket) fills ours, so the
// requests after it are paced at the drain rate.

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
    const over = this.level + 1 - this.opts.burst;
    return over > 0 ? Math.ceil((over / this.opts.rate) * 1000) : 0;
  }

  /**
   * Resolves when one more request may go, and counts it; call the answer once the request's reply
   * has arrived. The portal counts a request when it arrives, which we do not know: somewhere between
   * sending and the reply. Counting it at the reply is the cautious end (a burst whose first
   * connections are slow to open would otherwise look drained earlier than the portal sees it).
   */
  take(signal?: AbortSignal): Promise<() => void> {
    const turn = this.queue.then(async () => {
      for (let w = this.waitMs(); w > 0; w = this.waitMs()) await sleep(w, signal);
      this.level += 1;
      const sent = this.now();
      let settled = false;
      return (): void => {
        if (settled) return;
        settled = true;
        this.drain();
        const flight = ((this.now() - sent) / 1000) * this.opts.rate;
        this.level = Math.min(this.level + Math.min(1, flight), Math.max(this.level, this.opts.burst));
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

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
