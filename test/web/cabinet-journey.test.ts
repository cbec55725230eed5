// The buyer journey in one go, in a real browser on the demo data: sign in → pick a legal entity
// → filter a group (the counts narrow) → add rows from the table view → save the cart → log out and in
// → add the saved cart → check out → the order is in the list and in what 1C's sale exchange receives
// (type=sale&mode=query).
import iconv from 'iconv-lite';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyFlows, type Flow } from '../../src/pipeline/flows.ts';
import { launchBrowser, shot } from '../helpers/browser.ts';
import { cabinetFixture, type CabinetFixture } from '../helpers/cabinet.ts';

const USER_ENV = 'MAGISTRAL_TEST_JOURNEY_USER';
const PASSWORD_ENV = 'MAGISTRAL_TEST_JOURNEY_PASSWORD';

let f: CabinetFixture;
let browser: Browser;
beforeAll(async () => {
  process.env[USER_ENV] = '1c-site';
  process.env[PASSWORD_ENV] = 'journey-1c';
  [f, browser] = await Promise.all([cabinetFixture('cabjourney'), launchBrowser()]);
  // The 1C site exchange the orders go out through (sale query), as ops/flows/onec.yaml registers it.
  await applyFlows(f.tp.rt.db, [{
    apiVersion: 'magistral/v1', kind: 'Flow', name: 'onec-site', mapping: 'onec/catalog.products.yaml', target: 'products', mode: 'delta',
    source: { connector: 'onec.commerceml', system: 'onec', options: { exchange: 'site', userEnv: USER_ENV, passwordEnv: PASSWORD_ENV, zip: false } },
  } as Flow]);
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await f?.close();
  delete process.env[USER_ENV];
  delete process.env[PASSWORD_ENV];
});

/** The order numbers in 1C's sale query, asked as 1C asks (checkauth, init, query). */
async function saleQueryNumbers(): Promise<string[]> {
  const url = (mode: string) => `${f.baseUrl}/exchange/onec/site?type=sale&mode=${mode}`;
  const auth = await fetch(url('checkauth'), { headers: { authorization: `Basic ${Buffer.from('1c-site:journey-1c').toString('base64')}` } });
  const [ok, name, value] = iconv.decode(Buffer.from(await auth.arrayBuffer()), 'win1251').split('\n');
  expect(ok).toBe('success');
  const cookie = `${name}=${value}`;
  await fetch(url('init'), { headers: { cookie } });
  const xml = iconv.decode(Buffer.from(await (await fetch(url('query'), { headers: { cookie } })).arrayBuffer()), 'win1251');
  return [...xml.matchAll(/<Документ>\s*<Ид>[^<]*<\/Ид>\s*<Номер>([^<]+)<\/Номер>/g)].map((m) => m[1]!);
}

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
