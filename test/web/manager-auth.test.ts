// The manager workplace's sign-in in a real browser on the demo data set: own clients only, wrong
// passwords refused in Russian, forms without their token refused, sign-out, a disabled login's session
// ending at once, and an invitation link from the e-mail setting the first password.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { cabinetFixture, DEMO_MANAGERS, type CabinetFixture } from '../helpers/cabinet.ts';
import { launchBrowser, shot } from '../helpers/browser.ts';
import { readMails } from '../helpers/mail.ts';
import { until } from '../helpers/wait.ts';
import { disableManager, inviteManager, setManagerPassword } from '../../src/backoffice/managers.ts';

let f: CabinetFixture;
let browser: Browser;
beforeAll(async () => {
  [f, browser] = await Promise.all([cabinetFixture('mgrauth'), launchBrowser()]);
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await f?.close();
});

async function fresh(): Promise<Page> {
  const context = await browser.newContext({ locale: 'ru-RU' });
  return context.newPage();
}

describe('manager sign-in', () => {
  it('sends a visitor to the sign-in page, then shows the manager\'s own clients only', async () => {
    const page = await fresh();
    await page.goto(`${f.baseUrl}/manager`);
    expect(new URL(page.url()).pathname).toBe('/manager/login');
    await f.signInManager(page, DEMO_MANAGERS.m1);
    expect(new URL(page.url()).pathname).toBe('/manager');
    const clients = await page.locator('tr[data-client]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-client')));
    expect(clients.sort()).toEqual(['C1', 'C3']);
    expect(await page.locator('header .user-name').textContent()).toContain(DEMO_MANAGERS.m1.name);
    const cookie = (await page.context().cookies()).find((c) => c.name === 'mg_mgr');
    expect(cookie?.httpOnly).toBe(true);
    expect(cookie?.path).toBe('/manager');
    await page.getByLabel('Поиск клиента').fill('Свет');
    await page.getByRole('button', { name: 'Найти' }).click();
    expect(await page.locator('tr[data-client]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-client')))).toEqual(['C3']);
    await shot(page, 'manager-clients', 'backoffice');
    await page.getByRole('button', { name: 'Выйти' }).click();
    await page.waitForURL((u) => u.pathname === '/manager/login');
    expect(await page.getByRole('status').textContent()).toContain('Вы вышли');
    await page.goto(`${f.baseUrl}/manager`);
    expect(new URL(page.url()).pathname).toBe('/manager/login');
    await page.context().close();
  });

  it('refuses a wrong password in Russian, and a buyer\'s password does not open the workplace', async () => {
    const page = await fresh();
    await page.goto(`${f.baseUrl}/manager/login`);
    await page.getByLabel('Электронная почта').fill(DEMO_MANAGERS.m2.email);
    await page.getByLabel('Пароль').fill('not-the-password-1');
    await page.getByRole('button', { name: 'Войти' }).click();
    expect(await page.getByRole('alert').textContent()).toContain('Неверный адрес электронной почты или пароль');
    await page.getByLabel('Электронная почта').fill('a.smirnov@energomontazh.example');
    await page.getByLabel('Пароль').fill('Пароль-head-1');
    await page.getByRole('button', { name: 'Войти' }).click();
    expect(await page.getByRole('alert').textContent()).toContain('Неверный адрес');
    await page.context().close();
  });

  it('refuses forms without their token: sign-in from another site, sign-out without the session\'s token', async () => {
    const forged = await fetch(`${f.baseUrl}/manager/login`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ email: DEMO_MANAGERS.m1.email, password: DEMO_MANAGERS.m1.password }).toString(), redirect: 'manual',
    });
    expect(forged.status).toBe(403);
    expect(forged.headers.get('set-cookie') ?? '').not.toContain('mg_mgr=');
    const page = await fresh();
    await f.signInManager(page, DEMO_MANAGERS.m2);
    const cookies = (await page.context().cookies()).filter((c) => c.name === 'mg_mgr').map((c) => `${c.name}=${c.value}`).join('; ');
    const noToken = await fetch(`${f.baseUrl}/manager/logout`, { method: 'POST', headers: { cookie: cookies }, redirect: 'manual' });
    expect(noToken.status).toBe(403);
    expect(await noToken.text()).toContain('Форма устарела');
    // Still signed in: the refused sign-out changed nothing.
    await page.goto(`${f.baseUrl}/manager`);
    expect(new URL(page.url()).pathname).toBe('/manager');
    await page.context().close();
  });

  it('ends a disabled manager\'s session at once; an invitation link sets a new password and signs in', async () => {
    const page = await fresh();
    await f.signInManager(page, DEMO_MANAGERS.m2);
    await disableManager(f.tp.rt.db, 'M2');
    await page.goto(`${f.baseUrl}/manager`);
    expect(new URL(page.url()).pathname).toBe('/manager/login');
    expect(await page.getByRole('status').textContent()).toContain('Сессия истекла');
    const inv = await inviteManager(f.tp.rt.db, { code: 'M2', publicUrl: f.baseUrl });
    const mail = await until('the invitation e-mail', async () => (await readMails(f.tp.dataDir)).find((m) => m.to.includes(DEMO_MANAGERS.m2.email) && /Доступ к рабочему месту/.test(m.subject)), 15_000);
    expect(mail.body).toContain(inv.url);
    await page.goto(inv.url);
    await page.getByLabel('Новый пароль').fill('Новый-пароль-42');
    await page.getByRole('button', { name: 'Сохранить и войти' }).click();
    await page.waitForURL((u) => u.pathname === '/manager');
    expect(await page.locator('tr[data-client]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-client')))).toEqual(['C2']);
    await page.goto(inv.url);
    expect(await page.getByRole('alert').textContent()).toContain('Ссылка устарела или уже использована');
    await setManagerPassword(f.tp.rt.db, 'M2', DEMO_MANAGERS.m2.password);
    await page.context().close();
  });

  it('confirms a new order from its page: the status moves, the invoice job is written, the client card links the documents', async () => {
    const db = f.tp.rt.db;
    const c1 = await db.selectFrom('clients').select('id').where('code', '=', 'C1').executeTakeFirstOrThrow();
    const le1 = await db.selectFrom('legal_entities').select('id').where('code', '=', 'LE1').executeTakeFirstOrThrow();
    const number = `MGR-${Date.now()}`;
    const o = await db.insertInto('orders').values({ number, client_id: Number(c1.id), legal_entity_id: Number(le1.id), currency: 'RUB', total: '0.00' }).returning('id').executeTakeFirstOrThrow();
    const page = await fresh();
    await f.signInManager(page, DEMO_MANAGERS.m1);
    await page.goto(`${f.baseUrl}/manager/clients/${c1.id}`);
    expect(await page.getByRole('link', { name: /Документы клиента/ }).getAttribute('href')).toBe(`/manager/clients/${c1.id}/documents`);
    await page.goto(`${f.baseUrl}/manager/orders/${number}`);
    await page.getByRole('button', { name: 'Подтвердить заказ' }).click();
    await page.waitForURL((u) => u.searchParams.get('confirmed') === number);
    expect(await page.locator('.confirm-order').count()).toBe(0);
    expect(await page.getByRole('status').first().textContent()).toContain('Заказ подтверждён');
    await shot(page, 'manager-order-confirmed', 'backoffice');
    expect((await db.selectFrom('orders').select('status').where('id', '=', o.id).executeTakeFirstOrThrow()).status).toBe('confirmed');
    expect(await db.selectFrom('document_jobs').select('kind').where('order_id', '=', Number(o.id)).execute()).toEqual([{ kind: 'invoice' }]);
    // M2 is not this client's manager: the page is refused and nothing is offered.
    const other = await fresh();
    await f.signInManager(other, DEMO_MANAGERS.m2);
    const res = await other.goto(`${f.baseUrl}/manager/orders/${number}`);
    expect(res?.status()).toBe(403);
    await page.context().close();
    await other.context().close();
  });
});
