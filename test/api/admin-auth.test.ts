// The admin surface: bearer token required and compared exactly, a clear 401 when the token is
// unset, workers-only servers without admin routes, and no token ever written to the log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, apiFixture, type ApiFixture } from './api-fixture.ts';
import { maskQuery } from '../../src/api/request-logging.ts';

let fx: ApiFixture;
beforeAll(async () => { fx = await apiFixture('auth'); });
afterAll(async () => { await fx?.close(); });

describe('admin auth', () => {
  it('refuses a request without a token', async () => {
    const res = await fx.app.inject({ method: 'GET', url: '/admin/api/flows' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(res.json()).toMatchObject({ code: 'MAG_ERR_UNAUTHORIZED' });
  });

  it('refuses a wrong token, a prefix of the token and a non-bearer scheme', async () => {
    for (const authorization of ['Bearer wrong-token-wrong-token', `Bearer ${ADMIN_TOKEN.slice(0, -1)}`, `Basic ${ADMIN_TOKEN}`, `Bearer ${ADMIN_TOKEN}x`]) {
      const res = await fx.app.inject({ method: 'GET', url: '/admin/api/flows', headers: { authorization } });
      expect(res.statusCode, authorization).toBe(401);
      expect(res.json().code).toBe('MAG_ERR_UNAUTHORIZED');
    }
  });

  it('accepts the right token', async () => {
    const res = await fx.app.inject({ method: 'GET', url: '/admin/api/flows', headers: fx.auth });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ flows: [] });
  });

  it('does not take the dashboard ?token= query on the admin API', async () => {
    const res = await fx.app.inject({ method: 'GET', url: `/admin/api/flows?token=${ADMIN_TOKEN}` });
    expect(res.statusCode).toBe(401);
  });

  it('refuses every admin request when MAGISTRAL_ADMIN_TOKEN is unset, saying so', async () => {
    const v = await fx.variant({ token: null });
    for (const [url, headers] of [['/admin/api/flows', {}], ['/admin/api/flows', { authorization: 'Bearer anything-at-all-here' }], ['/admin/queues', {}]] as const) {
      const res = await v.app.inject({ method: 'GET', url, headers });
      expect(res.statusCode).toBe(401);
      expect(res.json().message).toMatch(/MAGISTRAL_ADMIN_TOKEN is unset/);
    }
    expect((await v.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('mounts only health and metrics in workers-only mode', async () => {
    const v = await fx.variant({ mode: 'workers-only' });
    expect((await v.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await v.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
    expect((await v.app.inject({ method: 'GET', url: '/admin/api/flows', headers: fx.auth })).statusCode).toBe(404);
    expect((await v.app.inject({ method: 'GET', url: '/admin/queues', headers: fx.auth })).statusCode).toBe(404);
  });

  it('never writes the token to the log, whichever way it was sent', async () => {
    const cookie = (await fx.app.inject({ method: 'GET', url: `/admin/queues?token=${ADMIN_TOKEN}` })).headers['set-cookie'];
    await fx.app.inject({ method: 'GET', url: `/admin/queues?token=${ADMIN_TOKEN}x` });
    await fx.app.inject({ method: 'GET', url: '/admin/api/flows', headers: fx.auth });
    await fx.app.inject({ method: 'GET', url: '/admin/api/flows', headers: { authorization: `Bearer ${ADMIN_TOKEN}x` } });
    await fx.app.inject({ method: 'GET', url: `/admin/api/flows?token=${ADMIN_TOKEN}` });
    await fx.app.inject({ method: 'GET', url: '/admin/queues', headers: { cookie: String(cookie).split(';')[0]! } });
    await fx.app.inject({ method: 'POST', url: '/admin/api/flows', headers: { ...fx.auth, 'content-type': 'application/json' }, payload: '{"broken' });
    const text = fx.logs.text();
    expect(fx.logs.lines.length).toBeGreaterThan(10);
    expect(text).toContain('"reqId"');
    expect(text).toContain('token=[redacted]');
    expect(text).not.toContain(ADMIN_TOKEN);
    expect(text).not.toContain(ADMIN_TOKEN.slice(0, 20));
  });

  it('masks the 1C exchange session id (sessid) in logged URLs, keeping the rest of the query', () => {
    expect(maskQuery('/exchange/onec/default?type=catalog&mode=file&sessid=3f9a1c&filename=import.xml'))
      .toBe('/exchange/onec/default?type=catalog&mode=file&sessid=[redacted]&filename=import.xml');
  });
});
