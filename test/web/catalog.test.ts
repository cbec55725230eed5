// The cabinet's catalog, product page and search in a real browser on the demo data: filters narrow
// the counts, the tiles/table choice is remembered, sorting by price, units and price tiers on the
// product page, a query typed on the wrong keyboard layout, autocomplete with prices while typing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { cabinetFixture, DEMO_USERS, type CabinetFixture } from '../helpers/cabinet.ts';
import { launchBrowser, shot } from '../helpers/browser.ts';
import { loadUnitsAndTiers } from '../search/demo-store.ts';

let f: CabinetFixture;
let browser: Browser;
let page: Page;

/** "1 234,56 ₽" → 1234.56 */
const rub = (s: string | null) => Number((s ?? '').replace(/[^\d,]/g, '').replace(',', '.'));
const text = async (sel: string) => (await page.locator(sel).first().textContent())?.trim() ?? '';
/** The count shown next to a filter value. */
const facetCount = async (property: string, label: string) =>
  Number(await page.locator(`fieldset[data-property="${property}"] label`, { hasText: label }).locator('small.count').textContent());

beforeAll(async () => {
  [f, browser] = await Promise.all([cabinetFixture('cabcat'), launchBrowser()]);
  await loadUnitsAndTiers(f.tp);
  page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await f?.close();
});

