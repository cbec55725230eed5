// Sign-in and everything around it, in a real browser on the demo data set: the login form and its
// rate limit, an invitation link read from the e-mail the outbox delivered, a password reset, a
// self-registered buyer who waits for approval, CSRF and expired sessions, the context bar's legal
// entity switch and the "write to manager" form.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { cabinetFixture, DEMO_USERS, type CabinetFixture } from '../helpers/cabinet.ts';
import { launchBrowser, shot } from '../helpers/browser.ts';
import { readMails } from '../helpers/mail.ts';
import { inviteContact, decideSignup } from '../../src/cabinet/accounts.ts';
import { until } from '../helpers/wait.ts';

let f: CabinetFixture;
let browser: Browser;
beforeAll(async () => {
  [f, browser] = await Promise.all([cabinetFixture('cabauth'), launchBrowser()]);
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await f?.close();
});

async function fresh(): Promise<Page> {
  const context = await browser.newContext({ locale: 'ru-RU' });
  return context.newPage();
}

const mailTo = async (to: string, subject: RegExp) =>
  until(`a mail to ${to} about ${subject}`, async () => (await readMails(f.tp.dataDir)).filter((m) => m.to.includes(to) && subject.test(m.subject)).at(-1), 15_000);

describe('sign-in', () => {
  it('sends a visitor of a signed-in page to the login form and back to that page after signing in', async () => {
    const page = await fresh();
    await page.goto(`${f.baseUrl}/cabinet/account?tab=password`);
    expect(new URL(page.url()).pathname).toBe('/cabinet/login');
    await shot(page, 'login');
    await page.getByLabel('Электронная почта').fill(DEMO_USERS.head.email);
    await page.getByLabel('Пароль').fill(DEMO_USERS.head.password);
    await page.getByRole('button', { name: 'Войти' }).click();
    await page.waitForURL((u) => u.pathname === '/cabinet/account');
    expect(new URL(page.url()).search).toBe('?tab=password');
    const session = (await page.context().cookies()).find((c) => c.name === 'mg_cab');
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe('Lax');
    await page.context().close();
  });

  it('refuses a wrong password in Russian, keeps the e-mail, and locks the address after 5 failures', async () => {
    const page = await fresh();
    await page.goto(`${f.baseUrl}/cabinet/login`);
    for (let i = 0; i < 5; i++) {
      await page.getByLabel('Электронная почта').fill(DEMO_USERS.other.email);
      await page.getByLabel('Пароль').fill(`wrong-${i}`);
      await page.getByRole('button', { name: 'Войти' }).click();
      await page.getByRole('alert').waitFor();
      expect(await page.getByRole('alert').textContent()).toContain('Неверный адрес электронной почты или пароль');
      expect(await page.getByLabel('Электронная почта').inputValue()).toBe(DEMO_USERS.other.email);
    }
    // The right password is refused too now: the limit counts failures per address.
    await page.getByLabel('Пароль').fill(DEMO_USERS.other.password);
    await page.getByRole('button', { name: 'Войти' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toMatch(/Слишком много неудачных попыток входа\. Попробуйте снова через \d+ мин/);
    await shot(page, 'login-locked');
    expect(new URL(page.url()).pathname).toBe('/cabinet/login');
    await page.context().close();
  });

  it('invites a contact by e-mail: the link sets the first password and signs in; used once', async () => {
    const inv = await inviteContact(f.tp.rt.db, { contactCode: 'P4', publicUrl: f.baseUrl });
    const mail = await mailTo('e.volkova@svetotehnika.example', /Приглашение/);
    expect(mail.body).toContain(inv.url);
    const page = await fresh();
    await page.goto(inv.url);
    expect(await page.locator('h1').textContent()).toBe('Добро пожаловать!');
    await page.getByLabel('Пароль (не короче').fill('безцифрпароль');
    await page.getByLabel('Пароль ещё раз').fill('безцифрпароль');
    await page.getByRole('button', { name: 'Сохранить пароль и войти' }).click();
    expect(await page.getByRole('alert').textContent()).toContain('Пароль должен содержать буквы и цифры');
    await page.getByLabel('Пароль (не короче').fill('Светлый-пароль-7');
    await page.getByLabel('Пароль ещё раз').fill('Светлый-пароль-7');
    await page.getByRole('button', { name: 'Сохранить пароль и войти' }).click();
    await page.waitForURL((u) => u.pathname === '/cabinet');
    expect(await page.locator('h1').textContent()).toBe('Здравствуйте, Елена!');
    expect(await page.locator('#flash').textContent()).toContain('Пароль сохранён');
    await page.goto(inv.url);
    expect(await page.locator('h1').textContent()).toBe('Ссылка недействительна');
    await page.context().close();
  });

  it('resets a forgotten password through the e-mailed link, and says the same for an unknown address', async () => {
    const page = await fresh();
    await page.goto(`${f.baseUrl}/cabinet/reset`);
    await page.getByLabel('Электронная почта').fill('nobody@example.org');
    await page.getByRole('button', { name: 'Прислать ссылку' }).click();
    const unknown = await page.getByRole('status').textContent();
    await page.goto(`${f.baseUrl}/cabinet/reset`);
    await page.getByLabel('Электронная почта').fill(DEMO_USERS.subordinate.email);
    await page.getByRole('button', { name: 'Прислать ссылку' }).click();
    expect((await page.getByRole('status').textContent())?.replace(DEMO_USERS.subordinate.email, 'X')).toBe(unknown?.replace('nobody@example.org', 'X'));
    const mail = await mailTo(DEMO_USERS.subordinate.email, /Восстановление пароля/);
    const link = /http:\/\/\S+\/cabinet\/password\/\S+/.exec(mail.body)?.[0];
    expect(link).toBeDefined();
    await page.goto(link!);
    await page.getByLabel('Пароль (не короче').fill('Новый-пароль-2');
    await page.getByLabel('Пароль ещё раз').fill('Новый-пароль-2');
    await page.getByRole('button', { name: 'Сохранить пароль и войти' }).click();
    await page.waitForURL((u) => u.pathname === '/cabinet');
    await page.context().close();
    const again = await fresh();
    await f.signIn(again, { email: DEMO_USERS.subordinate.email, password: 'Новый-пароль-2' });
    expect(await again.locator('h1').textContent()).toBe('Здравствуйте, Мария!');
    await again.context().close();
  });

  it('registers a new buyer as pending: base prices, no ordering, a notice; approval lifts it', async () => {
    const page = await fresh();
    await page.goto(`${f.baseUrl}/cabinet/register`);
    await page.getByLabel('Название компании').fill('ООО «Новый покупатель»');
    await page.getByLabel('ИНН').fill('7707083894');
    await page.getByLabel('Контактное лицо').fill('Пётр Новиков');
    await page.getByLabel('Электронная почта (логин)').fill('p.novikov@example.org');
    await page.getByLabel('Пароль (не короче').fill('Регистрация-1');
    await page.getByRole('button', { name: 'Зарегистрироваться' }).click();
    // A wrong check digit is named, the typed values stay.
    expect(await page.getByRole('alert').textContent()).toContain('ИНН 7707083894 не подходит: не сходится контрольная цифра');
    expect(await page.getByLabel('Название компании').inputValue()).toBe('ООО «Новый покупатель»');
    await shot(page, 'register-error');
    await page.getByLabel('ИНН').fill('7707083893');
    await page.getByLabel('Пароль (не короче').fill('Регистрация-1');
    await page.getByRole('button', { name: 'Зарегистрироваться' }).click();
    await page.waitForURL((u) => u.pathname === '/cabinet');
    expect(await page.locator('.notice-warn').textContent()).toContain('регистрация ждёт проверки менеджером');
    expect(await page.locator('dl.requisites').textContent()).toContain('базовые');
    await shot(page, 'register-pending');
    const managerMail = await mailTo('i.petrova@magistral.example', /Новая заявка на регистрацию/);
    expect(managerMail.body).toContain('7707083893');

    const signup = await f.tp.rt.db.selectFrom('cabinet_signups').selectAll().where('inn', '=', '7707083893').executeTakeFirstOrThrow();
    await decideSignup(f.tp.rt.db, signup.id, { approve: true, by: 'test' });
    await page.reload();
    expect(await page.locator('.notice-warn').count()).toBe(0);
    await page.context().close();
  });
});

describe('session and forms', () => {
  it('refuses a form without its CSRF token with a Russian message and changes nothing', async () => {
    const page = await fresh();
    await f.signIn(page);
    const before = await page.locator('#ctx-city').inputValue();
    const r = await page.evaluate(async () => {
      const res = await fetch('/cabinet/context', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'city=spb' });
      return { status: res.status, text: await res.text() };
    });
    expect(r.status).toBe(403);
    expect(r.text).toContain('Форма устарела (нет защитного токена)');
    expect(r.text).not.toMatch(/at .*\.ts:\d+/);
    await page.reload();
    expect(await page.locator('#ctx-city').inputValue()).toBe(before);
    await page.context().close();
  });

  it('switches the legal entity and city from the context bar (htmx), and refuses a legal entity of another client', async () => {
    const page = await fresh();
    await f.signIn(page);
    await page.goto(`${f.baseUrl}/cabinet`);
    await Promise.all([page.waitForEvent('load'), page.locator('#ctx-legal-entity').selectOption('LE1')]);
    expect(await page.locator('.card h2').first().textContent()).toBe('ООО «Энергомонтаж»');
    expect(await page.locator('dl.requisites').textContent()).toContain('7704010015');
    // htmx posts the change and the answer (HX-Refresh) reloads the page.
    await Promise.all([page.waitForEvent('load'), page.locator('#ctx-city').selectOption('spb')]);
    expect(await page.locator('#ctx-city').inputValue()).toBe('spb');
    await shot(page, 'home');
    // LE3 belongs to client C2: the form names it, the answer is "not yours", the session keeps LE1.
    const r = await page.evaluate(async () => {
      const token = JSON.parse(document.body.getAttribute('hx-headers') ?? '{}')['X-CSRF-Token'];
      const res = await fetch('/cabinet/context', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-csrf-token': token }, body: 'legalEntity=LE3' });
      return { status: res.status, text: await res.text() };
    });
    expect(r.status).toBe(404);
    expect(r.text).toContain('Такого юридического лица нет среди ваших');
    expect(r.text).not.toContain('ИП Сидоров');
    await page.reload();
    expect(await page.locator('#ctx-legal-entity').inputValue()).toBe('LE1');
    await page.context().close();
  });

  it('an expired session sends the next page to sign in with a notice', async () => {
    const page = await fresh();
    await f.signIn(page);
    await f.tp.rt.db.updateTable('cabinet_sessions').set({ expires_at: new Date(Date.now() - 1000) }).where('contact_id', 'is not', null).execute();
    await page.goto(`${f.baseUrl}/cabinet/account`);
    expect(new URL(page.url()).pathname).toBe('/cabinet/login');
    expect(await page.getByRole('status').textContent()).toContain('Сессия истекла');
    await page.context().close();
  });

  it('"write to manager" e-mails the personal manager with the contact as Reply-To', async () => {
    const page = await fresh();
    await f.signIn(page);
    await page.goto(`${f.baseUrl}/cabinet`);
    await page.locator('#manager summary').click();
    await shot(page, 'manager-card');
    await page.getByLabel('Написать менеджеру').fill('Нужен счёт на предоплату по заказу M-000123');
    await page.getByRole('button', { name: 'Отправить' }).click();
    await page.locator('#manager-form-result .flash-ok').waitFor();
    const mail = await mailTo('i.petrova@magistral.example', /Сообщение из кабинета: ГК Энергомонтаж/);
    expect(mail.body).toContain('Нужен счёт на предоплату по заказу M-000123');
    expect(mail.body).toContain('Алексей Смирнов');
    expect(mail.replyTo).toContain(DEMO_USERS.head.email);
    await page.context().close();
  });
});
