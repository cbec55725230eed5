// Per-key rate limit of /api/v1: a fixed one-minute window per API key, counted in the process once
// the key is known (after authentication, before the body is read). With several API instances behind
// a balancer each enforces the limit on its own share.
//
// Our own rather than @fastify/rate-limit: the one-product price route resolves its key in the same
// statement as the price (one round trip, see prices-routes.ts), so the limit has to be applied from
// inside a handler as well as from the authentication hook.
import type { FastifyReply } from 'fastify';
import { MagistralError } from '../../errors/index.ts';

const WINDOW_MS = 60_000;

interface Window {
  start: number;
  count: number;
}

export class KeyRateLimiter {
  private readonly windows = new Map<number, Window>();
  private sweptAt = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Counts one request of the key against `perMinute`, sets the X-RateLimit-* headers and throws
   * 429 (with Retry-After) once the window's budget is spent.
   */
  take(keyId: number, perMinute: number, reply: FastifyReply): void {
    const now = this.now();
    this.sweep(now);
    let w = this.windows.get(keyId);
    if (!w || now - w.start >= WINDOW_MS) {
      w = { start: now, count: 0 };
      this.windows.set(keyId, w);
    }
    w.count++;
    const resetSec = Math.max(1, Math.ceil((w.start + WINDOW_MS - now) / 1000));
    reply.header('x-ratelimit-limit', perMinute);
    reply.header('x-ratelimit-remaining', Math.max(0, perMinute - w.count));
    reply.header('x-ratelimit-reset', resetSec);
    if (w.count > perMinute) {
      reply.header('retry-after', resetSec);
      throw new MagistralError('MAG_ERR_RATE_LIMITED',
        `rate limit of this API key exceeded (${perMinute} requests per minute); retry in ${resetSec} s`);
    }
  }

  /** Forgets windows that ended, at most once a window: the map holds only keys seen in the last minute. */
  private sweep(now: number): void {
    if (now - this.sweptAt < WINDOW_MS) return;
    this.sweptAt = now;
    for (const [id, w] of this.windows) if (now - w.start >= WINDOW_MS) this.windows.delete(id);
  }
}
