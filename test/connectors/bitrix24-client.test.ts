// The Bitrix24 REST client on the wire (nock, shapes from ../shared/samples/bitrix24 and Bitrix24's
// REST docs): calls and batches, per-command errors inside a batch, limit answers waited out and the
// same request sent again, refused credentials named by the remote's code, OAuth refresh with the
// rotated refresh token persisted before use, and the client's pacing against the in-process server's
// bucket (2 requests/s, burst 50, real time).
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Bitrix24Error, createBitrix24Client } from '../../connectors/crm/bitrix24/client.ts';
import { LeakyBucket } from '../../connectors/crm/bitrix24/pacing.ts';
import { decodeParams, encodeParams, batchCommand } from '../../connectors/crm/bitrix24/params.ts';
import { memoryTokenStore } from '../../connectors/crm/bitrix24/token-store.ts';
import { requisiteProblem } from '../../src/portal/requisites.ts';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Bitrix24Server, makeInn } from './lib/bitrix24-server.ts';

const PORTAL = 'https://b24.test';
const SECRET = 'x7k2abc9def0ghij';
const HOOK = `${PORTAL}/rest/1/${SECRET}/`;
const readSample = (name: string): Promise<string> => readFile(path.resolve(import.meta.dirname, '../fixtures', name), 'utf8');
const fast = { retryDelayMs: 1, bucket: { rate: 1000, burst: 1000 } };

type Body = Record<string, unknown>;
const form = (b: string): Body => decodeParams(b);

