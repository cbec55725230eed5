// Reconciliation acts asked of 1C from the cabinet, in a real browser on the demo data: the head of LE1
// asks, the fake 1C (an in-process node:http server as the base's HTTP service) first says it is still
// building, the list shows «Запрошен — 1С готовит акт» and, polled by htmx, «Готов» with a link whose
// download is exactly the fake's PDF; a counterparty 1C does not know shows «Не получен» with the reason.
// A subordinate without stage-2 rights gets no button and a forged POST is refused (403, audited); another
// client's id and a forged one are 404; a manager working as the client is recorded and audited as the
// manager; on-call sees the requests at /admin/api/act-requests.
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, shot } from '../helpers/browser.ts';
import { cabinetFixture, DEMO_USERS, type CabinetFixture } from '../helpers/cabinet.ts';

const PASSWORD_ENV = 'ONEC_ACTS_WEB_PASSWORD';
const ADMIN_TOKEN = 'act-requests-admin-token-0123456789';
const ACT = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n% Акт сверки из 1С (fake)\ntrailer << /Root 1 0 R >>\n%%EOF\n', 'utf8');

let f: CabinetFixture;
let browser: Browser;
let fake: Server;
let answer: (url: URL, res: ServerResponse) => void = (_u, res) => res.writeHead(503).end();
const asked: URL[] = [];

beforeAll(async () => {
  process.env[PASSWORD_ENV] = 'web-secret';
  fake = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    asked.push(url);
    answer(url, res);
  });
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  [f, browser] = await Promise.all([cabinetFixture('actsweb', { env: { MAGISTRAL_ADMIN_TOKEN: ADMIN_TOKEN } }), launchBrowser()]);
  await f.tp.applyFlowYaml(`
apiVersion: magistral/v1
kind: Flow
name: onec-acts
source:
  connector: onec.http
  system: onec
  options: { url: "http://127.0.0.1:${(fake.address() as AddressInfo).port}/trade/hs/portal", user: portal, passwordEnv: ${PASSWORD_ENV} }
target: reconciliationActs
mode: delta
retry: { attempts: 100, backoff: fixed, delayMs: 200 }
`);
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await f?.close();
  await new Promise((resolve) => fake?.close(resolve));
  delete process.env[PASSWORD_ENV];
});

