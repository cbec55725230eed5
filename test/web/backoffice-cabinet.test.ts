// The back office in the cabinet, in a real browser on the demo data (receivables and settlements
// through the real flows): the subordinate refused the balance and the head's order (403, audited, nothing
// shown), the head's balance with the overdue block and the documents owed, the reconciliation act PDF
// (pdftotext: its lines and totals), the checkout that shows why ordering on credit is blocked before
// the button and refuses a forged submit, the team page (confirm authority, approval threshold) and the
// approval of the subordinate's order.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, shot } from '../helpers/browser.ts';
import { cabinetFixture, DEMO_USERS, type CabinetFixture } from '../helpers/cabinet.ts';

let f: CabinetFixture;
let browser: Browser;
let db: CabinetFixture['tp']['rt']['db'];
beforeAll(async () => {
  [f, browser] = await Promise.all([cabinetFixture('bocabweb'), launchBrowser()]);
  db = f.tp.rt.db;
  await db.insertInto('portal_settings').values([
    { key: 'seller.name', value: 'ООО «Магистраль-Опт»' }, { key: 'seller.inn', value: '7701234567' }, { key: 'seller.kpp', value: '770101001' },
  ]).execute();
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await f?.close();
});

const text = async (page: Page, selector: string): Promise<string> => (await page.locator(selector).first().innerText()).replace(/\s+/g, ' ').trim();
const denied = async (action: string) => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM audit_log WHERE action = ${action} AND outcome = 'denied'`.execute(db)).rows[0]!.n;

async function chooseLegalEntity(page: Page, code: string): Promise<void> {
  // The answer tells htmx to reload the page (HX-Refresh): wait for that reload too, or the next goto races it (ERR_ABORTED).
  await Promise.all([page.waitForResponse((r) => r.url().endsWith('/cabinet/context')), page.waitForEvent('load'), page.selectOption('#ctx-legal-entity', code)]);
}

async function addToCart(page: Page, sku: string, quantity: string): Promise<void> {
  await page.goto(`${f.baseUrl}/cabinet/cart`);
  await page.getByLabel('Код товара').fill(sku);
  await page.getByLabel('Количество', { exact: true }).fill(quantity);
  await page.getByRole('button', { name: 'Добавить в корзину' }).first().click();
  await page.waitForURL(/\/cabinet\/cart\?/);
}

describe('balance, credit and rights in the cabinet', () => {
  let headOrder = '';

  it('refuses the subordinate the balance page and the head\'s order (403 with the reason, audited)', async () => {
    const head = await browser.newPage();
    await f.signIn(head, DEMO_USERS.head);
    await chooseLegalEntity(head, 'LE1');
    await addToCart(head, 'SKU-00001', '1');
    await head.getByRole('button', { name: /^Оформить заказ/ }).click();
    await head.waitForURL(/\/cabinet\/orders\/M-\d+\?placed=1/);
    headOrder = decodeURIComponent(new URL(head.url()).pathname.split('/').pop()!);
    await head.close();

    const page = await browser.newPage();
    await f.signIn(page, DEMO_USERS.subordinate);
    const nav = await text(page, 'nav.main-nav');
    expect(nav).not.toContain('Баланс');
    expect(nav).not.toContain('Сотрудники');
    const n = await denied('balance.view');
    const r = await page.goto(`${f.baseUrl}/cabinet/balance`);
    expect(r?.status()).toBe(403);
    expect(await text(page, '#flash')).toBe('Баланс и взаиморасчёты доступны руководителю и сотрудникам, чьи полномочия подтвердил руководитель. Обратитесь к руководителю.');
    expect(await page.content()).not.toContain('234');
    expect(await denied('balance.view')).toBe(n + 1);
    await shot(page, 'subordinate-balance-403', 'backoffice');
    const o = await page.goto(`${f.baseUrl}/cabinet/orders/${headOrder}`);
    expect(o?.status()).toBe(403);
    expect(await text(page, '#flash')).toBe('Это заказ другого сотрудника: вам видны только ваши заказы.');
    expect(await page.content()).not.toContain('SKU-00001');
    await page.close();
  });

  it('shows the head every legal entity\'s credit line, the overdue block and the documents owed', async () => {
    const page = await browser.newPage();
    await f.signIn(page, DEMO_USERS.head);
    await page.goto(`${f.baseUrl}/cabinet/balance`);
    const le1 = page.locator('.credit-card[data-legal-entity="ООО «Энергомонтаж»"]');
    const card = (await le1.innerText()).replace(/\s+/g, ' ');
    expect(card).toContain('Кредитный лимит 1 000 000,00 ₽');
    expect(card).toContain('Задолженность 234 000,50 ₽');
    expect(card).toContain('Доступно 765 999,50 ₽');
    expect(card).toMatch(/Просрочено 150 000,00 ₽, до \d+ дн/);
    expect(card).toMatch(/Есть просроченная задолженность: 150 000,00 ₽/);
    const le2 = (await page.locator('.credit-card[data-legal-entity="АО «Энергомонтаж-Сервис»"]').innerText()).replace(/\s+/g, ' ');
    expect(le2).toContain('Заказы с отсрочкой платежа доступны на сумму до 458 000,00 ₽.');
    const rows = await page.locator('table.receivables tbody tr').allInnerTexts();
    expect(rows).toHaveLength(3);
    expect(await page.locator('table.receivables tr.overdue').count()).toBe(1);
    expect((await page.locator('table.receivables tr.overdue').innerText()).replace(/\s+/g, ' ')).toContain('Реализация товаров № РТ-101');
    await shot(page, 'head-balance', 'backoffice');

    // The reconciliation act for a period: opening balance, movements, turnover, closing balance.
    const res = await page.request.get(`${f.baseUrl}/cabinet/balance/act?legalEntity=LE1&from=2026-08-20&to=2026-12-31`);
    expect(res.status()).toBe(200);
    expect(res.headers()['content-type']).toBe('application/pdf');
    const dir = mkdtempSync(path.join(tmpdir(), 'act-'));
    writeFileSync(path.join(dir, 'act.pdf'), await res.body());
    const pdf = execFileSync('pdftotext', ['-layout', path.join(dir, 'act.pdf'), '-'], { encoding: 'utf8' }).replace(/\s+/g, ' ');
    expect(pdf).toContain('Акт сверки взаимных расчётов');
    expect(pdf).toContain('за период с 20.08.2026 по 31.12.2026');
    expect(pdf).toContain('между ООО «Магистраль-Опт» (ИНН 7701234567, КПП 770101001) — Продавец');
    expect(pdf).toContain('Общество с ограниченной ответственностью «Энергомонтаж» (ИНН 7704010015, КПП 770401001) — Покупатель');
    expect(pdf).toMatch(/Сальдо начальное 120 000,00/);
    expect(pdf).toMatch(/25\.08\.2026 Оплата от покупателя № ПП-512 120 000,00/);
    expect(pdf).toMatch(/01\.09\.2026 Реализация товаров № РТ-101 150 000,00/);
    expect(pdf).toMatch(/Обороты за период 234 000,50 120 000,00/);
    expect(pdf).toMatch(/Сальдо конечное 234 000,50/);
    expect(pdf).toContain('На 31.12.2026 задолженность ООО «Энергомонтаж» перед ООО «Магистраль-Опт»: 234 000,50 руб.');
    expect(pdf).not.toContain('РТ-090');
    // A bad period is refused in Russian.
    const bad = await page.request.get(`${f.baseUrl}/cabinet/balance/act?legalEntity=LE1&from=2026-12-31&to=2026-01-01`);
    expect(bad.status()).toBe(400);
    expect(await bad.text()).toContain('Дата начала периода позже даты конца');
    await page.close();
  });

  it('shows why ordering on credit is blocked before the button, and refuses a forged submit', async () => {
    const page = await browser.newPage();
    await f.signIn(page, DEMO_USERS.head);
    await chooseLegalEntity(page, 'LE1');
    await addToCart(page, 'SKU-00001', '2');
    const block = await text(page, '#credit-block');
    expect(block).toMatch(/^Оплата с отсрочкой недоступна\. Есть просроченная задолженность: 150 000,00 ₽, просрочка до \d+ д/);
    expect(await page.locator('select[name="paymentKind"] option', { hasText: 'Отсрочка платежа — недоступна' }).isDisabled()).toBe(true);
    await shot(page, 'checkout-credit-blocked', 'backoffice');
    const orders = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM orders`.execute(db)).rows[0]!.n;
    // A page left open while the debt appeared: the option forced on, the server refuses with the reason.
    await page.evaluate(() => {
      const o = Array.from(document.querySelectorAll<HTMLOptionElement>('select[name="paymentKind"] option')).find((x) => x.value === 'Отсрочка платежа')!;
      o.disabled = false;
      o.selected = true;
    });
    await page.getByRole('button', { name: /^Оформить заказ/ }).click();
    await page.waitForLoadState('load');
    expect(await text(page, '#flash')).toMatch(/^Заказ не оформлен\. Есть просроченная задолженность/);
    expect((await sql<{ n: number }>`SELECT count(*)::int AS n FROM orders`.execute(db)).rows[0]!.n).toBe(orders);
    expect(await page.locator('tr[data-sku="SKU-00001"]').count()).toBe(1);
    await shot(page, 'checkout-credit-refused', 'backoffice');

    // The manager allows overdue debt for this client: the same cart goes on credit.
    await sql`INSERT INTO credit_rules (client_id, overdue_rule) SELECT id, 'never' FROM clients WHERE code = 'C1'`.execute(db);
    await page.goto(`${f.baseUrl}/cabinet/cart`);
    expect(await text(page, '#credit-block')).toMatch(/^С отсрочкой платежа можно заказать на сумму до 765 999,50 ₽\.$/);
    await page.selectOption('select[name="paymentKind"]', 'Отсрочка платежа');
    // The quantity changed in place (htmx): the credit notice and the option follow the new total at once,
    // and the buyer's choice of payment survives a change that keeps it possible.
    const qty = page.locator('tr[data-sku="SKU-00001"] input[name="quantity"]');
    await qty.fill('3');
    await qty.dispatchEvent('change');
    await page.waitForFunction(() => document.querySelector('#cart-sum')?.textContent !== null && document.querySelector('tr[data-sku="SKU-00001"] input[name="quantity"]')?.getAttribute('value') === '3');
    expect(await page.locator('select[name="paymentKind"]').inputValue()).toBe('Отсрочка платежа');
    await qty.fill('99999');
    await qty.dispatchEvent('change');
    await page.waitForFunction(() => document.querySelector('#credit-block')?.textContent?.startsWith('Оплата с отсрочкой недоступна') === true);
    expect(await text(page, '#credit-block')).toMatch(/^Оплата с отсрочкой недоступна\. .*лимит/);
    expect(await page.locator('select[name="paymentKind"] option', { hasText: 'Отсрочка платежа — недоступна' }).isDisabled()).toBe(true);
    await shot(page, 'checkout-credit-qty-over-limit', 'backoffice');
    await qty.fill('2');
    await qty.dispatchEvent('change');
    await page.waitForFunction(() => document.querySelector('#credit-block')?.textContent?.startsWith('С отсрочкой платежа') === true);
    expect(await page.locator('select[name="paymentKind"] option', { hasText: /^Отсрочка платежа$/ }).isDisabled()).toBe(false);
    await page.selectOption('select[name="paymentKind"]', 'Отсрочка платежа');
    await page.getByRole('button', { name: /^Оформить заказ/ }).click();
    await page.waitForURL(/\/cabinet\/orders\/M-\d+\?placed=1/);
    expect(await text(page, 'dl.requisites')).toContain('Оплата Отсрочка платежа');
    await sql`DELETE FROM credit_rules`.execute(db);
    await page.close();
  });

  it('lets the head confirm the subordinate\'s authority and set an approval threshold, then approve its order', async () => {
    const head = await browser.newPage();
    await f.signIn(head, DEMO_USERS.head);
    await head.goto(`${f.baseUrl}/cabinet/team`);
    const row = head.locator('section.team[data-legal-entity="LE1"] tr[data-contact="P2"]');
    expect((await row.innerText()).replace(/\s+/g, ' ')).toContain('Заказы по ценам компании');
    await row.getByRole('button', { name: 'Подтвердить полномочия' }).click();
    await head.waitForURL(/\/cabinet\/team\?done=/);
    expect(await text(head, '#flash')).toBe('Полномочия подтверждены.');
    await row.getByLabel('Порог согласования для Мария Орлова').fill('5 000');
    await row.getByRole('button', { name: 'Сохранить' }).click();
    await head.waitForURL(/\/cabinet\/team\?done=/);
    expect(await text(head, '#flash')).toBe('Заказы сотрудника дороже 5 000,00 ₽ будут ждать вашего согласования.');
    await row.getByLabel('Порог согласования для Мария Орлова').fill('пять');
    await row.getByRole('button', { name: 'Сохранить' }).click();
    await head.waitForLoadState('load');
    expect(await text(head, '#flash')).toMatch(/^«пять» — не сумма/);
    await shot(head, 'team', 'backoffice');

    const sub = await browser.newPage();
    await f.signIn(sub, DEMO_USERS.subordinate);
    expect(await text(sub, 'nav.main-nav')).toContain('Баланс');
    expect(await text(sub, 'nav.main-nav')).not.toContain('Сотрудники');
    await addToCart(sub, 'SKU-00001', '1');
    await sub.getByRole('button', { name: /^Оформить заказ/ }).click();
    await sub.waitForURL(/\/cabinet\/orders\/M-\d+\?placed=1/);
    const number = decodeURIComponent(new URL(sub.url()).pathname.split('/').pop()!);
    expect(await text(sub, '#flash')).toBe(`Заказ ${number} оформлен и ждёт согласования руководителем: поставщику его передадут после согласования.`);
    expect(await text(sub, 'dd.approval')).toBe('ждёт согласования руководителем: поставщику заказ передадут после него');
    await shot(sub, 'order-waiting-approval', 'backoffice');

    await head.goto(`${f.baseUrl}/cabinet/approvals`);
    const waiting = head.locator(`tr[data-order="${number}"]`);
    expect((await waiting.innerText()).replace(/\s+/g, ' ')).toContain('Мария Орлова');
    await waiting.getByRole('button', { name: 'Отклонить' }).click();
    await head.waitForLoadState('load');
    expect(await text(head, '#flash')).toBe('Напишите, почему заказ отклонён: сотрудник увидит комментарий.');
    await shot(head, 'approvals', 'backoffice');
    await head.locator(`tr[data-order="${number}"]`).getByRole('button', { name: 'Согласовать' }).click();
    await head.waitForLoadState('load');
    expect(await text(head, '#flash')).toBe(`Заказ ${number} согласован и передан поставщику.`);
    expect(await head.locator(`tr[data-order="${number}"]`).count()).toBe(0);
    await sub.reload();
    expect(await text(sub, 'dd.approval')).toBe('согласован руководителем');
    await head.close();
    await sub.close();
  });
});