describe('catalog', () => {
  it('an anonymous visitor sees the group tree and tiles with the city\'s base prices', async () => {
    await page.goto(`${f.baseUrl}/cabinet/catalog?group=breakers`);
    expect(await text('h1')).toBe('Автоматические выключатели');
    expect(await page.locator('.group-tree a', { hasText: 'Автоматические выключатели' }).locator('small').textContent()).toMatch(/^\d+$/);
    const tile = page.locator('.tile[data-sku="SKU-00001"]');
    // Sorted by popularity: SKU-00001 (919) is on the first page; retail 21 272,19 ₽ in Moscow.
    expect(rub(await tile.locator('.price').textContent())).toBe(21272.19);
    expect(await tile.locator('.login-to-order').count()).toBe(1);
    await shot(page, 'catalog-anonymous-tiles');
  });

  it('filters narrow the counts; the signed-in client sees its agreement price', async () => {
    await f.signIn(page);
    await page.goto(`${f.baseUrl}/cabinet/catalog?group=breakers`);
    const total = Number((await text('.catalog-toolbar .found')).replace(/\D/g, ''));
    const polesBefore = await facetCount('poles', '1P');
    await page.locator('fieldset[data-property="brand"] label', { hasText: 'ABB' }).locator('input').check();
    await page.waitForFunction((t) => !document.querySelector('.catalog-toolbar .found')?.textContent?.includes(String(t)), total);
    const narrowed = Number((await text('.catalog-toolbar .found')).replace(/\D/g, ''));
    expect(narrowed).toBeGreaterThan(0);
    expect(narrowed).toBeLessThan(total);
    expect(await facetCount('poles', '1P')).toBeLessThan(polesBefore);
    expect(page.url()).toContain('prop=brand%3Aabb');
    // P1 acts for LE2 first (dealer price type, 3 %): SKU-00001 16 592,31 × 0,97.
    const tile = page.locator('.tile[data-sku="SKU-00001"]');
    expect(rub(await tile.locator('.price').textContent())).toBe(16094.54);
    await shot(page, 'catalog-tiles-filtered');
  });

  it('the table view is remembered after a reload, with stock per warehouse and a quantity on every row', async () => {
    await page.goto(`${f.baseUrl}/cabinet/catalog?group=cables`);
    await page.getByRole('button', { name: 'Таблица' }).click();
    await page.locator('#catalog-table').waitFor();
    await page.reload();
    await page.locator('#catalog-table').waitFor();
    expect(await page.locator('#catalog-table thead th', { hasText: 'Южный порт' }).count()).toBe(1);
    const rows = page.locator('#catalog-table tbody tr');
    expect(await rows.count()).toBe(75);
    expect(await rows.first().locator('input[name="quantity"]').count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Добавить в корзину все строки с количеством' }).count()).toBe(1);
    await shot(page, 'catalog-table');
  });

  it('adds a row, or every row with a quantity at once, as sku/quantity pairs to /cabinet/cart/add', async () => {
    // What the cart does with them is the cart's (H3's route); here: what the table sends.
    const rows = page.locator('#catalog-table tbody tr');
    const skuOf = async (i: number) => (await rows.nth(i).getAttribute('data-sku'))!;
    await rows.nth(0).locator('input[name="quantity"]').fill('5');
    await rows.nth(2).locator('input[name="quantity"]').fill('12,5'.replace(',', '.'));
    const one = page.waitForRequest((r) => r.url().endsWith('/cabinet/cart/add') && r.method() === 'POST');
    await rows.nth(2).getByRole('button', { name: 'В корзину' }).click();
    expect(new URLSearchParams((await one).postData() ?? '').toString()).toBe(new URLSearchParams({ sku: await skuOf(2), quantity: '12.5' }).toString());
    const bulk = page.waitForRequest((r) => r.url().endsWith('/cabinet/cart/add') && r.method() === 'POST');
    await page.getByRole('button', { name: 'Добавить в корзину все строки с количеством' }).click();
    const sent = new URLSearchParams((await bulk).postData() ?? '');
    // Only the rows with a quantity typed, in pairs.
    expect(sent.getAll('sku')).toEqual([await skuOf(0), await skuOf(2)]);
    expect(sent.getAll('quantity')).toEqual(['5', '12.5']);
    expect((await bulk).headers()['x-csrf-token']).toBeTruthy();
    // None typed: nothing is sent, the page says why.
    await rows.nth(0).locator('input[name="quantity"]').fill('');
    await rows.nth(2).locator('input[name="quantity"]').fill('');
    let posted = false;
    const watch = (r: { url(): string }) => { if (r.url().endsWith('/cabinet/cart/add')) posted = true; };
    page.on('request', watch);
    await page.getByRole('button', { name: 'Добавить в корзину все строки с количеством' }).click();
    await page.locator('#flash', { hasText: 'Укажите количество' }).waitFor();
    page.off('request', watch);
    expect(posted).toBe(false);
  });

  it('sorts by price', async () => {
    await page.goto(`${f.baseUrl}/cabinet/catalog?group=lamps`);
    await page.locator('.sorts a', { hasText: 'сначала дешевле' }).click();
    await page.waitForURL(/sort=price/);
    await page.locator('.sorts b', { hasText: 'сначала дешевле' }).waitFor();
    const prices = (await page.locator('#catalog-table td.price').allTextContents()).map(rub);
    expect(prices.length).toBeGreaterThan(10);
    expect([...prices].sort((a, b) => a - b)).toEqual(prices);
  });
});

describe('a client awaiting approval', () => {
  it('sees the city\'s base price, not its agreement\'s discount, and no quantity inputs', async () => {
    // C2 (contact P3, St Petersburg) has a 5 % agreement; pending, it is priced as any visitor.
    await f.tp.rt.pool.query(`UPDATE clients SET pending = true WHERE code = 'C2'`);
    const ctx = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    try {
      const p = await ctx.newPage();
      await f.signIn(p, DEMO_USERS.other);
      await p.goto(`${f.baseUrl}/cabinet/catalog?group=breakers`);
      const tile = p.locator('.tile[data-sku="SKU-00001"]');
      expect(rub(await tile.locator('.price').textContent())).toBe(21272.19);
      expect(await p.locator('input[name="quantity"]').count()).toBe(0);
      expect(await p.locator('.notice-warn').textContent()).toContain('ждёт проверки');
    } finally {
      await ctx.close();
      await f.tp.rt.pool.query(`UPDATE clients SET pending = false WHERE code = 'C2'`);
    }
  });
});

describe('group tree counts', () => {
  it('follow a product leaving sale at the next page (the kept tree is per catalog version)', async () => {
    const lamps = async () => {
      const html = await (await fetch(`${f.baseUrl}/cabinet/catalog`)).text();
      return Number(/>Лампы <small>(\d+)<\/small>/.exec(html)?.[1]);
    };
    const before = await lamps();
    expect(before).toBeGreaterThan(1);
    await f.tp.rt.pool.query(`UPDATE prices SET value = 0 WHERE product_id = (SELECT id FROM products WHERE code = 'SKU-00003')
      AND price_type_id = (SELECT id FROM price_types WHERE code = 'retail')`);
    expect(await lamps()).toBe(before - 1);
  });
});

describe('product page', () => {
  it('shows units with factors, price tiers, properties and stock', async () => {
    // LE1 buys under the wholesale agreement, whose price of this cable has tiers (test/fixtures/cabinet/price-periods.csv).
    await page.goto(`${f.baseUrl}/cabinet/product/SKU-00004`);
    await Promise.all([page.waitForEvent('load'), page.selectOption('#ctx-legal-entity', 'LE1')]);
    expect(await text('h1')).toBe('Кабель ВВГнг-LS 2x10');
    expect(rub(await text('.product-price b'))).toBe(29893.75);
    const tiers = await page.locator('table.tiers tbody tr').allTextContents();
    expect(tiers).toHaveLength(2);
    expect(tiers[0]).toMatch(/от 100 м/);
    expect(await page.locator('.card', { hasText: 'Единицы измерения' }).textContent()).toMatch(/бухта= 100 м/);
    expect(await page.locator('.card', { hasText: 'Характеристики' }).textContent()).toContain('2x10');
    await shot(page, 'product-page');
  });

  it('a product that does not exist is a Russian 404', async () => {
    const res = await page.goto(`${f.baseUrl}/cabinet/product/NO-SUCH`);
    expect(res?.status()).toBe(404);
    expect(await page.locator('main').textContent()).toContain('не найден');
  });
});

describe('search', () => {
  it('hjptnrf finds розетка, saying so', async () => {
    await page.goto(`${f.baseUrl}/cabinet/search?q=hjptnrf`);
    expect(await text('.corrected')).toContain('розетка');
    const names = await page.locator('#catalog-table tbody td a, .tile-name').allTextContents();
    expect(names.length).toBeGreaterThan(0);
    for (const n of names) expect(n).toMatch(/^Розетка/);
    await shot(page, 'search-layout');
  });

  it('autocomplete shows products with prices while typing', async () => {
    await page.goto(`${f.baseUrl}/cabinet/product/SKU-00004`);
    await page.locator('form.search input[name="q"]').pressSequentially('авт вы', { delay: 60 });
    await page.locator('#suggest .suggest-product').first().waitFor();
    const first = page.locator('#suggest .suggest-product').first();
    expect(await first.locator('.suggest-name').textContent()).toMatch(/^Автоматический выключатель/);
    expect(await first.locator('.suggest-price').textContent()).toMatch(/\d,\d\d\s₽/);
    await shot(page, 'search-autocomplete');
  });
});