const rowOf = (page: Page, from: string) => page.locator('#act-requests tr[data-request]', { hasText: from });
const csrfOf = async (page: Page): Promise<string> => (JSON.parse((await page.locator('body').getAttribute('hx-headers'))!) as Record<string, string>)['X-CSRF-Token']!;
const denied = async (action: string) => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM audit_log WHERE action = ${action} AND outcome = 'denied'`.execute(f.tp.rt.db)).rows[0]!.n;

describe('reconciliation acts asked of 1C in the cabinet', () => {
  let requestId = 0;

  it('the head of LE1 asks 1C for an act, sees it being prepared, then «Готов», and downloads 1C\'s own PDF', async () => {
    let ready = false;
    answer = (_u, res) => (ready
      ? res.writeHead(200, { 'content-type': 'application/pdf', 'x-act-number': encodeURIComponent('АС-17') }).end(ACT)
      : res.writeHead(202, { 'content-type': 'text/plain; charset=utf-8' }).end('Акт формируется'));
    const page = await browser.newPage();
    await f.signIn(page, DEMO_USERS.head);
    await page.goto(`${f.baseUrl}/cabinet/balance`);
    const form = page.locator('section.act-form form');
    await form.locator('select[name="legalEntity"]').selectOption('LE1');
    await form.locator('input[name="from"]').fill('2026-01-01');
    await form.locator('input[name="to"]').fill('2026-11-30');
    await Promise.all([page.waitForURL(/\/cabinet\/balance#act-requests$/), form.getByRole('button', { name: 'Запросить акт из 1С' }).click()]);
    const row = rowOf(page, '01.01.2026 – 30.11.2026');
    await expect.poll(async () => (await row.innerText()).replace(/\s+/g, ' ')).toContain('Запрошен — 1С готовит акт');
    expect((await row.innerText()).replace(/\s+/g, ' ')).toContain('ООО «Энергомонтаж»');
    requestId = Number(await row.getAttribute('data-request'));
    await until1C(() => asked.some((u) => u.searchParams.get('request') === String(requestId)));
    const q = asked.find((u) => u.searchParams.get('request') === String(requestId))!;
    expect(q.pathname).toBe('/trade/hs/portal/reconciliation-act');
    expect(Object.fromEntries(q.searchParams)).toMatchObject({ inn: '7704010015', kpp: '770401001', from: '2026-01-01', to: '2026-11-30' });
    await shot(page, 'act-request-pending', 'backoffice');

    // 1C is done: the list, polled while something is pending, turns to «Готов» without a reload.
    ready = true;
    await expect.poll(async () => row.getAttribute('data-state'), { timeout: 20_000 }).toBe('done');
    expect((await row.innerText()).replace(/\s+/g, ' ')).toContain('Готов');
    await shot(page, 'act-request-ready', 'backoffice');
    const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('link', { name: 'Скачать акт № АС-17 (PDF)' }).click()]);
    expect(download.suggestedFilename()).toMatch(/\.pdf$/);
    expect(await readFile((await download.path())!)).toEqual(ACT);
    const audited = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM audit_log WHERE action = 'reconciliation.request' AND outcome = 'ok'`.execute(f.tp.rt.db)).rows[0]!.n;
    expect(audited).toBe(1);
    await page.close();
  });

  it('shows «Не получен» with the reason when 1C does not know the counterparty', async () => {
    answer = (_u, res) => res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Контрагент не найден');
    const page = await browser.newPage();
    await f.signIn(page, DEMO_USERS.head);
    await page.goto(`${f.baseUrl}/cabinet/balance`);
    const form = page.locator('section.act-form form');
    await form.locator('select[name="legalEntity"]').selectOption('LE2');
    await form.locator('input[name="from"]').fill('2026-03-01');
    await form.locator('input[name="to"]').fill('2026-03-31');
    await Promise.all([page.waitForURL(/#act-requests$/), form.getByRole('button', { name: 'Запросить акт из 1С' }).click()]);
    const row = rowOf(page, '01.03.2026 – 31.03.2026');
    await expect.poll(async () => row.getAttribute('data-state'), { timeout: 20_000 }).toBe('failed');
    expect((await row.innerText()).replace(/\s+/g, ' ')).toContain('Не получен: 1С не нашла ваше юрлицо или договор. Обратитесь к менеджеру.');
    await shot(page, 'act-request-failed', 'backoffice');
    await page.close();
  });

  it('gives a subordinate without stage-2 rights no button and refuses a forged request (403, audited) and the PDF', async () => {
    const page = await browser.newPage();
    await f.signIn(page, DEMO_USERS.subordinate);
    const r = await page.goto(`${f.baseUrl}/cabinet/balance`);
    expect(r?.status()).toBe(403);
    expect(await page.getByRole('button', { name: 'Запросить акт из 1С' }).count()).toBe(0);
    await shot(page, 'act-request-subordinate-403', 'backoffice');
    const before = await denied('reconciliation.request');
    const requests = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM act_requests`.execute(f.tp.rt.db)).rows[0]!.n;
    const post = await page.request.post(`${f.baseUrl}/cabinet/balance/act-requests`, {
      headers: { 'x-csrf-token': await csrfOf(page) }, form: { legalEntity: 'LE1', from: '2026-01-01', to: '2026-02-28' }, maxRedirects: 0,
    });
    expect(post.status()).toBe(403);
    expect(await post.text()).toContain('Баланс и взаиморасчёты доступны руководителю и сотрудникам, чьи полномочия подтвердил руководитель.');
    expect(await denied('reconciliation.request')).toBe(before + 1);
    expect((await sql<{ n: number }>`SELECT count(*)::int AS n FROM act_requests`.execute(f.tp.rt.db)).rows[0]!.n).toBe(requests);
    // The head's act is not the subordinate's to download either.
    const pdf = await page.request.get(`${f.baseUrl}/cabinet/balance/act-requests/${requestId}/pdf`);
    expect(pdf.status()).toBe(403);
    expect(pdf.headers()['content-type']).not.toBe('application/pdf');
    await page.close();
  });

  it('records the manager who asks while working as the client (impersonation), and audits it as the manager', async () => {
    answer = (_u, res) => res.writeHead(200, { 'content-type': 'application/pdf' }).end(ACT);
    const db = f.tp.rt.db;
    const c1 = await db.selectFrom('clients').select('id').where('code', '=', 'C1').executeTakeFirstOrThrow();
    const m1 = await db.selectFrom('managers').select('id').where('code', '=', 'M1').executeTakeFirstOrThrow();
    const page = await browser.newPage();
    await f.signInManager(page);
    await page.goto(`${f.baseUrl}/manager/clients/${c1.id}`);
    await page.getByLabel('От имени контакта').selectOption({ label: 'Алексей Смирнов — руководитель' });
    await page.getByLabel('Юрлицо').selectOption({ label: 'ООО «Энергомонтаж» (ИНН 7704010015)' });
    await page.getByRole('button', { name: 'Работать как клиент' }).click();
    await page.waitForURL((u) => u.pathname === '/cabinet');
    await page.goto(`${f.baseUrl}/cabinet/balance`);
    const form = page.locator('section.act-form form');
    await form.locator('select[name="legalEntity"]').selectOption('LE1');
    await form.locator('input[name="from"]').fill('2026-05-01');
    await form.locator('input[name="to"]').fill('2026-05-31');
    await Promise.all([page.waitForURL(/#act-requests$/), form.getByRole('button', { name: 'Запросить акт из 1С' }).click()]);
    const row = rowOf(page, '01.05.2026 – 31.05.2026');
    await expect.poll(async () => row.getAttribute('data-state'), { timeout: 20_000 }).toBe('done');
    const id = Number(await row.getAttribute('data-request'));
    const r = await db.selectFrom('act_requests').select(['manager_id', 'contact_id']).where('id', '=', id).executeTakeFirstOrThrow();
    const p1 = await db.selectFrom('contacts').select('id').where('code', '=', 'P1').executeTakeFirstOrThrow();
    expect({ manager: r.manager_id, contact: Number(r.contact_id) }).toEqual({ manager: m1.id, contact: Number(p1.id) });
    const entry = await db.selectFrom('audit_log').select(['actor_kind', 'actor_id', 'impersonation_id']).where('action', '=', 'reconciliation.request').orderBy('id', 'desc').executeTakeFirstOrThrow();
    expect(entry).toMatchObject({ actor_kind: 'manager', actor_id: String(m1.id) });
    expect(entry.impersonation_id).not.toBeNull();
    await page.close();
  });

  it('answers 404 to another client\'s head and to a forged id; on-call sees every request', async () => {
    const page = await browser.newPage();
    await f.signIn(page, DEMO_USERS.other);
    for (const id of [String(requestId), '999999', '1x', '0']) {
      const res = await page.request.get(`${f.baseUrl}/cabinet/balance/act-requests/${id}/pdf`);
      expect(res.status(), id).toBe(404);
      expect(res.headers()['content-type']).not.toBe('application/pdf');
    }
    await page.close();

    expect((await f.app.inject({ method: 'GET', url: '/admin/api/act-requests' })).statusCode).toBe(401);
    const res = await f.app.inject({ method: 'GET', url: '/admin/api/act-requests?state=failed', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(res.statusCode).toBe(200);
    const failed = res.json().requests as Array<Record<string, unknown>>;
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      flow: 'onec-acts', state: 'failed', attempts: 1, lastErrorCode: 'MAG_ERR_NOT_FOUND', from: '2026-03-01', to: '2026-03-31',
      legalEntity: { name: 'АО «Энергомонтаж-Сервис»' }, reason: '1С не нашла ваше юрлицо или договор. Обратитесь к менеджеру.',
    });
    expect(String(failed[0]!.lastError)).toContain('HTTP 404 — 1C does not know the counterparty or agreement (INN 7810001238, KPP 781001001); Контрагент не найден');
    const all = (await f.app.inject({ method: 'GET', url: '/admin/api/act-requests', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json().requests as Array<{ id: number; state: string; number: string | null }>;
    expect(all.find((r) => r.id === requestId)).toMatchObject({ state: 'done', number: 'АС-17' });
  });
});

async function until1C(ok: () => boolean): Promise<void> {
  await expect.poll(ok, { timeout: 20_000 }).toBe(true);
}
