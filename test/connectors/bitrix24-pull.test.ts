// The bitrix24.rest connector pulling through the real pipeline (real PostgreSQL and Redis): against
// Bitrix24's documented answer shapes on the wire (nock: pages of crm.company.list inside a batch, a
// failing command, 503 then success, a revoked webhook, a 503 storm) and against the in-process
// Bitrix24-like portal with its leaky bucket (test/connectors/lib/bitrix24-server.ts): every entity
// into the store, a bad INN rejected while its company lands, incremental pulls, deletions found by
// the full key scan, and 10,000 companies with no page lost.
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { pullFlow, settlePull, type PullOutcome } from '../../src/pipeline/poll.ts';
import { listRejects, waitForRun, type RunView } from '../../src/pipeline/runs.ts';
import { listMappingFiles, loadMapping, runMappingTests } from '../../src/mapping/index.ts';
import { dryRun } from '../../src/pipeline/dry-run.ts';
import { registry } from '../helpers/registry.ts';
import { clearBuckets, decodeParams, decodeKeys, encodeKeys } from '../../connectors/crm/bitrix24/index.ts';
import { b24Date, Bitrix24Server } from './lib/bitrix24-server.ts';

const PORTAL = 'https://b24.test';
const SECRET = 'x7k2abc9def0ghij';
const NOCK_ENV = { B24_URL: `${PORTAL}/rest/1/${SECRET}/` };

let tp: TestPipeline;
let server: Bitrix24Server;
let env: Record<string, string>;

const TARGETS: Record<string, [string, string, string]> = {
  managers: ['managers', 'crm/bitrix24-managers.yaml', 'delta'],
  companies: ['clients', 'crm/bitrix24-companies.yaml', 'delta'],
  requisites: ['legalEntities', 'crm/bitrix24-requisites.yaml', 'delta'],
  contacts: ['contacts', 'crm/bitrix24-contacts.yaml', 'delta'],
  contactLinks: ['contactLegalEntities', 'crm/bitrix24-contact-links.yaml', 'snapshot'],
};

function flowYaml(name: string, entity: string, options: Record<string, unknown> = {}): string {
  const [target, mapping, mode] = TARGETS[entity]!;
  return `apiVersion: magistral/v1
kind: Flow
name: ${name}
source:
  connector: bitrix24.rest
  system: bitrix24
  options: ${JSON.stringify({ entity, webhookUrlEnv: 'B24_URL', retryDelayMs: 5, ...options })}
mapping: ${mapping}
target: ${target}
mode: ${mode}
autoCreate: ${entity === 'contactLinks' ? 'false' : 'true'}
retry: { attempts: 1, backoff: fixed, delayMs: 10 }
`;
}

async function pull(name: string, e: Record<string, string> = env): Promise<PullOutcome> {
  return pullFlow(tp.rt, name, { env: e });
}

async function pullAndWait(name: string, e: Record<string, string> = env): Promise<{ outcome: Extract<PullOutcome, { outcome: 'received' }>; run: RunView }> {
  const outcome = await pull(name, e);
  expect(outcome, JSON.stringify(outcome)).toMatchObject({ outcome: 'received' });
  const o = outcome as Extract<PullOutcome, { outcome: 'received' }>;
  const run = await waitForRun(tp.rt.db, o.runId, { timeoutMs: 120_000, intervalMs: 50 });
  await settlePull(tp.rt.db, o.flowId);
  return { outcome: o, run };
}

