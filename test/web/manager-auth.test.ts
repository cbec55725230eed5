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
});
