// Bitrix24 events at /exchange/webhooks/<flow> through the real server, pipeline and workers (PostgreSQL,
// Redis); Bitrix24's REST API faked at its wire with nock (the batch answers in the documented shape of
// test/fixtures/bitrix24/batch.response.json). The event bodies are the documented sample
// (test/fixtures/bitrix24/ONCRMCOMPANYUPDATE.event.json) posted as Bitrix24 posts it: a form with nested keys.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import nock from 'nock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/api/index.ts';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { waitForRun } from '../../src/pipeline/runs.ts';
import { encodeForm, parseForm, readEvent, FormFieldError, type FormTree } from '../../connectors/crm/bitrix24/events/form.ts';
import { until } from '../helpers/wait.ts';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';

const SAMPLE = JSON.parse(readFileSync(path.join(REPO_DIR, 'test/fixtures/bitrix24/ONCRMCOMPANYUPDATE.event.json'), 'utf8')) as FormTree;
const TOKEN = String((SAMPLE.auth as FormTree).application_token);
const HOST = 'https://b24-events.example.test';
const HOOK = '/rest/1/w3bh00ksecret7q/';

function event(name: string, id: string, ts: string, token: string | null = TOKEN): FormTree {
  const auth = { ...(SAMPLE.auth as FormTree) };
  if (token === null) delete auth.application_token;
  else auth.application_token = token;
  return { ...SAMPLE, event: name, data: { FIELDS: { ID: id } }, ts, auth };
}

const flowYaml = (name: string, target: string, mapping: string): string => `
apiVersion: magistral/v1
kind: Flow
name: ${name}
source:
  connector: bitrix24.events
  system: bitrix24
  options: { tokenEnv: B24_TEST_APP_TOKEN, webhookUrlEnv: B24_TEST_WEBHOOK, gatherMs: 150 }
mapping: ${mapping}
target: ${target}
mode: delta
autoCreate: true
`;

/** A batch answer as Bitrix24 writes it: results by command, errors by command, the other maps empty. */
function batchAnswer(result: Record<string, unknown>, errors: Record<string, { error: string; error_description: string }> = {}) {
  return { result: { result, result_error: Object.keys(errors).length ? errors : [], result_total: [], result_next: [], result_time: [] }, time: { start: 1, finish: 1.1 } };
}

/** The batch commands of a request body (cmd[e2917]=crm.company.get?id=2917). */
function commands(body: unknown): Record<string, string> {
  const tree = parseForm(typeof body === 'string' ? body : new URLSearchParams(body as Record<string, string>).toString());
  return (tree.cmd ?? {}) as Record<string, string>;
}

const COMPANY = { ID: '2917', TITLE: 'Crossroads', ASSIGNED_BY_ID: '811', PHONE: [{ ID: '8303', VALUE_TYPE: 'WORK', VALUE: '+19998887766', TYPE_ID: 'PHONE' }], EMAIL: [{ ID: '8304', VALUE_TYPE: 'WORK', VALUE: 'info@crossroads.example', TYPE_ID: 'EMAIL' }] };
const COMPANY_2 = { ID: '2919', TITLE: 'Перекрёсток', ASSIGNED_BY_ID: '811' };

