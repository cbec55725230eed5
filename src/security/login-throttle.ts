// Failed logins throttled per source: the admin token, portal API keys, and the exchanges that check a
// secret (1C checkauth, SAP IDoc Basic auth, Bitrix24 application token). Issue 17: 100 wrong 1C
// passwords in 7 s were all answered, and the admin token had no throttling at all.
//
// After FREE_FAILURES failures from one address on one surface, the address is locked out for a
// delay that doubles with each further failure (1 s, 2 s, 4 s … up to 15 min): attempts during the
// lock are answered 429 with Retry-After without the credential being checked, so guessing gets no
// answer at full speed. A success (outside a lock) forgets the address's failures; failures are
// forgotten FORGET_AFTER_MS after the last one. Other addresses are never affected.
//
// Kept in memory per process, not in PostgreSQL (the cabinet's sign-in keeps its attempts in a table):
// these credentials are checked on every request of a machine client (each admin call, each portal API
// read), so a table would cost a write per failure and a read per request on the hottest path, and
// would let an attacker turn wrong keys into database writes. The cost: N API processes behind a
// balancer give an attacker N times the budget — still a doubling delay, which 100 guesses cannot outrun
// (the 100th waits the 15-minute ceiling).
import { Counter, type Registry } from 'prom-client';
import type { LoginGuard } from '../port/port.ts';

export interface LoginThrottleOptions {
  /** Failures allowed before the first lock (default 5). */
  freeFailures?: number;
  /** The first lock (default 1000 ms); each further failure doubles it. */
  baseDelayMs?: number;
  /** The longest lock (default 15 min). */
  maxDelayMs?: number;
  /** Failures are forgotten this long after the last one (default 15 min). */
  forgetAfterMs?: number;
  /** Sources remembered at most (default 100 000); beyond, the least recently failed are dropped. */
  maxSources?: number;
  /** Where `magistral_login_failures_total` and `magistral_login_throttled_total` are registered. */
  registry?: Registry;
  now?: () => number;
}

interface Source {
  failures: number;
  lockedUntil: number;
  lastFailure: number;
}

function counter(registry: Registry | undefined, name: string, help: string): Counter<'surface'> | undefined {
  if (!registry) return undefined;
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<'surface'>;
  return new Counter({ name, help, labelNames: ['surface'] as const, registers: [registry] });
}

export class LoginThrottle implements LoginGuard {
  private readonly sources = new Map<string, Source>();
  private readonly free: number;
  private readonly base: number;
  private readonly max: number;
  private readonly forget: number;
  private readonly maxSources: number;
  private readonly now: () => number;
  private readonly failures: Counter<'surface'> | undefined;
  private readonly throttled: Counter<'surface'> | undefined;

  constructor(opts: LoginThrottleOptions = {}) {
    this.free = opts.freeFailures ?? 5;
    this.base = opts.baseDelayMs ?? 1000;
    this.max = opts.maxDelayMs ?? 15 * 60_000;
    this.forget = opts.forgetAfterMs ?? 15 * 60_000;
    this.maxSources = opts.maxSources ?? 100_000;
    this.now = opts.now ?? Date.now;
    this.failures = counter(opts.registry, 'magistral_login_failures_total', 'Failed logins (wrong token, key or password) by surface');
    this.throttled = counter(opts.registry, 'magistral_login_throttled_total', 'Login attempts refused unchecked (429) because their source failed too often, by surface');
  }

  private live(key: string): Source | undefined {
    const s = this.sources.get(key);
    if (s && this.now() - s.lastFailure > this.forget && s.lockedUntil <= this.now()) {
      this.sources.delete(key);
      return undefined;
    }
    return s;
  }

  retryAfterSeconds(surface: string, ip: string): number {
    const s = this.live(`${surface}\u0000${ip}`);
    const wait = s ? s.lockedUntil - this.now() : 0;
    if (wait <= 0) return 0;
    this.throttled?.inc({ surface });
    return Math.ceil(wait / 1000);
  }

  failed(surface: string, ip: string): void {
    const key = `${surface}\u0000${ip}`;
    const now = this.now();
    const s = this.live(key) ?? { failures: 0, lockedUntil: 0, lastFailure: now };
    s.failures += 1;
    s.lastFailure = now;
    if (s.failures >= this.free) s.lockedUntil = now + Math.min(this.max, this.base * 2 ** Math.min(30, s.failures - this.free));
    // Re-inserted last: the Map's order is then the order of the last failure, oldest first.
    this.sources.delete(key);
    this.sources.set(key, s);
    if (this.sources.size > this.maxSources) {
      for (const k of this.sources.keys()) {
        this.sources.delete(k);
        if (this.sources.size <= this.maxSources) break;
      }
    }
    this.failures?.inc({ surface });
  }

  observed(surface: string, outcome: 'failed' | 'throttled'): void {
    (outcome === 'failed' ? this.failures : this.throttled)?.inc({ surface });
  }

  succeeded(surface: string, ip: string): void {
    this.sources.delete(`${surface}\u0000${ip}`);
  }
}
