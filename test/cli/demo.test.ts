// `magistral demo` (the README's first command loads it): the demo data set goes through the real
// flows, the printed key works, and an anonymous visitor is served the default city's catalog.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/index.ts';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { readSeller } from '../../src/backoffice/seller.ts';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { injectConsoleSignIn } from '../helpers/console.ts';

const run = promisify(execFile);

describe('magistral demo', () => {
  let tp: TestPipeline;
  let app: FastifyInstance;
  let out = '';
  beforeAll(async () => {
    tp = await createTestPipeline('demo', { workers: false });
    ({ stdout: out } = await run(process.execPath, [path.join(REPO_DIR, 'bin/magistral.js'), 'demo'], {
      cwd: REPO_DIR, env: { ...process.env, ...tp.env, LOG_LEVEL: 'silent' }, maxBuffer: 16 << 20,
    }));
    app = await buildServer({ ...tp.rt, mode: 'full' });
  }, 300_000);
  afterAll(async () => {
    await app?.close();
    await tp?.close();
  });

  it('loads every demo file, prints a working key, and serves anonymous visitors the default city', async () => {
    expect(out).not.toMatch(/: (failed|held|rejected)\b/);
    const key = /portal API key \(demo, all scopes\): (mgk_\S+)/.exec(out)?.[1];
    expect(key).toBeDefined();
    const setting = await tp.rt.pool.query(`SELECT value FROM portal_settings WHERE key = 'default_city'`);
    expect(setting.rows).toEqual([{ value: 'msk' }]);
    // Invoices of confirmed demo orders are made: the demo's seller requisites are complete.
    expect(await readSeller(tp.rt.db)).toMatchObject({ ok: true, seller: { inn: '7701000013', vatPercent: '22' } });
    // No client, no city: what a shop's visitor typing in the search box gets.
    const res = await app.inject({ method: 'GET', url: `/api/v1/search/suggest?q=${encodeURIComponent('розетк')}`, headers: { authorization: `Bearer ${key}` } });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { products: Array<{ sku: string; price: string | null }> };
    expect(body.products.length).toBeGreaterThan(0);
    expect(body.products.every((p) => p.price !== null)).toBe(true);
    // The printed cabinet login signs in (the login form's POST, as a browser sends it).
    const login = /cabinet: \S+\/cabinet  sign in as (\S+) .* password (\S+)/.exec(out);
    expect(login).not.toBeNull();
    const first = await app.inject({ method: 'GET', url: '/cabinet/login' });
    const csrf = /name="_csrf" value="([^"]+)"/.exec(first.body)?.[1];
    const cookie = String(first.headers['set-cookie']).split(';')[0]!;
    const signIn = await app.inject({
      method: 'POST', url: '/cabinet/login', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ _csrf: csrf!, email: login![1]!, password: login![2]! }).toString(),
    });
    expect(signIn.statusCode).toBe(303);
    expect(signIn.headers.location).toBe('/cabinet');
    // The printed console login signs in too, with every right (admin).
    const consoleLogin = /console: \S+\/console  sign in as (\S+) \(admin\)  password (\S+)/.exec(out);
    expect(consoleLogin).not.toBeNull();
    const consoleSession = await injectConsoleSignIn(app, { name: consoleLogin![1]!, password: consoleLogin![2]! });
    expect((await app.inject({ method: 'GET', url: '/console/flows', headers: { cookie: consoleSession.cookie } })).body).toContain('администратор');
    // An operator's own choice survives the next demo load.
    await tp.rt.pool.query(`UPDATE portal_settings SET value = 'spb' WHERE key = 'default_city'`);
    await run(process.execPath, [path.join(REPO_DIR, 'bin/magistral.js'), 'demo'], { cwd: REPO_DIR, env: { ...process.env, ...tp.env, LOG_LEVEL: 'silent' }, maxBuffer: 16 << 20 });
    expect((await tp.rt.pool.query(`SELECT value FROM portal_settings WHERE key = 'default_city'`)).rows).toEqual([{ value: 'spb' }]);
  }, 300_000);
});