describe('Bitrix24 event form', () => {
  it('reads the documented event with nested keys', () => {
    const e = readEvent(parseForm(encodeForm(SAMPLE)));
    expect(e).toEqual({ event: 'ONCRMCOMPANYUPDATE', entity: 'company', deleted: false, id: '2917', ts: '1743165490', token: TOKEN, domain: 'some-domain.bitrix24.com', handlerId: '735' });
  });
  it('names the field that is missing or malformed', () => {
    const fail = (body: string): string => {
      try {
        readEvent(parseForm(body));
      } catch (e) {
        if (e instanceof FormFieldError) return e.message;
        throw e;
      }
      return 'no error';
    };
    expect(fail('event=ONCRMCOMPANYUPDATE&ts=1&auth[application_token]=x')).toBe('data[FIELDS][ID]: missing (a positive integer id)');
    expect(fail('event=ONCRMCOMPANYUPDATE&data[FIELDS][ID]=12a&ts=1&auth[application_token]=x')).toBe('data[FIELDS][ID]: "12a" is not a positive integer id');
    expect(fail('event=ONCRMCOMPANYUPDATE&data[FIELDS][ID]=1&ts=yesterday&auth[application_token]=x')).toBe('ts: "yesterday" is not a Unix time in seconds');
    expect(fail('event=ONCRMLEADADD&data[FIELDS][ID]=1&ts=1&auth[application_token]=x')).toMatch(/^event: 'ONCRMLEADADD' is not an event this endpoint takes/);
    expect(fail('event=ONCRMCOMPANYUPDATE&data[FIELDS]=1&data[FIELDS][ID]=2')).toBe('data.FIELDS: given both as a value and with nested keys');
    expect(fail('event=X&data[FIELDS[ID]=2')).toBe('data[FIELDS[ID]: not a field name of the form name or name[key][key]');
  });
});

