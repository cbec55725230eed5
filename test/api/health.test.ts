// Liveness and readiness on the real PostgreSQL and Redis, and readiness failing when Redis is unreachable.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFixture, closedPort, type ApiFixture } from './api-fixture.ts';

let fx: ApiFixture;
beforeAll(async () => { fx = await apiFixture('health'); });
afterAll(async () => { await fx?.close(); });

describe('health', () => {
  it('GET /healthz answers 200 ok with a request id', async () => {
    const res = await fx.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('keeps a caller-supplied x-request-id', async () => {
    const res = await fx.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'lb-42' } });
    expect(res.headers['x-request-id']).toBe('lb-42');
  });

  it('GET /readyz is ready when PostgreSQL and Redis answer', async () => {
    const res = await fx.app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
  });

  it('GET /readyz answers 503 naming Redis when it is unreachable', async () => {
    const port = await closedPort();
    const v = await fx.variant({ redisUrl: `redis://127.0.0.1:${port}` });
    const started = Date.now();
    const res = await v.app.inject({ method: 'GET', url: '/readyz' });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(res.statusCode).toBe(503);
    const body = res.json();
    expect(body.status).toBe('unavailable');
    expect(body.failed).toEqual(['redis']);
    expect(body.checks.postgres).toBe('ok');
    expect(body.checks.redis).not.toBe('ok');
    expect(body.message).toMatch(/redis/);
  });
});