beforeAll(() => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterEach(() => {
  nock.cleanAll();
});
afterAll(() => {
  nock.enableNetConnect();
});

describe('parameters', () => {
  it('encodes PHP-style keys and decodes them back', () => {
    const p = { filter: { '>DATE_MODIFY': '2026-01-01T00:00:00+03:00', '@ID': [1, 2] }, select: ['ID', 'TITLE'], order: { ID: 'ASC' }, start: 50 };
    const text = encodeParams(p);
    expect(text).toContain('filter%5B%3EDATE_MODIFY%5D=2026-01-01T00%3A00%3A00%2B03%3A00');
    expect(decodeParams(text)).toEqual({
      filter: { '>DATE_MODIFY': '2026-01-01T00:00:00+03:00', '@ID': { 0: '1', 1: '2' } }, select: { 0: 'ID', 1: 'TITLE' }, order: { ID: 'ASC' }, start: '50',
    });
    // Inside a batch a command is `method?query`, and the batch's own form encodes it once more.
    const cmd = batchCommand('crm.company.list', { start: 100 });
    expect(decodeParams(encodeParams({ cmd: { a: cmd } }))).toEqual({ cmd: { a: 'crm.company.list?start=100' } });
  });
});

describe('test data', () => {
  it('the in-process portal makes INNs that pass the canonical checksum', () => {
    for (const n of [1, 7919, 123456789, 987654321]) expect(requisiteProblem('inn', makeInn(n))).toBeNull();
  });
});

describe('webhook calls', () => {
  it('posts a form to <webhook><method>.json and answers result, next and total', async () => {
    const sample = JSON.parse(await readSample('bitrix24/crm.company.list.response.json')) as Body;
    let seen: Body | undefined;
    nock(PORTAL).post(`/rest/1/${SECRET}/crm.company.list.json`, (b: string) => {
      seen = form(b);
      return true;
    }).reply(200, { ...sample, next: 50, total: 120 });
    const c = createBitrix24Client({ webhookUrl: HOOK, ...fast });
    const r = await c.call('crm.company.list', { filter: { '>DATE_MODIFY': '2026-01-01T00:00:00+03:00' }, start: 0 });
    expect(r.next).toBe(50);
    expect(r.total).toBe(120);
    expect((r.result as Body[])[0]).toMatchObject({ ID: '2919', TITLE: 'Crossroads', ASSIGNED_BY_ID: '811' });
    expect(seen).toEqual({ filter: { '>DATE_MODIFY': '2026-01-01T00:00:00+03:00' }, start: '0' });
  });

  it('batch: halt=0, commands as method?query, a failing command returned in errors while the others answer', async () => {
    let seen: Body | undefined;
    nock(PORTAL).post(`/rest/1/${SECRET}/batch.json`, (b: string) => {
      seen = form(b);
      return true;
    }).reply(200, {
      result: {
        result: { p0: [{ ID: '1' }], p1: [{ ID: '51' }] },
        result_error: { bad: { error: 'ERROR_CORE', error_description: 'Access denied.' } },
        result_total: { p0: 120, p1: 120 },
        result_next: { p0: 50, p1: 100 },
        result_time: [],
      },
      time: {},
    });
    const c = createBitrix24Client({ webhookUrl: HOOK, ...fast });
    const r = await c.batch({
      p0: { method: 'crm.company.list', params: { start: 0 } },
      p1: { method: 'crm.company.list', params: { start: 50 } },
      bad: { method: 'crm.requisite.list', params: { filter: { ENTITY_TYPE_ID: 4 } } },
    });
    expect(seen).toEqual({ halt: '0', cmd: { p0: 'crm.company.list?start=0', p1: 'crm.company.list?start=50', bad: 'crm.requisite.list?filter%5BENTITY_TYPE_ID%5D=4' } });
    expect(r.result).toEqual({ p0: [{ ID: '1' }], p1: [{ ID: '51' }] });
    expect(r.errors).toEqual({ bad: { error: 'ERROR_CORE', description: 'Access denied.' } });
    expect(r.next).toEqual({ p0: 50, p1: 100 });
    expect(r.total).toEqual({ p0: 120, p1: 120 });
  });

  it('reads the documented batch answer (empty maps written by PHP as lists)', async () => {
    const sample = await readSample('bitrix24/batch.response.json');
    nock(PORTAL).post(`/rest/1/${SECRET}/batch.json`).reply(200, sample, { 'content-type': 'application/json' });
    const c = createBitrix24Client({ webhookUrl: HOOK, ...fast });
    const r = await c.batch({ get_user: { method: 'user.current' }, get_department: { method: 'department.get', params: { ID: '$result[get_user][UF_DEPARTMENT]' } } });
    expect((r.result.get_user as Body).NAME).toBe('John');
    expect(r.errors).toEqual({});
    expect(r.next).toEqual({});
    expect(r.total).toEqual({ get_department: 1 });
  });

  it('refuses more than 50 commands in one batch', async () => {
    const c = createBitrix24Client({ webhookUrl: HOOK, ...fast });
    const cmds = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`c${i}`, { method: 'user.get' }]));
    await expect(c.batch(cmds)).rejects.toThrow(/at most 50 commands, not 51/);
  });

  it('503 QUERY_LIMIT_EXCEEDED, then OPERATION_TIME_LIMIT, then success: the same request is sent again', async () => {
    const bodies: string[] = [];
    nock(PORTAL).post(`/rest/1/${SECRET}/crm.contact.list.json`).times(3).reply(async (req: unknown) => {
      // One parameter: nock 15 hands the request as a fetch Request (two would mean a callback).
      bodies.push(await (req as Request).text());
      const n = bodies.length;
      if (n === 1) return [503, { error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' }];
      if (n === 2) return [503, { error: 'OPERATION_TIME_LIMIT', error_description: 'Method is blocked due to operation time limit.' }];
      return [200, { result: [{ ID: '7' }], total: 1 }];
    });
    const bucket = new LeakyBucket({ rate: 1000, burst: 1000 });
    const c = createBitrix24Client({ webhookUrl: HOOK, retryDelayMs: 1, bucket });
    const r = await c.call('crm.contact.list', { start: 150 });
    expect(r.result).toEqual([{ ID: '7' }]);
    expect(bodies).toEqual(['start=150', 'start=150', 'start=150']);
    expect(c.stats).toEqual({ requests: 3, limited: 2, retried: 2 });
  });

  it('a 503 storm fails after the retries, naming the limit and the pace, never the secret', async () => {
    nock(PORTAL).post(`/rest/1/${SECRET}/batch.json`).times(4).reply(503, { error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' });
    const c = createBitrix24Client({ webhookUrl: HOOK, retries: 3, ...fast });
    const e = await c.batch({ a: { method: 'crm.company.list' } }).catch((x: unknown) => x) as Bitrix24Error;
    expect(e).toBeInstanceOf(Bitrix24Error);
    expect(e.code).toBe('MAG_ERR_PULL_FAILED');
    expect(e.remoteCode).toBe('QUERY_LIMIT_EXCEEDED');
    expect(e.message).toMatch(/batch: QUERY_LIMIT_EXCEEDED — Too many requests \(HTTP 503\), still after 4 attempts \(paced at 1000 req\/s/);
    expect(e.message).not.toContain(SECRET);
    expect(nock.isDone()).toBe(true);
  });

  it('expired_token and INVALID_CREDENTIALS from a webhook: a PullError with the remote code, no retry, no secret', async () => {
    nock(PORTAL).post(`/rest/1/${SECRET}/crm.company.list.json`).reply(401, { error: 'expired_token', error_description: 'The access token provided has expired.' });
    const c = createBitrix24Client({ webhookUrl: HOOK, ...fast });
    const e = await c.call('crm.company.list').catch((x: unknown) => x) as Bitrix24Error;
    expect(e.code).toBe('MAG_ERR_PULL_AUTH');
    expect(e.remoteCode).toBe('expired_token');
    expect(e.status).toBe(401);
    expect(e.message).toBe('bitrix24 crm.company.list: Bitrix24 refused the incoming webhook: expired_token — The access token provided has expired. (HTTP 401)');
    nock(PORTAL).post(`/rest/1/${SECRET}/user.get.json`).reply(401, { error: 'INVALID_CREDENTIALS', error_description: `Invalid request credentials for ${SECRET}` });
    const e2 = await c.call('user.get').catch((x: unknown) => x) as Bitrix24Error;
    expect(e2.remoteCode).toBe('INVALID_CREDENTIALS');
    expect(e2.message).toContain('INVALID_CREDENTIALS — Invalid request credentials for ***');
    expect(c.stats.requests).toBe(2);
  });

  it('another error answer fails the call with the remote code and text', async () => {
    nock(PORTAL).post(`/rest/1/${SECRET}/crm.requisite.list.json`).reply(400, { error: 'ERROR_ARGUMENT', error_description: 'Parameter filter is invalid' });
    const c = createBitrix24Client({ webhookUrl: HOOK, ...fast });
    await expect(c.call('crm.requisite.list')).rejects.toMatchObject({ code: 'MAG_ERR_PULL_FAILED', remoteCode: 'ERROR_ARGUMENT', message: 'bitrix24 crm.requisite.list: ERROR_ARGUMENT — Parameter filter is invalid (HTTP 400)' });
  });
});

describe('OAuth application', () => {
  const oauth = (store = memoryTokenStore()) => ({
    restUrl: `${PORTAL}/rest/`, clientId: 'local.abc', clientSecret: 'app-s3cret-value', tokenUrl: 'https://oauth.test/oauth/token/', store, initialRefreshToken: 'refresh-1',
  });

  it('refreshes with the stored refresh token, persists the rotated one before using the access token, and refreshes again on expired_token', async () => {
    const store = memoryTokenStore();
    const persistedAtCall: Array<string | undefined> = [];
    const refreshSeen: string[] = [];
    nock('https://oauth.test').get('/oauth/token/').query((q) => {
      refreshSeen.push(`${String(q.grant_type)}:${String(q.client_id)}:${String(q.client_secret)}:${String(q.refresh_token)}`);
      return true;
    }).times(2).reply(() => {
      const n = refreshSeen.length;
      return [200, { access_token: `access-${n}`, refresh_token: `refresh-${n + 1}`, expires_in: 3600, client_endpoint: `${PORTAL}/rest/` }];
    });
    const auths: string[] = [];
    nock(PORTAL).post('/rest/crm.company.list.json').times(3).reply(async (req: unknown) => {
      auths.push(String(form(await (req as Request).text()).auth));
      persistedAtCall.push(store.current()?.refreshToken);
      return auths.length === 2 ? [401, { error: 'expired_token', error_description: 'The access token provided has expired.' }] : [200, { result: [], total: 0 }];
    });
    const c = createBitrix24Client({ oauth: oauth(store), ...fast });
    await c.call('crm.company.list');
    await c.call('crm.company.list');
    expect(refreshSeen).toEqual(['refresh_token:local.abc:app-s3cret-value:refresh-1', 'refresh_token:local.abc:app-s3cret-value:refresh-2']);
    expect(auths).toEqual(['access-1', 'access-1', 'access-2']);
    expect(persistedAtCall).toEqual(['refresh-2', 'refresh-2', 'refresh-3']);
    expect(store.current()).toMatchObject({ refreshToken: 'refresh-3', accessToken: 'access-2', restUrl: `${PORTAL}/rest/` });
  });

  it('a refused refresh fails with the OAuth server\'s code, without the client secret or the token', async () => {
    nock('https://oauth.test').get('/oauth/token/').query(true).reply(400, { error: 'invalid_grant', error_description: 'Invalid grant refresh-1' });
    const c = createBitrix24Client({ oauth: oauth(), ...fast });
    const e = await c.call('user.get').catch((x: unknown) => x) as Bitrix24Error;
    expect(e.code).toBe('MAG_ERR_PULL_AUTH');
    expect(e.remoteCode).toBe('invalid_grant');
    expect(e.message).toBe('bitrix24: the OAuth server refused to refresh the token of application local.abc: invalid_grant — Invalid grant *** (HTTP 400)');
    expect(e.message).not.toContain('app-s3cret-value');
  });
});

describe('the client-side bucket (a clock of its own)', () => {
  it('lets the burst go at once, then one request per 1/rate; a full portal fills it; old requests in flight add headroom', async () => {
    let now = 0;
    const b = new LeakyBucket({ rate: 2, burst: 5 }, () => now);
    const settles: Array<() => void> = [];
    for (let i = 0; i < 4; i++) settles.push(await b.take());
    // 4 counted, one more fits only with a request of slack kept: the 5th waits half a second.
    expect(b.waitMs()).toBe(500);
    settles.forEach((s) => s());
    now += 500;
    expect(b.waitMs()).toBe(0);
    const s5 = await b.take();
    // A request 2 s in flight: the portal may count it that much later, so 4 more units of headroom (capped at burst / 2).
    now += 2000;
    expect(b.current).toBeCloseTo(0, 5);
    expect(b.waitMs()).toBe(0);
    s5();
    b.fill();
    expect(b.current).toBe(5);
    // Full, with the 2 s flight remembered: wait until the level is burst − min(rate × 2 s + 1, burst / 2) − 1 = 1.5.
    expect(b.waitMs()).toBe(1750);
  });
});

describe('pacing against the in-process portal (real time: 2 requests/s, burst 50)', () => {
  let server: Bitrix24Server;
  beforeAll(async () => {
    server = new Bitrix24Server();
    await server.start();
    server.seed(10, { contacts: 0, requisites: 0, managers: 1 });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('56 calls: the burst goes at once, the rest at 2 per second, no 503 from the portal', async () => {
    server.resetBucket();
    const c = createBitrix24Client({ webhookUrl: server.webhookUrl, retryDelayMs: 10 });
    const started = performance.now();
    await Promise.all(Array.from({ length: 56 }, () => c.call('crm.company.list', { select: ['ID'] })));
    const s = (performance.now() - started) / 1000;
    expect(server.stats.limited).toBe(0);
    expect(c.stats.limited).toBe(0);
    expect(c.stats.requests).toBe(56);
    // 50 at once, then 6 more at 2/s: about 3 s; well under what 56 calls at 2/s without a burst would take.
    expect(s).toBeGreaterThan(2.5);
    expect(s).toBeLessThan(6);
  });

  it('a portal bucket already full (another application): 503s are answered by pacing, every call completes', async () => {
    server.resetBucket();
    // Someone else spent the portal's burst: our client starts from an empty bucket of its own.
    const other = createBitrix24Client({ webhookUrl: server.webhookUrl, bucket: { rate: 1000, burst: 1000 }, retries: 0 });
    await Promise.all(Array.from({ length: 50 }, () => other.call('user.get')));
    const before = server.stats.limited;
    const c = createBitrix24Client({ webhookUrl: server.webhookUrl, retryDelayMs: 100 });
    for (let i = 0; i < 4; i++) await c.call('crm.company.list', { select: ['ID'] });
    expect(server.stats.limited - before).toBeGreaterThanOrEqual(1);
    expect(c.stats.limited).toBe(server.stats.limited - before);
    expect(c.stats.requests - c.stats.limited).toBe(4);
  });
});