describe('Bitrix24 events endpoint', () => {
  let tp: TestPipeline;
  let app: FastifyInstance;

  const post = (flow: string, body: string, type = 'application/x-www-form-urlencoded') =>
    app.inject({ method: 'POST', url: `/exchange/webhooks/${flow}`, headers: { 'content-type': type }, payload: body });

  const events = async (flow?: string) => (await tp.rt.pool.query<{ event: string; entity_id: string; state: string; runs: number[]; last_error: string | null; attempts: number }>(
    `SELECT event, entity_id, state, runs, last_error, attempts FROM crm_bitrix24_events ${flow ? 'WHERE flow = $1' : ''} ORDER BY id`, flow ? [flow] : [])).rows;
  const runCount = async () => Number((await tp.rt.pool.query('SELECT count(*) AS n FROM runs')).rows[0].n);

  /** The run made for the events of `flow` once they are drained, merged. */
  async function drained(flow: string, n: number) {
    const rows = await until(`${n} drained events of ${flow}`, async () => {
      const r = await events(flow);
      return r.filter((x) => x.state === 'done').length >= n && r;
    });
    const runId = rows.filter((x) => x.state === 'done').at(-1)!.runs[0]!;
    return waitForRun(tp.rt.db, runId, { timeoutMs: 30_000, intervalMs: 50 });
  }

  beforeAll(async () => {
    process.env.B24_TEST_APP_TOKEN = TOKEN;
    process.env.B24_TEST_WEBHOOK = `${HOST}${HOOK}`;
    tp = await createTestPipeline('b24ev');
    await tp.applyFlowYaml(flowYaml('b24-companies', 'clients', 'crm/bitrix24-companies.yaml'));
    await tp.applyFlowYaml(flowYaml('b24-requisites', 'legalEntities', 'crm/bitrix24-requisites.yaml'));
    await tp.applyFlowYaml(flowYaml('b24-contacts', 'contacts', 'crm/bitrix24-contacts.yaml'));
    await tp.applyFlowFile('ops/flows/clients-csv.yaml');
    await tp.applyFlowYaml(`
apiVersion: magistral/v1
kind: Flow
name: b24-pulled-contacts
source: { connector: bitrix24.rest, system: bitrix24, options: { entity: contacts, webhookUrlEnv: B24_TEST_WEBHOOK, tokenEnv: B24_TEST_APP_TOKEN, gatherMs: 50 } }
mapping: crm/bitrix24-contacts.yaml
target: contacts
mode: delta
autoCreate: true
`);
    await tp.applyFlowYaml(`
apiVersion: magistral/v1
kind: Flow
name: b24-pulled-companies
source: { connector: bitrix24.rest, system: bitrix24, options: { entity: companies, webhookUrlEnv: B24_TEST_WEBHOOK } }
mapping: crm/bitrix24-companies.yaml
target: clients
mode: delta
`);
    app = await buildServer({ ...tp.rt, mode: 'full' });
    await app.ready();
    nock.disableNetConnect();
  }, 120_000);
  afterAll(async () => {
    nock.cleanAll();
    nock.enableNetConnect();
    await app?.close();
    await tp?.close();
  });
  beforeEach(() => nock.cleanAll());

  it('the example flows apply (ops/flows/bitrix24-events.yaml, bitrix24-deals.yaml)', async () => {
    await tp.applyFlowFile('ops/flows/bitrix24-events.yaml');
    await tp.applyFlowFile('ops/flows/bitrix24-deals.yaml');
    const names = (await tp.rt.pool.query(`SELECT name FROM flows WHERE name LIKE 'bitrix24-%' ORDER BY name`)).rows.map((r) => r.name);
    expect(names).toEqual(['bitrix24-deals', 'bitrix24-event-companies', 'bitrix24-event-contacts', 'bitrix24-event-requisites']);
  });

  it('refuses a wrong or missing application token with 401, storing nothing', async () => {
    for (const body of [encodeForm(event('ONCRMCOMPANYUPDATE', '2917', '100', 'not-the-token')), encodeForm(event('ONCRMCOMPANYUPDATE', '2917', '100', null))]) {
      const r = await post('b24-companies', body);
      expect(r.statusCode).toBe(401);
      expect(r.headers['x-magistral-error-code']).toBe('MAG_ERR_UNAUTHORIZED');
      expect(r.body).toMatch(/auth\[application_token\] (does not match the flow's token|is missing); nothing was stored/);
      expect(r.body).not.toContain(TOKEN);
    }
    expect(await events()).toEqual([]);
    expect(await runCount()).toBe(0);
  });

  it('answers a malformed body or event with 400 naming the field, an unknown flow with 404, a pulled flow with 409, a non-form body with 415', async () => {
    const noId = event('ONCRMCOMPANYUPDATE', '1', '100');
    delete ((noId.data as FormTree).FIELDS as FormTree).ID;
    const cases: Array<[string, string, number, RegExp]> = [
      ['b24-companies', encodeForm(noId), 400, /malformed event: data\[FIELDS\]\[ID\]: missing/],
      ['b24-companies', encodeForm(event('ONCRMCOMPANYUPDATE', '2917', 'soon')), 400, /malformed event: ts: "soon" is not a Unix time/],
      ['b24-companies', `${encodeForm(event('ONCRMCOMPANYUPDATE', '2917', '100'))}&data[FIELDS]=x`, 400, /malformed event body: data\.FIELDS: given both as a value and with nested keys/],
      ['b24-companies', encodeForm(event('ONCRMCONTACTUPDATE', '55', '100')), 422, /flow 'b24-companies' takes company events, not ONCRMCONTACTUPDATE/],
      ['no-such-flow', encodeForm(SAMPLE), 404, /no Bitrix24 events flow 'no-such-flow'/],
      ['clients-csv', encodeForm(SAMPLE), 404, /no Bitrix24 events flow 'clients-csv' \(a flow of connector bitrix24\.events, bitrix24\.deals or bitrix24\.rest with tokenEnv/],
      ['b24-pulled-companies', encodeForm(SAMPLE), 409, /flow 'b24-pulled-companies' is a bitrix24\.rest flow without tokenEnv, which pulls and takes no events: give it tokenEnv/],
    ];
    for (const [flow, body, status, text] of cases) {
      const r = await post(flow, body);
      expect({ flow, status: r.statusCode, body: r.body }).toEqual({ flow, status, body: expect.stringMatching(text) });
    }
    const json = await post('b24-companies', JSON.stringify(SAMPLE), 'application/json');
    expect(json.statusCode).toBe(415);
    expect(await events()).toEqual([]);
    expect(await runCount()).toBe(0);
  });

  it('stores an event, answers 200 at once, fetches the entities pending together in one batch and merges them in one run', async () => {
    let cmds: Record<string, string> = {};
    const scope = nock(HOST).post(`${HOOK}batch.json`, (b) => { cmds = commands(b); return true; })
      .reply(200, batchAnswer({ e2917: COMPANY, e2919: COMPANY_2 }));
    for (const [id, ts] of [['2917', '1743165490'], ['2919', '1743165491'], ['2917', '1743165492']] as const) {
      const r = await post('b24-companies', encodeForm(event('ONCRMCOMPANYUPDATE', id, ts)));
      expect(r.statusCode, r.body).toBe(200);
      expect(r.body).toMatch(new RegExp(`^stored ONCRMCOMPANYUPDATE ${id} \\(event \\d+\\)`));
    }
    const run = await drained('b24-companies', 3);
    expect(scope.isDone()).toBe(true);
    // Two companies, one command each, in one batch call: the company named twice is fetched once.
    expect(cmds).toEqual({ e2917: 'crm.company.get?id=2917', e2919: 'crm.company.get?id=2919' });
    expect(run).toMatchObject({ state: 'done', flow: 'b24-companies', rows: { read: 2, inserted: 2, rejected: 0 } });
    const c = await tp.rt.pool.query(`SELECT c.code, c.name, c.phone, c.email, c.blocked, m.code AS manager FROM clients c
      LEFT JOIN managers m ON m.id = c.manager_id ORDER BY c.code`);
    expect(c.rows).toEqual([
      { code: '2917', name: 'Crossroads', phone: '+19998887766', email: 'info@crossroads.example', blocked: false, manager: '811' },
      { code: '2919', name: 'Перекрёсток', phone: null, email: null, blocked: false, manager: '811' },
    ]);
  });

  it('an event replayed twice is stored once and merged once', async () => {
    const runsBefore = await runCount();
    const scope = nock(HOST).post(`${HOOK}batch.json`).once().reply(200, batchAnswer({ e2917: { ...COMPANY, TITLE: 'Crossroads Ltd' } }));
    const body = encodeForm(event('ONCRMCOMPANYUPDATE', '2917', '1743170000'));
    const first = await post('b24-companies', body);
    const second = await post('b24-companies', body);
    expect(first.statusCode).toBe(200);
    expect(second.statusCode).toBe(200);
    expect(second.body).toMatch(/^already stored ONCRMCOMPANYUPDATE 2917 at 1743170000 \(event \d+\); not fetched again/);
    await drained('b24-companies', 4);
    const third = await post('b24-companies', body);
    expect(third.body).toMatch(/^already stored/);
    await new Promise((r) => setTimeout(r, 400));
    expect(scope.isDone()).toBe(true);
    expect(await runCount()).toBe(runsBefore + 1);
    expect((await events('b24-companies')).filter((e) => e.entity_id === '2917' && e.state === 'done')).toHaveLength(3);
    expect((await tp.rt.pool.query(`SELECT name FROM clients WHERE code = '2917'`)).rows[0].name).toBe('Crossroads Ltd');
  });

  it('a DELETE event fetches nothing and marks the entity deleted (a company: its client blocked, the name kept)', async () => {
    const r = await post('b24-companies', encodeForm(event('ONCRMCOMPANYDELETE', '2917', '1743180000')));
    expect(r.statusCode).toBe(200);
    const run = await drained('b24-companies', 5);
    expect(run).toMatchObject({ state: 'done', rows: { read: 1, updated: 1 } });
    expect((await tp.rt.pool.query(`SELECT name, blocked FROM clients WHERE code = '2917'`)).rows).toEqual([{ name: 'Crossroads Ltd', blocked: true }]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it('a DELETE event of an entity no event fetched before marks it deleted under the pull\'s note (its name is gone with it)', async () => {
    expect((await post('b24-contacts', encodeForm(event('ONCRMCONTACTDELETE', '77', '1743185000')))).statusCode).toBe(200);
    const run = await drained('b24-contacts', 1);
    expect(run).toMatchObject({ state: 'done', rows: { read: 1, rejected: 0 } });
    expect((await tp.rt.pool.query(`SELECT name, deleted FROM contacts WHERE code = '77'`)).rows).toEqual([{ name: 'Контакт 77 удалён(а) в Битрикс24', deleted: true }]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it('requisites become legal entities with their bank; a bad INN rejects that requisite with the reason, a deleted one is marked deleted', async () => {
    let cmds: Record<string, string> = {};
    nock(HOST).post(`${HOOK}batch.json`, (b) => { cmds = commands(b); return true; }).reply(200, batchAnswer({
      e31: { ID: '31', ENTITY_TYPE_ID: '4', ENTITY_ID: '2919', PRESET_ID: '1', NAME: 'Организация', RQ_COMPANY_NAME: 'ООО «Перекрёсток»', RQ_INN: '7704010015', RQ_KPP: '770401001', RQ_OGRN: '1027700000019' },
      b31: [{ ID: '7', ENTITY_ID: '31', RQ_BANK_NAME: 'ПАО Сбербанк', RQ_BIK: '044525225', RQ_ACC_NUM: '40702810400000000001', RQ_COR_ACC_NUM: '30101810400000000225' }],
      e32: { ID: '32', ENTITY_TYPE_ID: '4', ENTITY_ID: '2919', PRESET_ID: '2', NAME: 'ИП', RQ_NAME: 'ИП Сидоров', RQ_INN: '7704010016' },
      b32: [],
      e33: { ID: '33', ENTITY_TYPE_ID: '3', ENTITY_ID: '55', NAME: 'Физлицо' },
      b33: [],
    }));
    for (const id of ['31', '32', '33']) expect((await post('b24-requisites', encodeForm(event('ONCRMREQUISITEADD', id, '1743190000')))).statusCode).toBe(200);
    const run = await drained('b24-requisites', 3);
    expect(Object.keys(cmds).sort()).toEqual(['b31', 'b32', 'b33', 'e31', 'e32', 'e33']);
    expect(cmds.b31).toMatch(/^crm\.requisite\.bankdetail\.list\?/);
    expect(run).toMatchObject({ state: 'done', rows: { read: 2, inserted: 1, rejected: 1 } });
    const rejects = (await tp.rt.pool.query(`SELECT reason FROM rejects WHERE run_id = $1`, [run.id])).rows;
    expect(rejects.map((x) => x.reason).join('\n')).toMatch(/inn/i);
    expect((await tp.rt.pool.query(`SELECT le.code, le.name, le.inn, le.bik, le.account, le.deleted, c.code AS client FROM legal_entities le JOIN clients c ON c.id = le.client_id`)).rows)
      .toEqual([{ code: '31', name: 'ООО «Перекрёсток»', inn: '7704010015', bik: '044525225', account: '40702810400000000001', deleted: false, client: '2919' }]);
    // The requisite of a contact (entity type 3) is no legal entity of a client: noted on its event.
    expect((await events('b24-requisites')).find((e) => e.entity_id === '33')?.last_error).toMatch(/requisite 33: belongs to entity type 3/);

    expect((await post('b24-requisites', encodeForm(event('ONCRMREQUISITEDELETE', '31', '1743190100')))).statusCode).toBe(200);
    await drained('b24-requisites', 4);
    expect((await tp.rt.pool.query(`SELECT name, deleted FROM legal_entities WHERE code = '31'`)).rows).toEqual([{ name: 'ООО «Перекрёсток»', deleted: true }]);
  });

  it('a pull flow with tokenEnv takes its entity\'s events itself: the event\'s run is a run of the pull flow, merged in order with its pulls', async () => {
    nock(HOST).post(`${HOOK}batch.json`).reply(200, batchAnswer({ e88: { ID: '88', NAME: 'Ирина', LAST_NAME: 'Петрова', COMPANY_ID: '2919', EMAIL: [{ VALUE: 'I.Petrova@Example.ru', VALUE_TYPE: 'WORK' }] } }));
    expect((await post('b24-pulled-contacts', encodeForm(event('ONCRMCONTACTADD', '88', '1743186000')))).statusCode).toBe(200);
    expect((await post('b24-pulled-contacts', encodeForm(event('ONCRMCOMPANYADD', '88', '1743186000')))).statusCode).toBe(422);
    const run = await drained('b24-pulled-contacts', 1);
    expect(run).toMatchObject({ state: 'done', flow: 'b24-pulled-contacts', rows: { read: 1, inserted: 1 } });
    expect((await tp.rt.pool.query(`SELECT name, email FROM contacts WHERE code = '88'`)).rows).toEqual([{ name: 'Петрова Ирина', email: 'i.petrova@example.ru' }]);
  });

  it('a fetch Bitrix24 refuses (INVALID_CREDENTIALS) leaves the event pending with the remote\'s code, never the webhook secret', async () => {
    nock(HOST).post(`${HOOK}batch.json`).reply(401, { error: 'INVALID_CREDENTIALS', error_description: 'Invalid request credentials' });
    expect((await post('b24-contacts', encodeForm(event('ONCRMCONTACTUPDATE', '55', '1743200000')))).statusCode).toBe(200);
    const row = await until('the failed fetch', async () => {
      const r = (await events('b24-contacts')).find((e) => e.entity_id === '55');
      return r && r.attempts > 0 ? r : undefined;
    });
    expect(row).toMatchObject({ state: 'pending', attempts: 1 });
    expect(row.last_error).toMatch(/INVALID_CREDENTIALS — Invalid request credentials/);
    expect(row.last_error).not.toContain('w3bh00ksecret7q');
    // No run for it (three company runs, two contact runs and two requisite runs before).
    expect(await runCount()).toBe(7);
  });

  it('what is pending when a process stops (a refused fetch, an event stored just before a crash) is drained by the next server\'s sweep', async () => {
    // An event the endpoint stored, its process gone before the drain ran.
    await tp.rt.pool.query(`INSERT INTO crm_bitrix24_events (flow, event, entity, entity_id, ts) VALUES ('b24-contacts', 'ONCRMCONTACTADD', 'contact', '56', 1743200001)`);
    let cmds: Record<string, string> = {};
    nock(HOST).post(`${HOOK}batch.json`, (b) => { cmds = commands(b); return true; }).reply(200, batchAnswer({
      e55: { ID: '55', NAME: 'Алексей', LAST_NAME: 'Смирнов', COMPANY_ID: '2919', POST: 'Закупщик', EMAIL: [{ VALUE: 'a@example.ru', VALUE_TYPE: 'WORK' }] },
      e56: { ID: '56', NAME: 'Мария', LAST_NAME: 'Орлова', COMPANY_ID: '2919' },
    }));
    const next = await buildServer({ ...tp.rt, mode: 'full' });
    try {
      await next.ready();
      const run = await drained('b24-contacts', 3);
      expect(Object.keys(cmds).sort()).toEqual(['e55', 'e56']);
      expect(run).toMatchObject({ state: 'done', rows: { read: 2, inserted: 2 } });
    } finally {
      await next.close();
    }
    expect((await tp.rt.pool.query(`SELECT ct.code, ct.name, ct.email, ct.position, c.code AS client FROM contacts ct JOIN clients c ON c.id = ct.client_id WHERE ct.code IN ('55', '56') ORDER BY ct.code`)).rows).toEqual([
      { code: '55', name: 'Смирнов Алексей', email: 'a@example.ru', position: 'Закупщик', client: '2919' },
      { code: '56', name: 'Орлова Мария', email: null, position: null, client: '2919' },
    ]);
  });
});
