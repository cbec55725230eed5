// Portal orders out as Bitrix24 deals through the real pipeline (orders placed through the portal API,
// the outbound queue's real workers, PostgreSQL, Redis), Bitrix24's REST API faked at its wire with nock:
// add (lookup by ORIGIN_ID first), a repeated send that finds the deal, a new order version updating it,
// stages back as statuses by the pull and by ONCRMDEALUPDATE events, refused credentials, a 503 retried.
import nock from 'nock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { until } from '../helpers/wait.ts';
import { portalFixture, type PortalFixture } from '../api/portal-fixture.ts';
import { enqueueDueOrders, pullOrderStatuses } from '../../src/pipeline/outbound.ts';
import { applyOrderChange } from '../../src/orders/index.ts';
import { encodeForm, parseForm, ruleOf, type FormTree } from '../../connectors/crm/bitrix24/events/index.ts';

const HOST = 'https://b24-deals.example.test';
const HOOK = '/rest/7/d3alsw3bh00k5/';
const TOKEN = 'deals-app-token-51856fefc120';
const as = { 'x-client-id': 'C1', 'x-contact-id': 'K1' };

/** A request body as a tree (nock hands urlencoded bodies over parsed or as text). */
function form(body: unknown): FormTree {
  return parseForm(typeof body === 'string' ? body : new URLSearchParams(body as Record<string, string>).toString());
}

const ok = (result: unknown, extra: Record<string, unknown> = {}) => ({ result, ...extra, time: { start: 1, finish: 1.2, duration: 0.2 } });

/** A batch answer as Bitrix24 writes it (an empty map as a PHP list). */
const batchOk = (result: Record<string, unknown>, errors: Record<string, { error: string; error_description: string }> = {}) =>
  ok({ result, result_error: Object.keys(errors).length ? errors : [], result_total: [], result_next: [], result_time: [] });

/** The commands of a batch request: `cmd[add]=crm.deal.add?fields[TITLE]=…` → { add: { method, params } }. */
function batchCommands(body: unknown): Record<string, { method: string; params: FormTree }> {
  const cmd = (form(body).cmd ?? {}) as Record<string, string>;
  return Object.fromEntries(Object.entries(cmd).map(([k, v]) => {
    const q = v.indexOf('?');
    return [k, { method: q < 0 ? v : v.slice(0, q), params: parseForm(q < 0 ? '' : v.slice(q + 1)) }];
  }));
}

describe('deal stages as order statuses', () => {
  it('maps the default pipeline, other pipelines by the stage after the colon, and the flow\'s overrides', () => {
    expect(ruleOf('NEW', undefined)).toEqual({ status: 'accepted' });
    expect(ruleOf('C2:WON', undefined)).toEqual({ status: 'completed' });
    expect(ruleOf('LOSE', undefined)).toEqual({ status: 'cancelled', cancelled: true });
    expect(ruleOf('C2:UC_X1', undefined)).toBeUndefined();
    expect(ruleOf('C2:UC_X1', { 'C2:UC_X1': 'shipped' })).toEqual({ status: 'shipped' });
    expect(ruleOf('FINAL_INVOICE', { FINAL_INVOICE: { status: 'shipped', shipped: true } })).toEqual({ status: 'shipped', shipped: true });
    expect(ruleOf('NEW', { NEW: null })).toBeUndefined();
  });
});

