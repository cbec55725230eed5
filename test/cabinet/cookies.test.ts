// The session cookie's attributes: HttpOnly and SameSite=Lax always, Secure when the cabinet's public
// address is https (production behind TLS), scoped to /cabinet; and a form posted with another
// session's CSRF token is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/index.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { migrate } from '../../src/db/index.ts';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';

let tp: TestPipeline;
let app: FastifyInstance;
beforeAll(async () => {
  tp = await createTestPipeline('cabcookie', { workers: false, env: { MAGISTRAL_PUBLIC_URL: 'https://portal.example.ru' } });
  await migrate(tp.rt.db, tp.rt.registry.migrationSets());
  app = await buildServer({ registry: tp.rt.registry, config: tp.config, db: tp.rt.db, pool: tp.rt.pool, queues: tp.rt.queues, log: pino({ level: 'silent' }), metrics: createMetrics(), mode: 'full' });
});
afterAll(async () => {
  await app?.close();
  await tp?.close();
});

const cookieOf = (setCookie: unknown): string => String(Array.isArray(setCookie) ? setCookie[0] : setCookie);

describe('cabinet session cookie', () => {
  it('is HttpOnly, SameSite=Lax, Secure behind an https public address, and scoped to /cabinet', async () => {
    const res = await app.inject({ method: 'GET', url: '/cabinet/login' });
    expect(res.statusCode).toBe(200);
    const c = cookieOf(res.headers['set-cookie']);
    expect(c).toMatch(/^mg_cab=[A-Za-z0-9_-]{43};/);
    expect(c).toMatch(/; HttpOnly/);
    expect(c).toMatch(/; SameSite=Lax/);
    expect(c).toMatch(/; Secure/);
    expect(c).toMatch(/; Path=\/cabinet/);
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it("refuses a form carrying another session's CSRF token", async () => {
    const a = await app.inject({ method: 'GET', url: '/cabinet/login' });
    const b = await app.inject({ method: 'GET', url: '/cabinet/login' });
    const tokenA = /name="_csrf" value="([^"]+)"/.exec(a.body)![1]!;
    const cookieB = cookieOf(b.headers['set-cookie']).split(';')[0]!;
    const res = await app.inject({
      method: 'POST', url: '/cabinet/reset', headers: { cookie: cookieB, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ _csrf: tokenA, email: 'x@example.org' }).toString(),
    });
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('Форма устарела');
    expect(await tp.rt.db.selectFrom('email_outbox').select('id').execute()).toEqual([]);
  });

  it('answers an unknown cabinet page with a Russian 404 page, not JSON', async () => {
    const res = await app.inject({ method: 'GET', url: '/cabinet/no-such-page' });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.body).toContain('Страница не найдена');
  });
});
