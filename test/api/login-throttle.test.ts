// Failed logins throttled per source (issue 17: 100 wrong 1C passwords in 7 s were all answered, the admin
// token had no throttling): after 5 failures from an address, its next attempts are answered 429 with
// Retry-After without being checked, a correct credential from another address still works, and the
// failures show in /metrics. Every surface that checks a secret: admin token, portal keys, 1C checkauth,
// SAP IDoc Basic auth, Bitrix24 application token.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import iconv from 'iconv-lite';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/api/index.ts';
import { applyFlows, parseFlowFile } from '../../src/pipeline/flows.ts';
import { createApiKey, KNOWN_SCOPES, revokeApiKey } from '../../src/portal/keys.ts';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { LoginThrottle } from '../../src/security/login-throttle.ts';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { registry } from '../helpers/registry.ts';

const ADMIN_TOKEN = 'throttle-test-admin-token-0123';
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('LoginThrottle', () => {
  it('lets 5 failures through, then locks the source for a doubling delay up to the ceiling', () => {
    let now = 1_000_000;
    const t = new LoginThrottle({ now: () => now, maxDelayMs: 60_000 });
    for (let i = 0; i < 4; i++) t.failed('admin', 'a');
    expect(t.retryAfterSeconds('admin', 'a')).toBe(0);
    t.failed('admin', 'a');
    expect(t.retryAfterSeconds('admin', 'a')).toBe(1);
    // Another address and another surface are not affected.
    expect(t.retryAfterSeconds('admin', 'b')).toBe(0);
    expect(t.retryAfterSeconds('onec', 'a')).toBe(0);
    now += 1000;
    t.failed('admin', 'a');
    expect(t.retryAfterSeconds('admin', 'a')).toBe(2);
    now += 2000;
    t.failed('admin', 'a');
    expect(t.retryAfterSeconds('admin', 'a')).toBe(4);
    for (let i = 0; i < 20; i++) t.failed('admin', 'a');
    expect(t.retryAfterSeconds('admin', 'a')).toBe(60);
  });

  it('forgets a source after a success or 15 quiet minutes', () => {
    let now = 0;
    const t = new LoginThrottle({ now: () => now });
    for (let i = 0; i < 4; i++) t.failed('portal', 'a');
    t.succeeded('portal', 'a');
    t.failed('portal', 'a');
    expect(t.retryAfterSeconds('portal', 'a')).toBe(0);
    for (let i = 0; i < 4; i++) t.failed('portal', 'a');
    expect(t.retryAfterSeconds('portal', 'a')).toBe(1);
    now += 15 * 60_000 + 1;
    t.failed('portal', 'a');
    expect(t.retryAfterSeconds('portal', 'a')).toBe(0);
  });

  it('remembers at most maxSources addresses, dropping the oldest failure first', () => {
    const t = new LoginThrottle({ maxSources: 3, freeFailures: 1, baseDelayMs: 60_000 });
    for (const ip of ['a', 'b', 'c', 'd']) t.failed('admin', ip);
    expect(t.retryAfterSeconds('admin', 'a')).toBe(0);
    expect(t.retryAfterSeconds('admin', 'd')).toBe(60);
  });
});