describe('orders out as Bitrix24 deals', () => {
  let fx: PortalFixture;
  const numbers: string[] = [];

  interface ExportRow { state: string; attempts: number; last_error: string | null; last_error_code: string | null; external_number: string | null; external_ref: string | null }
  async function exportOf(number: string): Promise<ExportRow | undefined> {
    return (await fx.tp.rt.pool.query<ExportRow>(`
      SELECT e.state, e.attempts, e.last_error, e.last_error_code, e.external_number, e.external_ref
      FROM order_exports e JOIN orders o ON o.id = e.order_id JOIN flows f ON f.id = e.flow_id WHERE o.number = $1 AND f.name = 'b24-deals'`, [number])).rows[0];
  }
  async function place(lines: Array<{ sku: string; quantity: string }>, comment?: string): Promise<{ number: string; total: string }> {
    const res = await fx.call('POST', '/api/v1/orders', { headers: as, body: { legalEntity: 'LE1', lines, ...(comment ? { comment } : {}) } });
    expect(res.statusCode, res.body).toBe(201);
    return res.json();
  }
  const statusOf = async (number: string) => (await fx.call('GET', `/api/v1/orders/${number}`, { headers: as })).json() as { status: { code: string }; cancelled: boolean; erpNumber: string | null };

  /** crm.deal.list by ORIGIN_ID for the next order, answering `deals`. */
  const lookup = (deals: unknown[]) => {
    const seen: FormTree[] = [];
    const scope = nock(HOST).post(`${HOOK}crm.deal.list.json`, (b) => {
      const f = form(b);
      if (typeof (f.filter as FormTree | undefined)?.ORIGIN_ID !== 'string') return false;
      seen.push(f);
      return true;
    }).reply(200, ok(deals, { total: deals.length }));
    return { scope, seen };
  };

  beforeAll(async () => {
    process.env.B24_TEST_DEALS_WEBHOOK = `${HOST}${HOOK}`;
    process.env.B24_TEST_DEALS_TOKEN = TOKEN;
    fx = await portalFixture('b24deals');
    // The CRM ids of the client, the contact and one product, as the Bitrix24 pull leaves them: external ids in system bitrix24.
    await fx.tp.rt.pool.query(`
      INSERT INTO external_ids (entity, system, external_id, internal_id)
      SELECT 'client', 'bitrix24', '2917', id FROM clients WHERE code = 'C1'
      UNION ALL SELECT 'contact', 'bitrix24', '55', id FROM contacts WHERE code = 'K1'
      UNION ALL SELECT 'product', 'bitrix24', '689', id FROM products WHERE code = 'P1'`);
    await fx.tp.applyFlowYaml(`
apiVersion: magistral/v1
kind: Flow
name: b24-deals
source:
  connector: bitrix24.deals
  system: bitrix24
  options: { webhookUrlEnv: B24_TEST_DEALS_WEBHOOK, tokenEnv: B24_TEST_DEALS_TOKEN, stages: { "C1:UC_SHIP": { status: shipped, shipped: true } } }
target: orders
mode: delta
retry: { attempts: 2, backoff: fixed, delayMs: 200 }
`);
    nock.disableNetConnect();
  }, 180_000);
  afterAll(async () => {
    nock.cleanAll();
    nock.enableNetConnect();
    await fx?.close();
  });
  beforeEach(() => {
    expect(nock.pendingMocks()).toEqual([]);
  });

  it('an order becomes crm.deal.add with its company, contact and ORIGIN_ID, then its lines as product rows', async () => {
    const look = lookup([]);
    let cmds: ReturnType<typeof batchCommands> = {};
    // One batch: the add, and the rows on the add's answer ($result[add]).
    const scope = nock(HOST).post(`${HOOK}batch.json`, (b) => { cmds = batchCommands(b); return true; }).reply(200, batchOk({ add: 394, rows: true }));
    const o = await place([{ sku: 'P2', quantity: '2' }, { sku: 'P1', quantity: '1.25' }], 'доставка до 12:00');
    numbers.push(o.number);
    await until('the deal', async () => (await exportOf(o.number))?.state === 'sent');
    expect(scope.isDone()).toBe(true);
    expect(look.seen[0]).toMatchObject({ filter: { ORIGIN_ID: o.number, ORIGINATOR_ID: 'magistral' } });
    expect(Object.fromEntries(Object.entries(cmds).map(([k, c]) => [k, c.method]))).toEqual({ add: 'crm.deal.add', rows: 'crm.deal.productrows.set' });
    expect(cmds.rows!.params.id).toBe('$result[add]');
    expect(cmds.add!.params.fields).toEqual({
      TITLE: `Заказ ${o.number} с портала`, COMPANY_ID: '2917', CONTACT_ID: '55', ORIGIN_ID: o.number, ORIGINATOR_ID: 'magistral',
      CURRENCY_ID: 'RUB', OPPORTUNITY: o.total.replace(/\.?0+$/, ''), COMMENTS: 'доставка до 12:00',
      SOURCE_DESCRIPTION: expect.stringContaining('ИНН 7704010015'),
    });
    expect(cmds.rows!.params.rows).toEqual({
      0: { PRODUCT_NAME: 'Автомат 16А', PRICE: expect.stringMatching(/^\d+(\.\d+)?$/), QUANTITY: '2', MEASURE_NAME: expect.any(String) },
      1: { PRODUCT_ID: '689', PRODUCT_NAME: 'Кабель ВВГнг 3x2,5', PRICE: expect.stringMatching(/^\d+(\.\d+)?$/), QUANTITY: '1.25', MEASURE_NAME: expect.any(String) },
    });
    // The deal is the export's reference; the order's ERP number stays the ERP's.
    expect(await exportOf(o.number)).toMatchObject({ state: 'sent', attempts: 1, external_ref: '394', external_number: null });
    expect((await statusOf(o.number)).erpNumber).toBeNull();
    expect(await enqueueDueOrders(fx.tp.rt)).toBe(0);
  });

  it('a repeated send finds the deal by ORIGIN_ID instead of adding a second', async () => {
    const look = lookup([{ ID: '395', STAGE_ID: 'NEW' }]);
    let cmds: ReturnType<typeof batchCommands> = {};
    const scope = nock(HOST).post(`${HOOK}batch.json`, (b) => { cmds = batchCommands(b); return true; }).reply(200, batchOk({ update: true, rows: true }));
    const o = await place([{ sku: 'P3', quantity: '4' }]);
    numbers.push(o.number);
    await until('the export', async () => (await exportOf(o.number))?.state === 'sent');
    expect(look.seen).toHaveLength(1);
    expect(scope.isDone()).toBe(true);
    expect(cmds).toMatchObject({ update: { method: 'crm.deal.update', params: { id: '395' } }, rows: { method: 'crm.deal.productrows.set', params: { id: '395' } } });
    expect(await exportOf(o.number)).toMatchObject({ external_ref: '395', attempts: 1 });
  });

  it('a new version of a sent order updates its deal and sets its rows again', async () => {
    const number = numbers[0]!;
    lookup([{ ID: '394', STAGE_ID: 'NEW' }]);
    let updated: FormTree = {};
    const scope = nock(HOST).post(`${HOOK}batch.json`, (b) => { const c = batchCommands(b); updated = c.update!.params; return c.update!.params.id === '394' && c.rows!.params.id === '394'; })
      .reply(200, batchOk({ update: true, rows: true }));
    expect(await applyOrderChange(fx.tp.rt.db, { number }, { comment: 'позвонить перед доставкой' }, 'manager')).toEqual({ found: true, changed: ['comment'] });
    await until('the update', async () => scope.isDone());
    expect(updated.fields).toMatchObject({ COMMENTS: 'позвонить перед доставкой', ORIGIN_ID: number, COMPANY_ID: '2917' });
    await until('the export of the new version', async () => {
      const r = await fx.tp.rt.pool.query(`SELECT e.version = o.updated_at AS ok FROM order_exports e JOIN orders o ON o.id = e.order_id JOIN flows f ON f.id = e.flow_id WHERE o.number = $1 AND f.name = 'b24-deals'`, [number]);
      return r.rows[0]?.ok === true;
    });
  });

  it('deal stages come back as order statuses by the statuses pull (crm.deal.list by ids)', async () => {
    const [a, b] = numbers as [string, string];
    let asked: FormTree = {};
    nock(HOST).post(`${HOOK}crm.deal.list.json`, (body) => { const f = form(body); asked = f; return (f.filter as FormTree)['@ID'] !== undefined; })
      .reply(200, ok([{ ID: '394', STAGE_ID: 'EXECUTING', ORIGIN_ID: a, ORIGINATOR_ID: 'magistral' }, { ID: '395', STAGE_ID: 'C1:UC_SHIP', ORIGIN_ID: b, ORIGINATOR_ID: 'magistral' }], { total: 2 }));
    expect(await pullOrderStatuses(fx.tp.rt, { force: true })).toEqual(['b24-deals']);
    expect(Object.values((asked.filter as FormTree)['@ID'] as FormTree).sort()).toEqual(['394', '395']);
    expect((await statusOf(a)).status.code).toBe('in_work');
    expect(await statusOf(b)).toMatchObject({ status: { code: 'shipped' }, shipped: true });
    // A status that came from the deal is not a change to send back to it.
    const due = await fx.tp.rt.pool.query(`SELECT o.number, o.updated_at, e.version, e.state FROM orders o LEFT JOIN order_exports e ON e.order_id = o.id`);
    expect(await enqueueDueOrders(fx.tp.rt), JSON.stringify(due.rows)).toBe(0);
  });

  it('deal stages come back by ONCRMDEALUPDATE events at /exchange/webhooks/<flow>; a deal another integration made is not ours', async () => {
    const [a, b] = numbers as [string, string];
    let asked: unknown;
    // Deal 500 names order b in ORIGIN_ID, but another shop's integration made it: its stage is no status of ours.
    nock(HOST).post(`${HOOK}crm.deal.list.json`, (body) => { asked = (form(body).filter as FormTree)['@ID']; return asked !== undefined; })
      .reply(200, ok([{ ID: '394', STAGE_ID: 'LOSE', ORIGIN_ID: a, ORIGINATOR_ID: 'magistral' }, { ID: '500', STAGE_ID: 'LOSE', ORIGIN_ID: b, ORIGINATOR_ID: 'other-shop' }], { total: 2 }));
    const post = (id: string, token: string) => fx.app.inject({
      method: 'POST', url: '/exchange/webhooks/b24-deals', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: encodeForm({ event: 'ONCRMDEALUPDATE', data: { FIELDS: { ID: id } }, ts: '1765000000', auth: { domain: 'b24-deals.example.test', application_token: token } }),
    });
    expect((await post('394', 'wrong')).statusCode).toBe(401);
    for (const id of ['394', '500']) {
      const r = await post(id, TOKEN);
      expect(r.statusCode, r.body).toBe(200);
    }
    await until('the cancellation', async () => (await statusOf(a)).status.code === 'cancelled');
    expect(Object.values(asked as FormTree).sort()).toEqual(['394', '500']);
    expect(await statusOf(a)).toMatchObject({ status: { code: 'cancelled' }, cancelled: true });
    expect(await statusOf(b)).toMatchObject({ status: { code: 'shipped' }, cancelled: false });
    expect(nock.pendingMocks()).toEqual([]);
  });

  it('an order cancelled in the portal moves its deal to LOSE', async () => {
    const b = numbers[1]!;
    lookup([{ ID: '395', STAGE_ID: 'C1:UC_SHIP' }]);
    let updated: FormTree = {};
    const scope = nock(HOST).post(`${HOOK}batch.json`, (body) => { const c = batchCommands(body); updated = c.update!.params; return c.update!.params.id === '395'; })
      .reply(200, batchOk({ update: true, rows: true }));
    expect((await applyOrderChange(fx.tp.rt.db, { number: b }, { status: 'cancelled', cancelled: true }, 'manager')).changed).toEqual(['status', 'cancelled']);
    await until('the update', async () => scope.isDone());
    expect(updated.fields).toMatchObject({ STAGE_ID: 'LOSE', ORIGIN_ID: b });
  });

  it('rows refused after the deal was added: retried, and the retry finds the deal and sets them', async () => {
    const first = lookup([]);
    nock(HOST).post(`${HOOK}batch.json`).once()
      .reply(200, batchOk({ add: 397 }, { rows: { error: 'INTERNAL_SERVER_ERROR', error_description: 'Internal server error' } }));
    const o = await place([{ sku: 'P3', quantity: '1' }]);
    await until('the first attempt', async () => first.seen.length === 1);
    const again = lookup([{ ID: '397', STAGE_ID: 'NEW' }]);
    let cmds: ReturnType<typeof batchCommands> = {};
    nock(HOST).post(`${HOOK}batch.json`, (b) => { cmds = batchCommands(b); return true; }).reply(200, batchOk({ update: true, rows: true }));
    const row = await until('the export', async () => { const r = await exportOf(o.number); return r?.state === 'sent' && r; });
    expect(again.seen).toHaveLength(1);
    expect(cmds).toMatchObject({ update: { params: { id: '397' } }, rows: { params: { id: '397' } } });
    expect(row).toMatchObject({ external_ref: '397', attempts: 2 });
  });

  it('Bitrix24 refusing the webhook (INVALID_CREDENTIALS) fails the send at once, with the remote\'s code and never the secret', async () => {
    nock(HOST).post(`${HOOK}crm.deal.list.json`).reply(401, { error: 'INVALID_CREDENTIALS', error_description: 'Invalid request credentials' });
    const o = await place([{ sku: 'P2', quantity: '1' }]);
    const row = await until('the failed export', async () => { const r = await exportOf(o.number); return r?.state === 'failed' && r; });
    expect(row).toMatchObject({ attempts: 1, last_error_code: 'MAG_ERR_SEND_REFUSED' });
    expect(row.last_error).toContain('INVALID_CREDENTIALS — Invalid request credentials');
    expect(row.last_error).not.toContain('d3alsw3bh00k5');
  });

  it('a 503 (QUERY_LIMIT_EXCEEDED) is waited out and sent again; the deal is added once', async () => {
    nock(HOST).post(`${HOOK}crm.deal.list.json`).reply(503, { error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' });
    lookup([]);
    const scope = nock(HOST).post(`${HOOK}batch.json`).once().reply(200, batchOk({ add: 396, rows: true }));
    const o = await place([{ sku: 'P1', quantity: '3' }]);
    await until('the deal after the limit', async () => (await exportOf(o.number))?.state === 'sent');
    expect(scope.isDone()).toBe(true);
    expect(await exportOf(o.number)).toMatchObject({ state: 'sent', external_ref: '396' });
  });
});
