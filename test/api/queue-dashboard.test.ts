// The bull-board dashboard at /admin/queues: behind the admin token, opened in a browser with
// ?token= once (cookie, redirect without the token), showing the extract and merge queues.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, apiFixture, type ApiFixture } from './api-fixture.ts';

let fx: ApiFixture;
beforeAll(async () => { fx = await apiFixture('board'); });
afterAll(async () => { await fx?.close(); });

describe('queue dashboard', () => {
  it('refuses the page, its API and its assets without the token', async () => {
    for (const url of ['/admin/queues', '/admin/queues/', '/admin/queues/api/queues', '/admin/queues/static/favicon-32x32.png']) {
      const res = await fx.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(401);
    }
    const res = await fx.app.inject({ method: 'GET', url: '/admin/queues', headers: { cookie: 'magistral_admin=forged' } });
    expect(res.statusCode).toBe(401);
  });

  it('serves the page with the bearer token', async () => {
    const res = await fx.app.inject({ method: 'GET', url: '/admin/queues', headers: fx.auth });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.body).toContain('Magistral queues');
  });

  it('takes ?token= once: sets an httpOnly cookie and redirects without the token', async () => {
    const res = await fx.app.inject({ method: 'GET', url: `/admin/queues?token=${ADMIN_TOKEN}&x=1` });
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toBe('/admin/queues?x=1');
    const setCookie = String(res.headers['set-cookie']);
    expect(setCookie).toMatch(/^magistral_admin=[^;]+; Path=\/admin\/queues; HttpOnly; SameSite=Strict/);
    expect(setCookie).not.toContain(ADMIN_TOKEN);
    const cookie = setCookie.split(';')[0]!;

    const page = await fx.app.inject({ method: 'GET', url: '/admin/queues', headers: { cookie } });
    expect(page.statusCode).toBe(200);
    const api = await fx.app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: { cookie } });
    expect(api.statusCode).toBe(200);
    const names = api.json().queues.map((q: { name: string }) => q.name).sort();
    expect(names).toEqual(['acts', 'extract', 'merge', 'outbound']);
    // The cookie opens the dashboard only, not the admin API.
    expect((await fx.app.inject({ method: 'GET', url: '/admin/api/flows', headers: { cookie } })).statusCode).toBe(401);
  });

  it('refuses a wrong ?token=', async () => {
    const res = await fx.app.inject({ method: 'GET', url: '/admin/queues?token=not-the-token-at-all' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['set-cookie']).toBeUndefined();
  });
});
