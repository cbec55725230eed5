// The buyer journey in one go, in a real browser on the demo data: sign in → pick a legal entity
// → filter a group (the counts narrow) → add rows from the table view → save the cart → log out and in
// → add the saved cart → check out → the order is in the list and in what 1C's sale exchange receives
// (type=sale&mode=query).
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, shot } from '../helpers/browser.ts';
import { saleExchange, type SaleExchange } from '../helpers/onec-sale.ts';
import { cabinetFixture, type CabinetFixture } from '../helpers/cabinet.ts';

let f: CabinetFixture;
let browser: Browser;
let sale: SaleExchange;
beforeAll(async () => {
  [f, browser] = await Promise.all([cabinetFixture('cabjourney'), launchBrowser()]);
  sale = await saleExchange(f, 'site');
}, 180_000);
afterAll(async () => {
  sale?.close();
  await browser?.close();
  await f?.close();
});

const saleQueryNumbers = (): Promise<string[]> => sale.queryNumbers();

const text = async (page: Page, selector: string): Promise<string> => (await page.locator(selector).first().innerText()).replace(/\s+/g, ' ').trim();
const count = (s: string): number => Number(s.replace(/\D/g, ''));

describe('a buyer orders from the catalog table', () => {
  it('sign in → legal entity → filter → table → save cart → out and in → saved cart → checkout → list and 1C', async () => {
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    await f.signIn(page);

    // Pick the legal entity: LE1 buys at the client-wide wholesale agreement.
    await page.goto(`${f.baseUrl}/cabinet/catalog?group=breakers`);
    await Promise.all([page.waitForEvent('load'), page.locator('#ctx-legal-entity').selectOption('LE1')]);
    expect(await page.locator('#ctx-legal-entity').inputValue()).toBe('LE1');

    // The table view, then a brand filter: the number found narrows.
    if (await page.locator('#catalog-table').count() === 0) {
      await page.getByRole('button', { name: 'Таблица' }).click();
      await page.locator('#catalog-table').waitFor();
    }
    const before = count(await text(page, '.catalog-toolbar .found'));
    const brand = page.locator('fieldset[data-property="brand"] label').first();
    const brandCount = Number(await brand.locator('small.count').textContent());
    await brand.locator('input').check();
    await page.waitForFunction((n) => Number(document.querySelector('.catalog-toolbar .found')?.textContent?.replace(/\D/g, '')) !== n, before);
    const after = count(await text(page, '.catalog-toolbar .found'));
    expect(after).toBeLessThan(before);
    expect(after).toBe(brandCount);
    await shot(page, 'journey-catalog-table-filtered', 'cabinet');

    // Quantities on two rows of the table, added at once; the context bar's total follows.
    const rows = page.locator('#catalog-table tbody tr');
    const skus = [(await rows.nth(0).getAttribute('data-sku'))!, (await rows.nth(1).getAttribute('data-sku'))!];
    await rows.nth(0).locator('input[name="quantity"]').fill('3');
    await rows.nth(1).locator('input[name="quantity"]').fill('2');
    await page.getByRole('button', { name: 'Добавить в корзину все строки с количеством' }).click();
    await page.locator('#cart-total[data-lines="2"]').waitFor();

    // The cart prices the lines for LE1 (wholesale agreement) — the same as the table showed.
    await page.goto(`${f.baseUrl}/cabinet/cart`);
    for (const sku of skus) expect(await page.locator(`tr[data-sku="${sku}"]`).count()).toBe(1);
    const total = await text(page, '#cart-sum');
    await page.getByLabel('Название').fill('Щит на объекте');
    await page.getByRole('button', { name: 'Сохранить', exact: true }).click();
    await page.waitForURL(/saved=1/);
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Очистить корзину' }).click();
    await page.waitForFunction(() => document.querySelector('#cart')?.textContent?.includes('Корзина пуста'));

    // Log out and in again: the saved cart is there; adding it gives the same lines and total.
    await page.getByRole('button', { name: 'Выйти' }).click();
    await page.waitForURL(/\/cabinet\/login/);
    await f.signIn(page);
    await page.goto(`${f.baseUrl}/cabinet/cart`);
    expect(await page.locator('#ctx-legal-entity').inputValue()).toBe('LE1');
    await page.locator('[data-saved-cart="Щит на объекте"]').getByRole('button', { name: 'Добавить в корзину' }).click();
    await page.waitForURL(/added=2/);
    expect(await text(page, '#cart-sum')).toBe(total);

    // Check out; the order page, the list, and 1C's sale query all have it.
    await page.getByRole('button', { name: /Оформить заказ на/ }).click();
    await page.waitForURL(/\/cabinet\/orders\/M-\d+\?placed=1/);
    const number = /\/cabinet\/orders\/(M-\d+)/.exec(page.url())![1]!;
    expect(await text(page, 'main')).toContain('ООО «Энергомонтаж»');
    await page.goto(`${f.baseUrl}/cabinet/orders`);
    expect(await text(page, `tr[data-order="${number}"]`)).toContain(total);
    await shot(page, 'journey-orders', 'cabinet');
    expect(await saleQueryNumbers()).toContain(number);
    await page.close();
  });
});
