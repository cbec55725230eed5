// The manager workplace and "work as client" end to end in chromium on the demo data: the manager signs
// in, opens an own client, works as the client (the banner on every page), adds to the cart and places an
// order; the client, signed in in a second browser context, sees «Оформлен вашим менеджером …»; the
// client's audit trail lists the start, the cart change and the order with the address; logout ends it;
// 30 minutes (expires_at moved in the database) end it on the next request; another manager's client is
// 403 and audited (the page and a direct POST); orders, sign-ups and the impersonation history pages.
import { sql } from 'kysely';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditTrail } from '../../src/backoffice/audit.ts';
import { registerBuyer } from '../../src/cabinet/accounts.ts';
import { launchBrowser, shot } from '../helpers/browser.ts';
import { cabinetFixture, DEMO_MANAGERS, DEMO_USERS, type CabinetFixture } from '../helpers/cabinet.ts';

let f: CabinetFixture;
let browser: Browser;
let mgr: BrowserContext;
let page: Page;
const ids: Record<string, number> = {};

beforeAll(async () => {
  [f, browser] = await Promise.all([cabinetFixture('mgrwork'), launchBrowser()]);
  for (const c of await f.tp.rt.db.selectFrom('clients').select(['id', 'code']).execute()) ids[c.code] = Number(c.id);
  mgr = await browser.newContext({ locale: 'ru-RU', viewport: { width: 1280, height: 900 } });
  page = await mgr.newPage();
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await f?.close();
});

const text = async (p: Page, selector: string): Promise<string> => (await p.locator(selector).first().innerText()).replace(/\s+/g, ' ').trim();
const db = () => f.tp.rt.db;

