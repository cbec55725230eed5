// A contact turns e-mail notifications off and on in the cabinet's profile (a real browser): the choice
// is kept on the account and notify() honours it; kinds nobody may turn off are not offered.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { cabinetFixture, DEMO_USERS, type CabinetFixture } from '../helpers/cabinet.ts';
import { launchBrowser, shot } from '../helpers/browser.ts';
import { CONTACT_NOTIFICATION_KINDS, notify } from '../../src/backoffice/notify.ts';

let f: CabinetFixture;
let browser: Browser;
beforeAll(async () => {
  [f, browser] = await Promise.all([cabinetFixture('notifset'), launchBrowser()]);
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await f?.close();
});

describe('notification settings', () => {
  it('turns a kind off and on again from the profile page', async () => {
    const page = await (await browser.newContext({ locale: 'ru-RU' })).newPage();
    await f.signIn(page, DEMO_USERS.subordinate);
    await page.goto(`${f.baseUrl}/cabinet/account#notifications`);
    const boxes = page.locator('#notifications input[type=checkbox]');
    expect(await boxes.count()).toBe(Object.keys(CONTACT_NOTIFICATION_KINDS).length);
    expect(await page.locator('#notifications').textContent()).not.toContain('Восстановление');
    await page.getByLabel(CONTACT_NOTIFICATION_KINDS['order-status']).uncheck();
    await page.getByRole('button', { name: 'Сохранить', exact: true }).click();
    await page.waitForURL((u) => u.searchParams.get('saved') === '1');
    expect(await page.getByRole('status').first().textContent()).toContain('Настройки уведомлений сохранены');
    expect(await page.getByLabel(CONTACT_NOTIFICATION_KINDS['order-status']).isChecked()).toBe(false);
    expect(await page.getByLabel(CONTACT_NOTIFICATION_KINDS['order-confirmed']).isChecked()).toBe(true);
    await shot(page, 'notification-settings', 'backoffice');

    const contact = await f.tp.rt.db.selectFrom('contacts').select('id').where('code', '=', DEMO_USERS.subordinate.code).executeTakeFirstOrThrow();
    const to = { contactId: Number(contact.id) };
    expect(await notify(f.tp.rt.db, { kind: 'order-status', to, subject: 's', text: 't' })).toEqual({ queued: false, why: 'turned-off' });
    expect((await notify(f.tp.rt.db, { kind: 'order-confirmed', to, subject: 's', text: 't' })).queued).toBe(true);

    await page.getByLabel(CONTACT_NOTIFICATION_KINDS['order-status']).check();
    await page.getByRole('button', { name: 'Сохранить', exact: true }).click();
    await page.waitForURL((u) => u.searchParams.get('saved') === '1');
    expect((await notify(f.tp.rt.db, { kind: 'order-status', to, subject: 's', text: 't' })).queued).toBe(true);
    await page.context().close();
  });
});
