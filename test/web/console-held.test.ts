// A held run in a real browser on the demo data set (issue 15's journey): the README's prices flow gets a
// file that changes most prices, its guard holds it; an operator signs in, finds it under «Задержанные»,
// reads why and what would change (old → new), approves with a comment, and watches the run page turn
// «готов» by itself; the price is the new one, and its lineage names the run, the file and the line. A viewer sees the same page with no decision to make.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { cabinetFixture, type CabinetFixture } from '../helpers/cabinet.ts';
import { launchBrowser, shot } from '../helpers/browser.ts';
import { addConsoleUsers, CONSOLE_USERS, signInConsole } from '../helpers/console.ts';

let f: CabinetFixture;
let browser: Browser;
let heldId: number;

/** The demo's prices, every price type but wholesale raised by 10 %. */
function raisedPrices(): string {
  const lines = readFileSync(path.join(REPO_DIR, 'ops/demo/prices.csv'), 'utf8').trim().split('\n');
  return [lines[0], ...lines.slice(1).map((l) => {
    const [sku, pt, price, cur] = l.split(';');
    // Every price type but one changes: far over the flow's guard (maxChangeRatio 0.5).
    if (pt === 'wholesale') return l;
    const raised = (Number(price!.replace(',', '.')) * 1.1).toFixed(2).replace('.', ',');
    return [sku, pt, raised, cur].join(';');
  })].join('\n') + '\n';
}

const retailPrice = async (sku: string): Promise<string> => (await f.tp.rt.pool.query<{ value: string }>(
  `SELECT p.value::text FROM prices p JOIN products pr ON pr.id = p.product_id JOIN price_types t ON t.id = p.price_type_id
   WHERE pr.code = $1 AND t.code = 'retail'`, [sku])).rows[0]!.value;

beforeAll(async () => {
  [f, browser] = await Promise.all([cabinetFixture('conheld'), launchBrowser()]);
  await addConsoleUsers(f.tp.rt.db);
  const run = await f.tp.ingest('prices-csv', raisedPrices(), 'prices-raised.csv');
  expect(run.state).toBe('held');
  heldId = run.id;
}, 240_000);
afterAll(async () => {
  await browser?.close();
  await f?.close();
});

async function fresh(): Promise<Page> {
  const context = await browser.newContext({ locale: 'ru-RU', viewport: { width: 1440, height: 1000 } });
  return context.newPage();
}

describe('a held run in the console', () => {
  it('a viewer reads why it was held and what would change, and has nothing to press', async () => {
    const page = await fresh();
    await signInConsole(page, f.baseUrl, CONSOLE_USERS.viewer);
    await page.goto(`${f.baseUrl}/console/runs/${heldId}`);
    await expect(page.locator('[data-held-reason]').textContent()).resolves.toMatch(/would change \d+ of 900 rows in scope/);
    expect(await page.locator('table.sample tbody tr').count()).toBe(20);
    expect(await page.getByRole('button', { name: 'Одобрить и записать' }).count()).toBe(0);
    await expect(page.getByText('ваша роль — только просмотр').count()).resolves.toBe(1);
    await page.context().close();
  });

  it('an operator finds it under «Задержанные», approves it with a comment, the page turns «готов» by itself, and lineage names the run, file and line', async () => {
    const before = await retailPrice('SKU-00001');
    const page = await fresh();
    await signInConsole(page, f.baseUrl, CONSOLE_USERS.operator);
    await page.getByRole('link', { name: 'Задержанные' }).click();
    await page.waitForURL(/\/console\/held$/);
    const row = page.locator(`tr[data-run="${heldId}"]`);
    await expect(row.textContent()).resolves.toContain('prices-csv');
    await shot(page, 'console-held-list', 'console');
    await row.getByRole('link', { name: `№${heldId}` }).click();
    await page.waitForURL(new RegExp(`/console/runs/${heldId}$`));

    // SKU-00001's retail price is among the sample (file order: its rows are the first changed), old → new as
    // the merge would write it. (Which of its price types comes first is the sample's key order: dealer.)
    const first = page.locator('table.sample tbody tr').filter({ hasText: 'SKU-00001' }).filter({ hasText: 'retail' });
    expect(await first.count()).toBe(1);
    const cells = (await first.locator('td.num').allTextContents()).map((c) => Number(c.replace(/\s/g, '').replace(',', '.')));
    expect(cells[0]).toBe(Number(before));
    expect(cells[1]).toBeCloseTo(Number(before) * 1.1, 2);
    await expect(page.locator('[data-guard]').textContent()).resolves.toMatch(/Изменил бы 600 из 900 строк в охвате потока — 66,7\s%,\s+а порог потока 50,0\s%/);
    await shot(page, 'console-held-run', 'console');

    await page.getByLabel('Комментарий').fill('Поднятие цен согласовано с закупками');
    await page.getByRole('button', { name: 'Одобрить и записать' }).click();
    await page.waitForURL(new RegExp(`/console/runs/${heldId}\\?done=approved$`));
    await expect(page.locator('#flash').textContent()).resolves.toContain('Запуск одобрен');
    // No reload: the live part polls until the run is done.
    await page.locator('#run-live [data-state="done"]').waitFor({ timeout: 30_000 });
    await expect(page.locator('[data-decision="approved"]').textContent()).resolves.toContain('oleg-operator (консоль)');
    await expect(page.locator('[data-decision="approved"]').textContent()).resolves.toContain('Поднятие цен согласовано с закупками');
    await shot(page, 'console-run-approved', 'console');
    expect(Number(await retailPrice('SKU-00001'))).toBeCloseTo(Number(before) * 1.1, 2);

    // Lineage: SKU-00001's retail price, changed by the approved run, from line 2 of its file.
    await page.getByRole('link', { name: 'Происхождение' }).click();
    await page.getByLabel('Товар (код или внешний id)').fill('SKU-00001');
    await page.getByLabel('Тип цены').fill('retail');
    await page.getByRole('button', { name: 'Показать' }).click();
    await page.waitForURL(/\/console\/lineage\?product=SKU-00001&priceType=retail/);
    const change = page.locator('table[data-history] tr[data-op="update"]').first();
    const text = (await change.textContent())!.replace(/\s+/g, ' ');
    expect(text).toContain(`№${heldId}`);
    expect(text).toContain('prices-csv');
    expect(text).toContain('prices-raised.csv, строка 2');
    const [old, now] = (await change.locator('td.num').allTextContents()).map((c) => Number(c.replace(/\s/g, '').replace(',', '.')));
    expect(old).toBe(Number(before));
    expect(now).toBeCloseTo(Number(before) * 1.1, 2);
    await expect(page.locator('[data-current]').textContent()).resolves.toContain(`№${heldId}`);
    await expect(page.locator('[data-origin]').textContent()).resolves.toContain('Оно пришло первой загрузкой');
    await shot(page, 'console-lineage', 'console');
    await page.getByRole('link', { name: 'Запуски' }).click();
    await page.getByLabel('Поток').selectOption('prices-csv');
    await page.getByRole('button', { name: 'Показать' }).click();
    await page.waitForURL(/\/console\/runs\?flow=prices-csv/);
    expect(await page.locator('table.runs tbody tr').count()).toBe(2); // the demo's load and the approved run
    await shot(page, 'console-runs', 'console');
    await page.context().close();
  });
});