async function count(table: string, where = 'true'): Promise<number> {
  const r = await tp.rt.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE ${where}`);
  return Number(r.rows[0]!.n);
}

async function cursorOf(flow: string): Promise<unknown> {
  const r = await tp.rt.pool.query<{ cursor: unknown }>('SELECT s.cursor FROM poll_state s JOIN flows f ON f.id = s.flow_id WHERE f.name = $1', [flow]);
  return r.rows[0]?.cursor ?? null;
}

beforeAll(async () => {
  tp = await createTestPipeline('b24pull');
  await tp.startWorkers();
  nock.disableNetConnect();
  nock.enableNetConnect((host) => /^(127\.0\.0\.1|localhost)(:\d+)?$/.test(host));
  server = new Bitrix24Server();
  await server.start();
  env = { B24_URL: server.webhookUrl };
});

afterEach(() => {
  nock.cleanAll();
});

afterAll(async () => {
  nock.enableNetConnect();
  await server?.stop();
  await tp?.close();
});

describe('mappings and helpers', () => {
  it('every mapping in mappings/crm passes its own test cases', async () => {
    const refs = (await listMappingFiles(undefined, 'crm')).filter((r) => r.startsWith('crm/bitrix24-'));
    expect(refs.length).toBeGreaterThanOrEqual(5);
    for (const ref of refs) expect((await runMappingTests(await loadMapping(ref), ref)).filter((r) => !r.ok)).toEqual([]);
  });

  it('key sets survive the cursor as ranges', () => {
    const ids = ['1', '2', '3', '5', '7', '8', '100'];
    expect(encodeKeys(ids)).toBe('1-3,5,7-8,100');
    expect([...decodeKeys(encodeKeys(ids))].sort()).toEqual([...ids].sort());
    expect(encodeKeys([])).toBe('');
  });

  it('the example flows apply, and a flow with two ways to authenticate is refused', async () => {
    const { readFile } = await import('node:fs/promises');
    const text = await readFile(new URL('../../ops/flows/bitrix24-counterparties.yaml', import.meta.url), 'utf8');
    await tp.applyFlowYaml(text.replace(/^schedule:.*\n/gm, ''));
    await expect(tp.applyFlowYaml(flowYaml('b24-bad', 'companies', { portal: PORTAL }))).rejects.toThrow(/options/);
  });
});

// ---- the documented wire shapes (nock) ----------------------------------------------------------

/** A company as crm.company.list answers it (../shared/samples/bitrix24/crm.company.list.response.json). */
function company(id: number): Record<string, unknown> {
  return {
    ID: String(id), TITLE: `Crossroads ${id}`, ASSIGNED_BY_ID: '811', COMPANY_TYPE: 'CUSTOMER', DATE_MODIFY: b24Date(Date.parse('2026-03-01T00:00:00Z') + id * 1000),
    PHONE: [{ ID: '8303', VALUE_TYPE: 'WORK', VALUE: '+19998887766', TYPE_ID: 'PHONE' }],
  };
}

/** A batch of crm.company.list pages over `rows`, answered as Bitrix24 does (result_total, result_next). */
function companyBatch(rows: Array<Record<string, unknown>>, fail?: { cmd: string; error: string; description: string }) {
  return async (req: unknown): Promise<[number, string, Record<string, string>]> => {
    const p = decodeParams(await (req as Request).text());
    const cmd = p.cmd as Record<string, string>;
    const result: Record<string, unknown> = {};
    const total: Record<string, number> = {};
    const next: Record<string, number> = {};
    const errors: Record<string, unknown> = {};
    for (const [name, text] of Object.entries(cmd)) {
      if (fail && name === fail.cmd) {
        errors[name] = { error: fail.error, error_description: fail.description };
        continue;
      }
      const q = decodeParams(text.slice(text.indexOf('?') + 1));
      const since = (q.filter as Record<string, string> | undefined)?.['>=DATE_MODIFY'];
      const list = since ? rows.filter((r) => Date.parse(String(r.DATE_MODIFY)) >= Date.parse(since)) : rows;
      const start = Number(q.start);
      result[name] = list.slice(start, start + 50);
      total[name] = list.length;
      if (start + 50 < list.length) next[name] = start + 50;
    }
    const body = { result: { result, result_error: Object.keys(errors).length ? errors : [], result_total: total, result_next: next, result_time: [] }, time: { start: 0, finish: 0 } };
    return [200, JSON.stringify(body), { 'content-type': 'application/json' }];
  };
}

describe('companies on the wire (nock)', () => {
  const rows = Array.from({ length: 130 }, (_, i) => company(100_001 + i));

  it('pages across three pages of one batch: every company lands as a client, the pages asked by start', async () => {
    await tp.applyFlowYaml(flowYaml('b24-nock-companies', 'companies'));
    let asked: string[] = [];
    nock(PORTAL).post(`/rest/1/${SECRET}/batch.json`).reply(async (req: unknown) => {
      const copy = (req as Request).clone();
      asked = Object.values((decodeParams(await copy.text()).cmd ?? {}) as Record<string, string>);
      return companyBatch(rows)(req);
    });
    const { run } = await pullAndWait('b24-nock-companies', NOCK_ENV);
    expect(run.state).toBe('done');
    expect(run.rows).toMatchObject({ read: 130, inserted: 130, rejected: 0 });
    expect(asked).toHaveLength(50);
    expect(asked[0]).toMatch(/^crm\.company\.list\?order%5BID%5D=ASC&select%5B0%5D=ID&.*start=0$/);
    expect(asked[2]).toMatch(/start=100$/);
    expect(await count('clients', "code = '100130' AND name = 'Crossroads 100130' AND phone = '+19998887766'")).toBe(1);
    expect(nock.isDone()).toBe(true);
  });

  it('a failing command inside the batch fails the pull naming its code and page; the cursor is kept', async () => {
    const before = await cursorOf('b24-nock-companies');
    expect(before).not.toBeNull();
    rows.push(company(100_131));
    nock(PORTAL).post(`/rest/1/${SECRET}/batch.json`).reply(companyBatch(rows, { cmd: 'p1', error: 'ERROR_CORE', description: 'Access denied.' }));
    const o = await pull('b24-nock-companies', NOCK_ENV);
    expect(o).toMatchObject({ outcome: 'failed', error: { code: 'MAG_ERR_PULL_FAILED' } });
    const msg = (o as Extract<PullOutcome, { outcome: 'failed' }>).error.message;
    expect(msg).toContain('crm.company.list (page at start=50) failed inside a batch: ERROR_CORE — Access denied.');
    expect(msg).not.toContain(SECRET);
    expect(await cursorOf('b24-nock-companies')).toEqual(before);
  });

  it('503 QUERY_LIMIT_EXCEEDED, then success: the same batch again, the pull completes', async () => {
    const bodies: string[] = [];
    nock(PORTAL).post(`/rest/1/${SECRET}/batch.json`).reply(async (req: unknown) => {
      bodies.push(await (req as Request).text());
      return [503, JSON.stringify({ error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' }), { 'content-type': 'application/json' }];
    });
    nock(PORTAL).post(`/rest/1/${SECRET}/batch.json`).reply(async (req: unknown) => {
      bodies.push(await (req as Request).clone().text());
      return companyBatch(rows)(req);
    });
    const { run } = await pullAndWait('b24-nock-companies', NOCK_ENV);
    expect(run.state).toBe('done');
    expect(bodies).toHaveLength(2);
    expect(bodies[1]).toBe(bodies[0]);
    // The incremental filter starts at the last DATE_MODIFY read (its second included, its IDs dropped).
    expect(decodeParams(decodeParams(bodies[0]!).cmd ? String((decodeParams(bodies[0]!).cmd as Record<string, string>).p0).split('?')[1]! : '')).toMatchObject({ filter: { '>=DATE_MODIFY': company(100_130).DATE_MODIFY } });
    expect(run.rows).toMatchObject({ read: 1, inserted: 1 });
    expect(await count('clients')).toBeGreaterThanOrEqual(131);
  });

  it('a revoked webhook (expired_token) fails the pull with the remote code and message; the cursor is kept', async () => {
    const before = await cursorOf('b24-nock-companies');
    nock(PORTAL).post(`/rest/1/${SECRET}/batch.json`).reply(401, { error: 'expired_token', error_description: 'The access token provided has expired.' });
    const o = await pull('b24-nock-companies', NOCK_ENV);
    expect(o).toEqual({
      outcome: 'failed', flow: 'b24-nock-companies',
      error: { code: 'MAG_ERR_PULL_AUTH', message: 'bitrix24 b24.test batch: Bitrix24 refused the incoming webhook: expired_token — The access token provided has expired. (HTTP 401)' },
    });
    expect(await cursorOf('b24-nock-companies')).toEqual(before);
    const r = await tp.rt.pool.query("SELECT last_error_code, last_error FROM poll_state s JOIN flows f ON f.id = s.flow_id WHERE f.name = 'b24-nock-companies'");
    expect(r.rows[0]).toMatchObject({ last_error_code: 'MAG_ERR_PULL_AUTH' });
  });

  it('a 503 storm: paced retries, then a failed pull naming the limit; no run, nothing merged', async () => {
    await tp.applyFlowYaml(flowYaml('b24-nock-storm', 'companies', { retries: 3 }));
    const clients = await count('clients');
    nock(PORTAL).post(`/rest/1/${SECRET}/batch.json`).times(4).reply(503, { error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' });
    const o = await pull('b24-nock-storm', NOCK_ENV);
    expect(o).toMatchObject({ outcome: 'failed', error: { code: 'MAG_ERR_PULL_FAILED' } });
    expect((o as Extract<PullOutcome, { outcome: 'failed' }>).error.message)
      .toMatch(/^bitrix24 b24\.test batch: QUERY_LIMIT_EXCEEDED — Too many requests \(HTTP 503\), still after 4 attempts \(paced at 2 req\/s, burst 50\)/);
    expect(nock.isDone()).toBe(true);
    expect(await count('runs r JOIN flows f ON f.id = r.flow_id', "f.name = 'b24-nock-storm'")).toBe(0);
    expect(await count('clients')).toBe(clients);
    expect(await cursorOf('b24-nock-storm')).toBeNull();
  });
});

// ---- the in-process portal ----------------------------------------------------------------------

describe('a first load of links with autoCreate', () => {
  it('creates the unknown contact and legal entity as placeholders instead of failing on the foreign key', async () => {
    // contact_legal_entities is empty here: the first load of a fact target used to go the direct path,
    // whose placeholders are inserted after its COPY — refused by the table's foreign keys.
    expect(await count('contact_legal_entities')).toBe(0);
    const portal = new Bitrix24Server();
    await portal.start();
    try {
      portal.put('company', { ID: '7001', TITLE: 'Отдельная' });
      portal.put('requisite', { ID: '7003', ENTITY_TYPE_ID: '4', ENTITY_ID: '7001', PRESET_ID: '1', RQ_COMPANY_NAME: 'ООО «Отдельная»' });
      portal.put('contact', { ID: '7002', NAME: 'Олег' });
      portal.link('7001', '7002');
      await tp.applyFlowYaml(flowYaml('b24-links-autocreate', 'contactLinks').replace('autoCreate: false', 'autoCreate: true'));
      const { run } = await pullAndWait('b24-links-autocreate', { B24_URL: portal.webhookUrl });
      expect(run.error).toBeNull();
      expect(run).toMatchObject({ state: 'done', loadPath: 'staged', rows: { read: 1, inserted: 1 } });
      expect(await count('contact_legal_entities x JOIN contacts c ON c.id = x.contact_id JOIN legal_entities l ON l.id = x.legal_entity_id',
        "c.code = '7002' AND c.placeholder AND l.code = '7003' AND l.placeholder")).toBe(1);
    } finally {
      await portal.stop();
      // Leave the store as the tests below expect it (their counts start from no links, contacts or legal entities of this portal).
      await tp.rt.pool.query('DELETE FROM contact_legal_entities');
      await tp.rt.pool.query("DELETE FROM external_ids WHERE system = 'bitrix24' AND external_id IN ('7002', '7003') AND entity IN ('contact', 'legalEntity')");
      await tp.rt.pool.query("DELETE FROM contacts WHERE code = '7002'");
      await tp.rt.pool.query("DELETE FROM legal_entities WHERE code = '7003'");
      await tp.rt.pool.query("UPDATE flows SET paused = true WHERE name = 'b24-links-autocreate'");
    }
  });
});

describe('counterparties from the in-process portal', () => {
  const names = ['managers', 'companies', 'requisites', 'contacts', 'contactLinks'];
  const flow = (e: string): string => `b24-${e.toLowerCase()}`;

  beforeAll(async () => {
    clearBuckets();
    server.seed(20, { contacts: 2, requisites: 1, managers: 3 });
    // Company 21: no requisites. Company 22: a sole proprietor. Company 23: a requisite with a bad INN.
    server.put('company', { ID: '21', TITLE: 'Без реквизитов', ASSIGNED_BY_ID: '2', DATE_MODIFY: b24Date(Date.parse('2026-01-01T01:00:00Z')) });
    server.put('company', { ID: '22', TITLE: 'ИП Сидоров', ASSIGNED_BY_ID: '3', DATE_MODIFY: b24Date(Date.parse('2026-01-01T01:00:00Z')) });
    server.put('company', { ID: '23', TITLE: 'Опечатка', ASSIGNED_BY_ID: '3', DATE_MODIFY: b24Date(Date.parse('2026-01-01T01:00:00Z')) });
    server.put('requisite', { ID: '900', ENTITY_TYPE_ID: '4', ENTITY_ID: '22', PRESET_ID: '2', RQ_LAST_NAME: 'Сидоров', RQ_FIRST_NAME: 'Пётр', RQ_SECOND_NAME: 'Иванович', RQ_INN: '500100732259', RQ_OGRNIP: '304500116000157' });
    server.put('requisite', { ID: '901', ENTITY_TYPE_ID: '4', ENTITY_ID: '23', PRESET_ID: '1', RQ_COMPANY_NAME: 'ООО «Опечатка»', RQ_INN: '7707083894' });
    server.put('requisite', { ID: '902', ENTITY_TYPE_ID: '3', ENTITY_ID: '1', PRESET_ID: '3', RQ_NAME: 'Реквизит контакта' });
    // A company's requisite of another preset («Физ. лицо»): skipped, and so never a key to mark deleted.
    server.put('requisite', { ID: '903', ENTITY_TYPE_ID: '4', ENTITY_ID: '20', PRESET_ID: '3', RQ_NAME: 'Физлицо' });
    server.put('contact', { ID: '950', NAME: 'Анна', LAST_NAME: 'Общая', COMPANY_ID: '1' });
    server.link('1', '950');
    server.link('22', '950');
    server.link('21', '950');
    for (const e of names) await tp.applyFlowYaml(flowYaml(flow(e), e));
  });

  it('managers, clients, legal entities, contacts and their links land; a bad INN is rejected, its company still lands', async () => {
    const runs: Record<string, RunView> = {};
    for (const e of names) runs[e] = (await pullAndWait(flow(e))).run;
    for (const e of names) expect(runs[e]!.state, `${e}: ${JSON.stringify(runs[e]!.error)}`).toBe('done');
    expect(await count('managers', "code = '1' AND name = 'Фамилия1 Менеджер1' AND email = 'manager1@example.ru' AND photo_url = 'https://cdn.example.ru/u1.jpg'")).toBe(1);
    expect(await count('clients c JOIN managers m ON m.id = c.manager_id', "c.code IN ('21', '22', '23')")).toBe(3);
    expect(await count('clients')).toBeGreaterThanOrEqual(23);
    // Company 21 has no requisites: a client without legal entities.
    expect(await count('legal_entities l JOIN clients c ON c.id = l.client_id', "c.code = '21'")).toBe(0);
    expect(await count('legal_entities', "code = '900' AND name = 'ИП Сидоров Пётр Иванович' AND inn = '500100732259' AND kpp IS NULL AND ogrn = '304500116000157'")).toBe(1);
    expect(await count('legal_entities', "code = '1' AND bik = '044525225' AND account = '40702810000000000001' AND corr_account = '30101810400000000225' AND kpp = '770101001'")).toBe(1);
    // The bad INN: that requisite rejected with the reason and its position; the contact's requisite (not a company's) never read.
    expect(runs.requisites!.rows).toMatchObject({ read: 22, rejected: 1 });
    const rejects = await listRejects(tp.rt.db, runs.requisites!.id);
    expect(rejects).toMatchObject([{ file: 'bitrix24-requisites.ndjson', path: 'bitrix24.requisite 901', field: 'inn' }]);
    expect(rejects[0]!.reason).toContain('is not a valid INN');
    expect(await count('clients', "code = '23' AND name = 'Опечатка'")).toBe(1);
    expect(await count('legal_entities', "code = '902'")).toBe(0);
    // Contacts: 2 per seeded company and the shared one; links: one per contact × legal entity of each linked company.
    expect(await count('contacts')).toBe(41);
    expect(await count('contacts ct JOIN clients c ON c.id = ct.client_id', "ct.code = '950' AND c.code = '1' AND ct.name = 'Общая Анна'")).toBe(1);
    const shared = await tp.rt.pool.query(`SELECT l.code FROM contact_legal_entities x JOIN contacts ct ON ct.id = x.contact_id JOIN legal_entities l ON l.id = x.legal_entity_id
      WHERE ct.code = '950' ORDER BY l.code`);
    expect(shared.rows.map((r: { code: string }) => r.code)).toEqual(['1', '900']);
    expect(await count('contact_legal_entities')).toBe(40 + 2);
  });

  it('incremental: only what changed is read; a removed link is removed by the next links pull', async () => {
    const t = Date.parse('2026-06-01T00:00:00Z');
    server.put('company', { ...server.tables.get('company')!.get('5'), TITLE: 'Компания 5 (переименована)', DATE_MODIFY: b24Date(t) });
    server.put('company', { ID: '24', TITLE: 'Новая', ASSIGNED_BY_ID: '1', DATE_MODIFY: b24Date(t) });
    const first = await pullAndWait(flow('companies'));
    expect(first.run.rows).toMatchObject({ read: 2, inserted: 1, updated: 1 });
    expect(await count('clients', "code = '5' AND name = 'Компания 5 (переименована)'")).toBe(1);
    // Nothing changed since: no run at all (the companies stamped with the cursor's second were read already).
    expect(await pull(flow('companies'))).toMatchObject({ outcome: 'unchanged' });
    server.links.get('22')!.delete('950');
    const links = await pullAndWait(flow('contactLinks'));
    expect(links.run.rows).toMatchObject({ removed: 1 });
    expect(await count('contact_legal_entities x JOIN contacts ct ON ct.id = x.contact_id', "ct.code = '950'")).toBe(1);
  });

  it('the full key scan marks what was deleted in the portal: contact deleted, requisite deleted, client blocked', async () => {
    for (const e of ['companies', 'requisites', 'contacts']) await tp.applyFlowYaml(flowYaml(flow(e), e, { fullScanEveryHours: 0 }));
    server.remove('company', '24');
    server.remove('contact', '950');
    server.remove('requisite', '900');
    server.remove('requisite', '903');
    for (const e of ['companies', 'requisites', 'contacts']) expect((await pullAndWait(flow(e))).run.state).toBe('done');
    expect(await count('clients', "code = '24' AND blocked AND name = 'Компания 24 удалён(а) в Битрикс24'")).toBe(1);
    expect(await count('contacts', "code = '950' AND deleted")).toBe(1);
    expect(await count('legal_entities', "code = '900' AND deleted")).toBe(1);
    expect(await count('legal_entities', 'deleted')).toBe(1);
    expect(await count('legal_entities', "code = '903'")).toBe(0);
    expect(await count('contacts', 'deleted')).toBe(1);
  });
});

describe('OAuth application', () => {
  it('refreshes with the stored refresh token, keeps the rotated one in crm_bitrix24_oauth, and a later refresh starts from it, not from the variable', async () => {
    clearBuckets();
    const refreshed: string[] = [];
    let issued = 0;
    nock('https://oauth.test').persist().get('/oauth/token/').query((q) => {
      refreshed.push(String(q.refresh_token));
      return q.grant_type === 'refresh_token' && q.client_id === 'local.app' && q.client_secret === 'app-s3cret';
    }).reply(async () => {
      issued++;
      server.accessTokens.add(`access-${issued}`);
      return [200, JSON.stringify({ access_token: `access-${issued}`, refresh_token: `refresh-${issued + 1}`, expires_in: 3600, client_endpoint: `${server.url}/rest/` }), { 'content-type': 'application/json' }];
    });
    const seenAuth: string[] = [];
    await tp.applyFlowYaml(flowYaml('b24-oauth-managers', 'managers', { webhookUrlEnv: undefined, portal: server.url, oauth: { clientIdEnv: 'B24_ID', clientSecretEnv: 'B24_SECRET', refreshTokenEnv: 'B24_REFRESH', tokenUrl: 'https://oauth.test/oauth/token/' } }));
    const e = { B24_ID: 'local.app', B24_SECRET: 'app-s3cret', B24_REFRESH: 'refresh-1' };
    const logBefore = server.log.length;
    expect((await pullAndWait('b24-oauth-managers', e)).run.state).toBe('done');
    // The access token went as `auth` (the server strips it before logging), to the OAuth REST path.
    for (const l of server.log.slice(logBefore)) seenAuth.push(l.method);
    expect(seenAuth).toEqual(['batch']);
    const row = async () => (await tp.rt.pool.query('SELECT app_key, client_id, refresh_token, access_token FROM crm_bitrix24_oauth')).rows;
    expect(await row()).toEqual([{ app_key: `${server.url}|local.app`, client_id: 'local.app', refresh_token: 'refresh-2', access_token: 'access-1' }]);
    // The portal revokes the access token: one refresh with the stored refresh token (not the variable's), the same request again.
    server.accessTokens.clear();
    expect((await pullAndWait('b24-oauth-managers', e)).run.state).toBe('done');
    expect(refreshed).toEqual(['refresh-1', 'refresh-2']);
    expect(await row()).toEqual([{ app_key: `${server.url}|local.app`, client_id: 'local.app', refresh_token: 'refresh-3', access_token: 'access-2' }]);
    // A refused refresh: the pull fails with the OAuth server's code, the stored token untouched.
    nock.cleanAll();
    server.accessTokens.clear();
    nock('https://oauth.test').get('/oauth/token/').query(true).reply(400, { error: 'invalid_grant', error_description: 'The refresh token is invalid.' });
    const o = await pull('b24-oauth-managers', e);
    expect(o).toMatchObject({ outcome: 'failed', error: { code: 'MAG_ERR_PULL_AUTH' } });
    expect((o as Extract<PullOutcome, { outcome: 'failed' }>).error.message).toContain('invalid_grant — The refresh token is invalid. (HTTP 400)');
    expect((o as Extract<PullOutcome, { outcome: 'failed' }>).error.message).not.toContain('app-s3cret');
    expect(await row()).toEqual([{ app_key: `${server.url}|local.app`, client_id: 'local.app', refresh_token: 'refresh-3', access_token: 'access-2' }]);
  });
});

describe('dry-run of a pulled payload', () => {
  it('finds the mapping in mappings/crm (the module\'s folder) by the records\' kind and reports the bad INN', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const dir = await mkdtemp(path.join(tmpdir(), 'b24-dry-'));
    try {
      const file = path.join(dir, 'bitrix24-requisites.ndjson');
      // A requisite record carries FULL_NAME too, which the managers mapping reads: columns alone chose it.
      await writeFile(file, [
        { _kind: 'bitrix24.requisite', ID: '1', COMPANY_ID: '1', KIND: 'legal', NAME: 'ООО «Ромашка»', FULL_NAME: 'Общество «Ромашка»', INN: '7707083893' },
        { _kind: 'bitrix24.requisite', ID: '2', COMPANY_ID: '2', KIND: 'legal', NAME: 'ООО «Опечатка»', FULL_NAME: 'Общество «Опечатка»', INN: '7707083894' },
      ].map((r) => JSON.stringify(r)).join('\n'));
      const r = await dryRun({ registry, connector: 'bitrix24.rest', options: { entity: 'requisites', webhookUrlEnv: 'X' }, files: [file] });
      expect(r.errors).toEqual([]);
      expect(r.counts).toEqual({ legalEntities: 1 });
      expect(r.rejects).toBe(1);
      expect(r.mappingsUsed[file]).toEqual(['crm/bitrix24-requisites.yaml']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('10,000 companies through the portal\'s bucket', () => {
  let big: Bitrix24Server;
  afterAll(async () => {
    await big?.stop();
  });

  it('at the real 2 requests/s, burst 50: a pull of 10,000 companies and their requisites loses no page (counts in the store)', async () => {
    clearBuckets();
    big = new Bitrix24Server();
    await big.start();
    big.keepLog = false;
    big.seed(10_000, { contacts: 1, requisites: 1, managers: 10 });
    const e = { B24_URL: big.webhookUrl };
    for (const x of ['companies', 'requisites']) await tp.applyFlowYaml(flowYaml(`b24-big-${x.toLowerCase()}`, x, { concurrency: 4 }));
    const before = await count('clients');
    const companies = await pullAndWait('b24-big-companies', e);
    expect(companies.run.rows).toMatchObject({ read: 10_000, rejected: 0 });
    expect(await count('clients') - before).toBe(10_000 - 24);
    expect(await count('clients', "code IN ('1', '5000', '9999', '10000')")).toBe(4);
    const requisites = await pullAndWait('b24-big-requisites', e);
    expect(requisites.run.rows).toMatchObject({ read: 10_000, rejected: 0 });
    expect(await count('legal_entities', "bik = '044525225'")).toBeGreaterThanOrEqual(10_000);
    // 4 batches of companies, 4 of requisites with 4 of bank details: about 2,500 entities a request,
    // inside the bucket's burst; the links (one request per 49 companies) are paced below.
    expect(big.stats.requests).toBeLessThanOrEqual(14);
    expect(big.stats.limited).toBe(0);
  }, 240_000);

  it('at the real 2 requests/s, burst 50: 3,000 companies\' links (62 requests) complete without a 503', async () => {
    clearBuckets();
    await big.stop();
    big = new Bitrix24Server();
    await big.start();
    big.seed(3000, { contacts: 1, requisites: 1, managers: 1 });
    await tp.applyFlowYaml(flowYaml('b24-real-links', 'contactLinks', { concurrency: 2 }));
    const started = performance.now();
    const links = await pullAndWait('b24-real-links', { B24_URL: big.webhookUrl });
    const s = (performance.now() - started) / 1000;
    expect(links.run.rows.read).toBe(3000);
    expect(big.stats.limited).toBe(0);
    expect(big.stats.served).toBe(2 + Math.ceil(3000 / 49));
    // 50 at once, the other 14 at 2 per second.
    expect(s).toBeGreaterThan(5);
    expect(s).toBeLessThan(30);
  }, 120_000);
});