describe('the manager workplace', () => {
  let orderNumber = '';

  it('lists own clients with legal entities and orders, and shows a client card with contacts and agreements', async () => {
    await f.signInManager(page, DEMO_MANAGERS.m1);
    expect(await page.locator('tr[data-client]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-client')))).toEqual(['C1', 'C3']);
    expect(await text(page, 'tr[data-client="C1"]')).toMatch(/ГК Энергомонтаж C1 Москва АО «Энергомонтаж-Сервис», ООО «Энергомонтаж» 0 — 0 .*₽ \/ .*₽/);
    await shot(page, 'manager-home', 'backoffice');

    await page.getByRole('link', { name: 'ГК Энергомонтаж' }).click();
    await page.waitForURL(`**/manager/clients/${ids.C1}`);
    expect(await text(page, 'h1')).toBe('ГК Энергомонтаж C1');
    expect(await text(page, '[data-legal-entity="LE1"]')).toMatch(/ИНН \/ КПП 7704010015 \/ 770401001/);
    expect(await text(page, 'tr[data-contact="P1"]')).toMatch(/Алексей Смирнов.*руководитель.*пароль задан, ни разу не входил/);
    // The credit block is the credit module's fragment, loaded by htmx into the card's slot.
    await page.waitForFunction(() => document.querySelector('#credit')?.textContent?.includes('Отсрочка'));
    expect(await text(page, 'table.agreements tr[data-agreement="A2"]')).toMatch(/Дилерский договор № 7 A2 АО «Энергомонтаж-Сервис» .* 3 % 500 000,00 ₽ 45 дн\./);
    await shot(page, 'manager-client-card', 'backoffice');
  });

  it('invites a contact without cabinet access from the card', async () => {
    await page.goto(`${f.baseUrl}/manager/clients/${ids.C3}`);
    expect(await text(page, 'tr[data-contact="P4"] .cabinet-status')).toBe('нет доступа');
    await page.locator('tr[data-contact="P4"]').getByRole('button', { name: 'Пригласить' }).click();
    await page.waitForURL(/invited=/);
    expect(await text(page, '#flash')).toBe('Приглашение отправлено на e.volkova@svetotehnika.example: в письме ссылка для входа в кабинет.');
    expect(await text(page, 'tr[data-contact="P4"] .cabinet-status')).toMatch(/^приглашён, пароль не задан/);
    const mail = await db().selectFrom('email_outbox').select(['to_address', 'subject']).where('to_address', '=', 'e.volkova@svetotehnika.example').executeTakeFirst();
    expect(mail?.subject).toBe('Приглашение в личный кабинет');
  });

  it('works as the client: banner on every page, cart, order placed by the manager, seen by the client; logout ends it', async () => {
    await page.goto(`${f.baseUrl}/manager/clients/${ids.C1}`);
    await page.getByLabel('От имени контакта').selectOption({ label: 'Алексей Смирнов — руководитель' });
    await page.getByLabel('Юрлицо').selectOption({ label: 'ООО «Энергомонтаж» (ИНН 7704010015)' });
    await page.getByRole('button', { name: 'Работать как клиент' }).click();
    await page.waitForURL((u) => u.pathname === '/cabinet');
    const banner = /^Вы работаете как клиент ГК Энергомонтаж \(А\. Смирнов\) — менеджер Ирина Петрова\. Сеанс до \d\d:\d\d\. Завершить$/;
    expect(await text(page, '#impersonation-banner')).toMatch(banner);
    await shot(page, 'impersonation-banner', 'backoffice');
    for (const path of ['/cabinet/catalog', '/cabinet/orders', '/cabinet/account', '/cabinet/cart']) {
      await page.goto(`${f.baseUrl}${path}`);
      expect(await text(page, '#impersonation-banner'), path).toMatch(banner);
      if (path === '/cabinet/account') {
        expect(await text(page, '#impersonation-refusal')).toMatch(/может изменить только он сам/);
        expect(await page.locator('input[name="current"]').count()).toBe(0);
        await shot(page, 'impersonation-account-refused', 'backoffice');
      }
    }
    expect(await text(page, 'h1')).toBe('Корзина ООО «Энергомонтаж»');
    await page.getByLabel('Код товара').fill('SKU-00001');
    await page.getByLabel('Количество', { exact: true }).fill('2');
    await page.getByRole('button', { name: 'Добавить в корзину' }).first().click();
    await page.waitForURL(/\/cabinet\/cart\?/);
    expect(await text(page, '#flash')).toBe('В корзину добавлена 1 позиция.');
    await shot(page, 'impersonation-cart', 'backoffice');
    await page.getByRole('button', { name: /Оформить заказ на/ }).click();
    await page.waitForURL(/\/cabinet\/orders\/M-\d+\?placed=1/);
    orderNumber = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
    expect(await text(page, '.order-head')).toMatch(/Оформлен вашим менеджером Ирина Петрова/);
    expect(await text(page, '#impersonation-banner')).toMatch(banner);
    await shot(page, 'impersonation-order', 'backoffice');

    // The client in its own browser: the order says who placed it; no banner there.
    const client = await browser.newContext({ locale: 'ru-RU' });
    const cp = await client.newPage();
    await f.signIn(cp, DEMO_USERS.head);
    expect(await cp.locator('#impersonation-banner').count()).toBe(0);
    await cp.goto(`${f.baseUrl}/cabinet/orders`);
    expect(await text(cp, `tr[data-order="${orderNumber}"]`)).toMatch(/Алексей Смирнов Оформлен вашим менеджером Ирина Петрова/);
    await cp.goto(`${f.baseUrl}/cabinet/orders/${encodeURIComponent(orderNumber)}`);
    expect(await text(cp, '.order-head')).toMatch(/Оформил Оформлен вашим менеджером Ирина Петрова от имени: Алексей Смирнов/);
    expect(await text(cp, 'ol.history')).toMatch(/Заказ оформлен на портале вашим менеджером/);
    await shot(cp, 'client-sees-manager-order', 'backoffice');
    await client.close();

    // «Выйти» in the cabinet ends the impersonation and returns to the client's card.
    await page.getByRole('button', { name: 'Выйти' }).click();
    await page.waitForURL(`**/manager/clients/${ids.C1}?impersonation=logout`);
    expect(await text(page, '#flash')).toBe('Вы вышли из кабинета клиента: сеанс работы как клиент завершён.');
    const imp = await db().selectFrom('impersonations').select(['id', 'end_reason', 'ip']).where('client_id', '=', ids.C1!).orderBy('id', 'desc').executeTakeFirstOrThrow();
    expect(imp.end_reason).toBe('logout');
    expect((await mgr.cookies()).find((c) => c.name === 'mg_cab')).toBeUndefined();

    // The card's audit trail: start, the cart change, the order, the end — with the address.
    const rows = await page.locator('table.audit tbody tr').evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).innerText.replace(/\s+/g, ' ').trim()));
    const recent = rows.slice(0, 4).join('\n');
    expect(recent).toMatch(/Ирина Петрова как клиент Работа как клиент завершена: выход из кабинета 127\.0\.0\.1/);
    expect(recent).toMatch(new RegExp(`Ирина Петрова как клиент Оформлен заказ ${orderNumber} 127\\.0\\.0\\.1`));
    expect(recent).toMatch(/Ирина Петрова как клиент Добавление в корзину: SKU-00001 × 2 127\.0\.0\.1/);
    expect(recent).toMatch(/Ирина Петрова как клиент Начата работа как клиент \(контакт Алексей Смирнов\) 127\.0\.0\.1/);
    const trail = await auditTrail(db(), { impersonationId: Number(imp.id) });
    expect(trail.map((t) => t.action)).toEqual(['impersonation.end', 'order.place', 'http.post', 'impersonation.start']);
    expect(trail.every((t) => t.ip === '127.0.0.1' && t.clientId === ids.C1)).toBe(true);
    await shot(page, 'manager-client-audit', 'backoffice');
  });

  it('ends the impersonation after 30 minutes at the next request (expires_at moved back in the database)', async () => {
    await page.goto(`${f.baseUrl}/manager/clients/${ids.C1}`);
    await page.getByRole('button', { name: 'Работать как клиент' }).click();
    await page.waitForURL((u) => u.pathname === '/cabinet');
    await page.goto(`${f.baseUrl}/cabinet/catalog`);
    expect(await page.locator('#impersonation-banner').count()).toBe(1);
    await sql`UPDATE impersonations SET expires_at = now() - interval '1 second' WHERE client_id = ${ids.C1} AND ended_at IS NULL`.execute(db());
    await page.goto(`${f.baseUrl}/cabinet/cart`);
    await page.waitForURL(`**/manager/clients/${ids.C1}?impersonation=expired`);
    expect(await text(page, '#flash')).toBe('Сеанс работы как клиент завершён: прошло 30 минут.');
    const imp = await db().selectFrom('impersonations').select('end_reason').where('client_id', '=', ids.C1!).orderBy('id', 'desc').executeTakeFirstOrThrow();
    expect(imp.end_reason).toBe('expired');
    await page.goto(`${f.baseUrl}/cabinet/cart`);
    expect(new URL(page.url()).pathname).toBe('/cabinet/login');
  });

  it("«Завершить» in the banner returns to the card; the history page lists each session with its actions", async () => {
    await page.goto(`${f.baseUrl}/manager/clients/${ids.C3}`);
    await page.getByRole('button', { name: 'Работать как клиент' }).click();
    await page.waitForURL((u) => u.pathname === '/cabinet');
    expect(await text(page, '#impersonation-banner')).toMatch(/^Вы работаете как клиент Светотехника \(Е\. Волкова\) — менеджер Ирина Петрова\./);
    await page.getByRole('button', { name: 'Завершить' }).click();
    await page.waitForURL(`**/manager/clients/${ids.C3}?impersonation=ended`);
    expect(await text(page, '#flash')).toBe('Сеанс работы как клиент завершён.');

    await page.getByRole('link', { name: 'Работа за клиента' }).click();
    await page.waitForURL('**/manager/impersonations');
    const sections = page.locator('section.impersonation');
    expect(await sections.count()).toBe(3);
    expect(await text(page, 'section.impersonation >> nth=0')).toMatch(/^Светотехника — от имени Елена Волкова, ООО «Светотехника».*завершён/);
    expect(await text(page, 'section.impersonation >> nth=1')).toMatch(/истекли 30 минут/);
    expect(await text(page, 'section.impersonation >> nth=2')).toMatch(new RegExp(`выход из кабинета.*Оформлен заказ ${orderNumber}`));
    await shot(page, 'manager-impersonations', 'backoffice');
  });

  it("another manager's client is 403 and audited: the card, the form's POST, the order page", async () => {
    const res = await page.goto(`${f.baseUrl}/manager/clients/${ids.C2}`);
    expect(res?.status()).toBe(403);
    expect(await text(page, '#flash')).toBe('Клиент «ИП Сидоров А. В.» закреплён за другим менеджером: действие не выполнено.');
    await shot(page, 'manager-foreign-client', 'backoffice');
    // A direct POST with a valid token (as a crafted form would send it).
    const csrf = JSON.parse((await page.locator('body').getAttribute('hx-headers'))!)['X-CSRF-Token'] as string;
    const post = await page.request.post(`${f.baseUrl}/manager/clients/${ids.C2}/impersonate`, { form: { _csrf: csrf, contact: '', legalEntity: '' }, maxRedirects: 0 });
    expect(post.status()).toBe(403);
    expect(await db().selectFrom('impersonations').select('id').where('client_id', '=', ids.C2!).execute()).toEqual([]);
    expect((await mgr.cookies()).find((c) => c.name === 'mg_cab')).toBeUndefined();
    const denied = (await auditTrail(db(), { clientId: ids.C2! })).filter((e) => e.outcome === 'denied');
    expect(denied.map((e) => e.action)).toEqual(['impersonation.start', 'client.view']);
    expect(denied.every((e) => e.actorName === 'Ирина Петрова' && e.ip === '127.0.0.1')).toBe(true);

    // An order of another manager's client, by number: refused the same way; an unknown one is 404.
    const foreign = await db().insertInto('orders').values({
      number: 'M-FOREIGN', client_id: ids.C2!, legal_entity_id: Number((await db().selectFrom('legal_entities').select('id').where('code', '=', 'LE3').executeTakeFirstOrThrow()).id),
      currency: 'RUB', total: '1.00',
    }).returning('number').executeTakeFirstOrThrow();
    expect((await page.goto(`${f.baseUrl}/manager/orders/${foreign.number}`))?.status()).toBe(403);
    expect((await page.goto(`${f.baseUrl}/manager/orders/M-NOPE`))?.status()).toBe(404);
    expect((await page.goto(`${f.baseUrl}/manager/clients/999999`))?.status()).toBe(404);
  });

  it('lists the orders of own clients with filters and opens one', async () => {
    await page.goto(`${f.baseUrl}/manager/orders`);
    expect(await page.locator('tr[data-order="M-FOREIGN"]').count()).toBe(0);
    expect(await text(page, `tr[data-order="${orderNumber}"]`)).toMatch(/ГК Энергомонтаж ООО «Энергомонтаж» Новый .* Ирина Петрова \(менеджер, от имени Алексей Смирнов\)/);
    await page.getByLabel('Клиент').selectOption({ label: 'Светотехника' });
    await page.getByRole('button', { name: 'Показать' }).click();
    expect(await text(page, 'p.empty')).toBe('Заказов с такими условиями нет.');
    await page.goto(`${f.baseUrl}/manager/orders?client=${ids.C1}&status=new`);
    expect(await page.locator('tr[data-order]').count()).toBe(1);
    await shot(page, 'manager-orders', 'backoffice');
    await page.getByRole('link', { name: orderNumber }).click();
    expect(await text(page, 'h1')).toBe(`Заказ ${orderNumber}`);
    expect(await text(page, 'dl.requisites')).toMatch(/Оформил менеджер Ирина Петрова, работая как клиент/);
    await shot(page, 'manager-order', 'backoffice');
  });

  it('approves a sign-up (the client becomes this manager\'s) and refuses a rejection without a reason', async () => {
    const spb = Number((await db().selectFrom('cities').select('id').where('code', '=', 'spb').executeTakeFirstOrThrow()).id);
    const msk = Number((await db().selectFrom('cities').select('id').where('code', '=', 'msk').executeTakeFirstOrThrow()).id);
    const a = await registerBuyer(db(), { company: 'ООО «Новый покупатель»', inn: '7707083893', contactName: 'Пётр Новиков', email: 'novikov@example.org', password: 'Пароль-123', cityId: msk });
    const b = await registerBuyer(db(), { company: 'ООО «Северный»', inn: '7810001238', contactName: 'Анна Северова', email: 'sever@example.org', password: 'Пароль-123', cityId: spb });
    await page.goto(`${f.baseUrl}/manager/signups`);
    // M1's clients are in Moscow and Yekaterinburg: the Petersburg one is under «Все заявки».
    expect(await page.locator('tr[data-signup]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-signup')))).toEqual([String(a.signupId)]);
    await page.getByRole('link', { name: 'Все заявки' }).click();
    expect(await page.locator('tr[data-signup]').count()).toBe(2);
    await shot(page, 'manager-signups', 'backoffice');
    await page.locator(`tr[data-signup="${b.signupId}"]`).getByRole('button', { name: 'Отклонить' }).click();
    expect(await text(page, '#flash')).toBe('Укажите причину отказа: её получит заявитель.');
    await page.goto(`${f.baseUrl}/manager/signups`);
    await page.locator(`tr[data-signup="${a.signupId}"]`).getByRole('button', { name: 'Одобрить' }).click();
    await page.waitForURL(/done=approved/);
    expect(await text(page, '#flash')).toMatch(/^Заявка одобрена: клиент закреплён за вами/);
    const c = await db().selectFrom('clients').select(['manager_id', 'pending']).where('id', '=', a.clientId).executeTakeFirstOrThrow();
    expect(c).toEqual({ manager_id: Number((await db().selectFrom('managers').select('id').where('code', '=', 'M1').executeTakeFirstOrThrow()).id), pending: false });
    expect((await auditTrail(db(), { clientId: a.clientId }, 1))[0]).toMatchObject({ action: 'signup.approve', actorName: 'Ирина Петрова' });
    await page.goto(`${f.baseUrl}/manager`);
    expect(await page.locator('tr[data-client]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-client')))).toContain(`WEB-${a.signupId}`);
  });
});
