// A bound on long-running work started by page requests (price lists: a cursor and a pool connection
// held for seconds, 6.8 s for the whole 50,000-product catalog): at most `perProcess` at once in the
// process, and one at a time per session. A request past either bound is refused at once (the page says
// to try again) instead of queueing: a few visitors, or one clicking repeatedly, cannot take every pool
// connection the catalog pages need.
export class WorkGate {
  private running = 0;
  private readonly sessions = new Set<string>();

  constructor(private readonly perProcess: number) {}

  /** A release function, or 'session' / 'busy' when the work may not start now. */
  enter(session: string): (() => void) | 'session' | 'busy' {
    if (this.sessions.has(session)) return 'session';
    if (this.running >= this.perProcess) return 'busy';
    this.running++;
    this.sessions.add(session);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      this.sessions.delete(session);
    };
  }

  get inFlight(): number {
    return this.running;
  }
}
