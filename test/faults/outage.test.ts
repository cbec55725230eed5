// PostgreSQL down for a while under `magistral start`: /readyz names it (503), the portal and admin
// APIs answer 503 MAG_ERR_UNAVAILABLE with Retry-After (not 500), the process lives, and everything
// answers again once the database is back. Redis down: /readyz names Redis instead.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/portal/keys.ts';
import type { TestPipeline } from '../helpers/pipeline.ts';
import { startPgCluster, type PgCluster } from '../helpers/pg-cluster.ts';
import { freePort, kill9, startRedis } from '../helpers/spawn.ts';
import { faultPipeline, report, startMagistral, type MagistralProcess } from './harness.ts';

const ADMIN_TOKEN = 'fault-suite-admin-token-0123456789';

describe('a dependency down under magistral start', () => {
  let pg: PgCluster;
  let redis: ChildProcess;
  let redisPort: number;
  let tp: TestPipeline;
  let mag: MagistralProcess;
  let key: string;

  beforeAll(async () => {
    pg = await startPgCluster();
    redisPort = await freePort();
    redis = await startRedis(redisPort);
    tp = await faultPipeline('outage', { pgBase: pg.base, redisUrl: `redis://127.0.0.1:${redisPort}` });
    key = (await createApiKey(tp.rt.db, { name: 'faults', scopes: ['catalog:read', 'prices:read'] })).key;
    mag = await startMagistral(tp, await freePort(), { MAGISTRAL_ADMIN_TOKEN: ADMIN_TOKEN });
  });

  afterAll(async () => {
    await mag?.stop();
    // A failed case may have left PostgreSQL stopped: start it so the test database can be dropped; the
    // cluster goes whatever happens.
    await pg?.start().catch(() => {});
    await tp?.close().catch((e: unknown) => console.error('fault suite clean-up:', e));
    await pg?.destroy();
    if (redis) await kill9(redis);
  });

  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`http://127.0.0.1:${mag.port}${path}`, { headers });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() as Record<string, unknown> };
  };
  // A portal read that needs the database (the key's lookup, then the catalog); its answer while all is
  // up is the baseline (a 4xx for a missing parameter is fine: it came from the database being there).
  const portal = () => get('/api/v1/catalog/products', { authorization: `Bearer ${key}` });
  let portalUp: number;
  const admin = () => get('/admin/api/runs', { authorization: `Bearer ${ADMIN_TOKEN}` });
  // The pages look the session cookie up in the database (a made-up one: up, it sends to the sign-in page).
  const page = async (path: string, cookie: string) => {
    const res = await fetch(`http://127.0.0.1:${mag.port}${path}`, { headers: { cookie }, redirect: 'manual' });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), text: await res.text() };
  };
  const cabinet = () => page('/cabinet/catalog', 'mg_cab=made-up-session');
  const manager = () => page('/manager', 'mg_mgr=made-up-session');

  it('PostgreSQL stopped: readyz names it, the APIs answer 503 with Retry-After; back: all answer as before', async () => {
    portalUp = (await portal()).status;
    expect(portalUp).toBeLessThan(500);
    const pagesUp = [(await cabinet()).status, (await manager()).status];
    expect(pagesUp.every((st) => st < 500), String(pagesUp)).toBe(true);
    expect((await admin()).status).toBe(200);

    await pg.stop('fast');
    const stoppedAt = Date.now();
    const ready = await get('/readyz');
    const p = await portal();
    const a = await admin();
    const cab = await cabinet();
    const mgr = await manager();
    report('postgres down (api)', {
      readyz: ready.status, checks: ready.body.checks, portal: p.status, portalRetryAfter: p.retryAfter, admin: a.status, adminRetryAfter: a.retryAfter,
      cabinet: cab.status, cabinetRetryAfter: cab.retryAfter, manager: mgr.status, managerRetryAfter: mgr.retryAfter,
    });
    expect(ready.status).toBe(503);
    expect(ready.body.failed).toEqual(['postgres']);
    expect((ready.body.checks as Record<string, string>).redis).toBe('ok');
    for (const r of [p, a]) {
      expect(r.status).toBe(503);
      expect(r.body.code).toBe('MAG_ERR_UNAVAILABLE');
      expect(Number(r.retryAfter)).toBeGreaterThan(0);
    }
    // The pages say it in Russian, with the same status and Retry-After.
    for (const r of [cab, mgr]) {
      expect(r.status).toBe(503);
      expect(Number(r.retryAfter)).toBeGreaterThan(0);
      expect(r.text).toMatch(/временно недоступен/);
    }

    await pg.start();
    // The pool reconnects on the next request: no restart of the process.
    let back = await portal();
    while (back.status !== portalUp && Date.now() - stoppedAt < 60_000) back = await portal();
    report('postgres back (api)', { portal: back.status, msAfterStop: Date.now() - stoppedAt });
    expect(back.status).toBe(portalUp);
    expect((await admin()).status).toBe(200);
    expect((await get('/readyz')).status).toBe(200);
    expect(mag.alive(), mag.stderr()).toBe(true);
  });

  it('Redis stopped: readyz names Redis; PostgreSQL reads go on; back: ready again', async () => {
    await kill9(redis);
    const ready = await get('/readyz');
    const p = await portal();
    report('redis down (api)', { readyz: ready.status, checks: ready.body.checks, portal: p.status });
    expect(ready.status).toBe(503);
    expect(ready.body.failed).toEqual(['redis']);
    expect(p.status).toBe(portalUp);
    redis = await startRedis(redisPort);
    let again = await get('/readyz');
    const end = Date.now() + 60_000;
    while (again.status !== 200 && Date.now() < end) again = await get('/readyz');
    expect(again.status).toBe(200);
    expect(mag.alive(), mag.stderr()).toBe(true);
  });
});
