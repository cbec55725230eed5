// The manager's credit lines of a client in the workplace, in a real browser on the demo data: the
// figures per agreement, a limit and the overdue rule set through the htmx forms (audited, the cabinet's
// rule follows at once), bad input refused in Russian, another manager's client refused (403, audited).
import { sql } from 'kysely';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { creditStatus } from '../../src/backoffice/credit.ts';
import { launchBrowser, shot } from '../helpers/browser.ts';
import { cabinetFixture, DEMO_MANAGERS, type CabinetFixture } from '../helpers/cabinet.ts';

let f: CabinetFixture;
let browser: Browser;
let db: CabinetFixture['tp']['rt']['db'];
let c1 = 0;
let le1 = 0;
beforeAll(async () => {
  [f, browser] = await Promise.all([cabinetFixture('bomgrcredit'), launchBrowser()]);
  db = f.tp.rt.db;
  c1 = Number((await sql<{ id: string }>`SELECT id::text FROM clients WHERE code = 'C1'`.execute(db)).rows[0]!.id);
  le1 = Number((await sql<{ id: string }>`SELECT id::text FROM legal_entities WHERE code = 'LE1'`.execute(db)).rows[0]!.id);
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await f?.close();
});

const text = async (page: Page, selector: string): Promise<string> => (await page.locator(selector).first().innerText()).replace(/\s+/g, ' ').trim();
const auditCount = async (action: string, outcome: string) =>
  (await sql<{ n: number }>`SELECT count(*)::int AS n FROM audit_log WHERE action = ${action} AND outcome = ${outcome}`.execute(db)).rows[0]!.n;

describe('the manager\'s credit lines', () => {
  it('shows the client\'s agreements, sets a limit and the overdue rule, refuses bad input', async () => {
    const page = await browser.newPage();
    await f.signInManager(page, DEMO_MANAGERS.m1);
    await page.goto(`${f.baseUrl}/manager/clients/${c1}/credit`);
    const a1 = page.locator('tr[data-agreement="A1"]');
    const row = (await a1.innerText()).replace(/\s+/g, ' ');
    expect(row).toContain('1 000 000,00 ₽ из учётной системы');
    expect(row).toContain('234 000,50 ₽');
    expect(row).toMatch(/Есть просроченная задолженность: 150 000,00 ₽/);
    await shot(page, 'manager-credit', 'backoffice');

    // A limit of the manager's (htmx: the fragment is swapped in place).
    await a1.locator('input[name="limit"]').fill('300 000');
    await a1.getByRole('button', { name: 'Сохранить' }).click();
    await page.waitForFunction(() => document.querySelector('#credit .flash')?.textContent === 'Условия договора сохранены.');
    expect((await page.locator('tr[data-agreement="A1"]').innerText()).replace(/\s+/g, ' ')).toContain('300 000,00 ₽ задан менеджером');
    expect(await auditCount('credit.terms.set', 'ok')).toBe(1);
    const st = await creditStatus(db, { clientId: c1, legalEntityId: le1 });
    expect(st).toMatchObject({ limit: '300000.00', limitSource: 'manager', available: '65999.50' });

    // Bad input: the reason in Russian, nothing changed.
    await page.locator('tr[data-agreement="A1"] input[name="delay"]').fill('месяц');
    await page.locator('tr[data-agreement="A1"]').getByRole('button', { name: 'Сохранить' }).click();
    await page.waitForFunction(() => document.querySelector('#credit .flash-error') !== null);
    expect(await text(page, '#credit .flash-error')).toBe('«месяц» — не число дней: укажите отсрочку целым числом дней от 0 до 9999; пустое поле — отсрочка из учётной системы.');
    expect((await creditStatus(db, { clientId: c1, legalEntityId: le1 })).paymentDelayDays).toBe(30);

    // The overdue rule: up to 100 days allowed, so the 67-day-old debt no longer blocks.
    // «N дней» means something only for the grace rule: hidden under «любой просрочке», shown once grace is chosen.
    expect(await page.locator('input[name="graceDays"]').isVisible()).toBe(false);
    await page.selectOption('select[name="rule"]', 'grace');
    expect(await page.locator('input[name="graceDays"]').isVisible()).toBe(true);
    await page.locator('input[name="graceDays"]').fill('100');
    await page.getByRole('button', { name: 'Сохранить правило' }).click();
    await page.waitForFunction(() => document.querySelector('#credit .flash')?.textContent === 'Правило для просроченной задолженности сохранено.');
    expect((await page.locator('tr[data-agreement="A1"]').innerText()).replace(/\s+/g, ' ')).toContain('доступна');
    expect(await auditCount('credit.rule.set', 'ok')).toBe(1);
    expect((await creditStatus(db, { clientId: c1, legalEntityId: le1 })).blocked).toBe(false);
    await shot(page, 'manager-credit-set', 'backoffice');
    await page.close();
  });

  it('refuses another manager\'s client (403, audited) and changes nothing', async () => {
    const page = await browser.newPage();
    await f.signInManager(page, DEMO_MANAGERS.m2);
    const before = await auditCount('credit.view', 'denied');
    const r = await page.goto(`${f.baseUrl}/manager/clients/${c1}/credit`);
    expect(r?.status()).toBe(403);
    expect(await page.content()).not.toContain('234');
    expect(await auditCount('credit.view', 'denied')).toBe(before + 1);
    const csrf = await page.evaluate(() => JSON.parse(document.body.getAttribute('hx-headers') ?? '{}')['X-CSRF-Token'] as string);
    const post = await page.request.post(`${f.baseUrl}/manager/clients/${c1}/credit/rule`, { form: { _csrf: csrf, rule: 'never', graceDays: '0' } });
    expect(post.status()).toBe(403);
    expect(await auditCount('credit.change', 'denied')).toBe(1);
    expect((await sql<{ rule: string }>`SELECT overdue_rule AS rule FROM credit_rules WHERE client_id = ${c1}`.execute(db)).rows[0]!.rule).toBe('grace');
    await page.close();
  });
});
