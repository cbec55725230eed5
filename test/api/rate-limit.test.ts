// The per-key rate limit's window: its budget, its headers, its reset after a minute, keys apart.
import type { FastifyReply } from 'fastify';
import { describe, expect, it } from 'vitest';
import { KeyRateLimiter } from '../../src/api/portal/rate-limit.ts';

/** The part of a reply the limiter writes to: its headers. */
function reply(): FastifyReply & { headers: Record<string, unknown> } {
  const headers: Record<string, unknown> = {};
  return { headers, header(name: string, value: unknown) { headers[name] = value; return this; } } as unknown as FastifyReply & { headers: Record<string, unknown> };
}

describe('KeyRateLimiter', () => {
  it('allows the budget, refuses the next with Retry-After, and starts a new window after a minute', () => {
    let now = 1_000_000;
    const limiter = new KeyRateLimiter(() => now);
    for (let i = 0; i < 3; i++) {
      const r = reply();
      limiter.take(7, 3, r);
      expect(r.headers['x-ratelimit-remaining']).toBe(2 - i);
    }
    now += 20_000;
    const over = reply();
    expect(() => limiter.take(7, 3, over)).toThrow(/3 requests per minute\); retry in 40 s/);
    expect(over.headers['retry-after']).toBe(40);
    expect(over.headers['x-ratelimit-limit']).toBe(3);
    // Another key has its own budget.
    expect(() => limiter.take(8, 3, reply())).not.toThrow();
    now += 40_000;
    const fresh = reply();
    expect(() => limiter.take(7, 3, fresh)).not.toThrow();
    expect(fresh.headers['x-ratelimit-remaining']).toBe(2);
  });
});