describe('failed logins against a server', () => {
  let tp: TestPipeline;
  let app: FastifyInstance;
  let key: string;
  const saved = { ...process.env };

  beforeAll(async () => {
    Object.assign(process.env, {
      ONEC_USER: 'site', ONEC_PASSWORD: 'onec-right-password', SAP_IDOC_USER: 'sap', SAP_IDOC_PASSWORD: 'sap-right-password',
      BITRIX24_APP_TOKEN: 'bitrix-right-token', BITRIX24_WEBHOOK_URL: 'https://example.bitrix24.ru/rest/1/abc/',
    });
    tp = await createTestPipeline('throttle', { workers: false, env: { MAGISTRAL_ADMIN_TOKEN: ADMIN_TOKEN } });
    for (const f of ['onec.yaml', 'sap-idoc.yaml', 'bitrix24-events.yaml']) {
      await applyFlows(tp.rt.db, await parseFlowFile(readFileSync(path.join(REPO_DIR, 'ops/flows', f), 'utf8'), f, registry));
    }
    key = (await createApiKey(tp.rt.db, { name: 'throttle', scopes: [...KNOWN_SCOPES] })).key;
    // A lock of a minute: the 6th attempt is refused however slowly the test runs.
    app = await buildServer({ ...tp.rt, mode: 'full', logins: new LoginThrottle({ registry: tp.rt.metrics.registry, baseDelayMs: 60_000 }) });
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await tp?.close();
    for (const k of ['ONEC_USER', 'ONEC_PASSWORD', 'SAP_IDOC_USER', 'SAP_IDOC_PASSWORD', 'BITRIX24_APP_TOKEN', 'BITRIX24_WEBHOOK_URL']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  it('1C checkauth: of 100 wrong passwords 5 are checked, 95 refused with 429; the right one from elsewhere works', async () => {
    const statuses: number[] = [];
    let retryAfter: string | undefined;
    let body = '';
    for (let i = 0; i < 100; i++) {
      const r = await app.inject({ url: '/exchange/onec/default?type=catalog&mode=checkauth', remoteAddress: '10.0.1.1', headers: { authorization: basic('site', `guess-${i}`) } });
      statuses.push(r.statusCode);
      if (r.statusCode === 429) {
        retryAfter = r.headers['retry-after'] as string;
        body = iconv.decode(r.rawPayload, 'win1251');
      }
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(95);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    expect(body).toMatch(/^failure\nToo many failed logins from this address: retry after \d+ s/);
    // The right password from the locked address is not even checked; from another address it works.
    const locked = await app.inject({ url: '/exchange/onec/default?type=catalog&mode=checkauth', remoteAddress: '10.0.1.1', headers: { authorization: basic('site', 'onec-right-password') } });
    expect(locked.statusCode).toBe(429);
    const other = await app.inject({ url: '/exchange/onec/default?type=catalog&mode=checkauth', remoteAddress: '10.0.1.2', headers: { authorization: basic('site', 'onec-right-password') } });
    expect(iconv.decode(other.rawPayload, 'win1251').split('\n')[0]).toBe('success');
  });

  it('admin token: 429 with Retry-After after 5 wrong tokens; the right token from another address works', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await app.inject({ url: '/admin/api/runs', remoteAddress: '10.0.2.1', headers: { authorization: `Bearer wrong-token-${i}-xxxxxxxx` } });
      statuses.push(r.statusCode);
      if (i === 5) {
        expect(r.headers['retry-after']).toBe('60');
        expect(r.json()).toMatchObject({ code: 'MAG_ERR_TOO_MANY_FAILURES' });
      }
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    expect((await app.inject({ url: '/admin/api/runs', remoteAddress: '10.0.2.1', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).statusCode).toBe(429);
    expect((await app.inject({ url: '/admin/api/runs', remoteAddress: '10.0.2.2', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).statusCode).toBe(200);
  });

  it('portal API keys: 429 after 5 unknown keys; a valid key from another address works', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push((await app.inject({ url: '/api/v1/me', remoteAddress: '10.0.3.1', headers: { authorization: `Bearer mgk_guess${i}` } })).statusCode);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    // A revoked key (a frontend not yet given its new one) is no guess: its address is never locked.
    const old = await createApiKey(tp.rt.db, { name: 'rotated', scopes: [...KNOWN_SCOPES] });
    await revokeApiKey(tp.rt.db, old.id);
    const revoked: number[] = [];
    for (let i = 0; i < 8; i++) revoked.push((await app.inject({ url: '/api/v1/order-statuses', remoteAddress: '10.0.3.3', headers: { authorization: `Bearer ${old.key}` } })).statusCode);
    expect(revoked).toEqual(Array(8).fill(401));
    expect((await app.inject({ url: '/api/v1/order-statuses', remoteAddress: '10.0.3.2', headers: { authorization: `Bearer ${key}` } })).statusCode).toBe(200);
  });

  it('SAP IDoc and Bitrix24 events: 429 after 5 wrong secrets; the right one from another address passes', async () => {
    const sap: number[] = [];
    for (let i = 0; i < 6; i++) {
      sap.push((await app.inject({ url: '/exchange/sap/idoc/erp', remoteAddress: '10.0.4.1', headers: { authorization: basic('sap', `guess-${i}`) } })).statusCode);
    }
    expect(sap).toEqual([401, 401, 401, 401, 401, 429]);
    expect((await app.inject({ url: '/exchange/sap/idoc/erp', remoteAddress: '10.0.4.2', headers: { authorization: basic('sap', 'sap-right-password') } })).statusCode).toBe(200);

    const event = (token: string): string => new URLSearchParams({ event: 'ONCRMCOMPANYUPDATE', 'data[FIELDS][ID]': '7', ts: '1700000000', 'auth[domain]': 'example.bitrix24.ru', 'auth[application_token]': token }).toString();
    const bitrix: number[] = [];
    for (let i = 0; i < 6; i++) {
      bitrix.push((await app.inject({
        method: 'POST', url: '/exchange/webhooks/bitrix24-event-companies', remoteAddress: '10.0.5.1',
        headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: event(`guess-${i}`),
      })).statusCode);
    }
    expect(bitrix).toEqual([401, 401, 401, 401, 401, 429]);
    // The right token passes the check (an event without its fields then: 400, nothing stored, nothing fetched).
    const right = await app.inject({
      method: 'POST', url: '/exchange/webhooks/bitrix24-event-companies', remoteAddress: '10.0.5.2',
      headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ 'auth[application_token]': 'bitrix-right-token' }).toString(),
    });
    expect(right.statusCode, right.body).toBe(400);
  });

  it('counts the cabinet\'s failed sign-ins (throttled in PostgreSQL by the cabinet itself)', async () => {
    const page = await app.inject({ method: 'GET', url: '/cabinet/login' });
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1];
    const cookie = String(page.headers['set-cookie']).split(';')[0]!;
    const r = await app.inject({
      method: 'POST', url: '/cabinet/login', remoteAddress: '10.0.6.1', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ _csrf: csrf!, email: 'nobody@example.com', password: 'wrong-password-1' }).toString(),
    });
    expect(r.statusCode).toBe(401);
  });

  it('counts failures and refusals by surface in /metrics', async () => {
    const text = (await app.inject({ url: '/metrics' })).body;
    const value = (name: string, surface: string): number => Number(new RegExp(`^${name}\\{surface="${surface}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    expect(value('magistral_login_failures_total', 'onec')).toBe(5);
    expect(value('magistral_login_throttled_total', 'onec')).toBe(96);
    for (const s of ['admin', 'portal', 'sap', 'bitrix24']) expect(value('magistral_login_failures_total', s)).toBe(5);
    expect(value('magistral_login_failures_total', 'cabinet')).toBe(1);
  });
});
