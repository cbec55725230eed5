// The operations console in a real browser on the demo data set: sign-in per role (cookie scoped to
// /console), the flow list with its columns and the warning of prices nobody sees, a flow page, YAML edited
// in place with every problem at line:column exactly as `flows apply` reports it (nothing applied), a valid
// edit applied and audited, pause/resume, and a flow's description with <script> shown as text.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { cabinetFixture, type CabinetFixture } from '../helpers/cabinet.ts';
import { launchBrowser, shot } from '../helpers/browser.ts';
import { addConsoleUsers, CONSOLE_USERS, signInConsole } from '../helpers/console.ts';
import { parseFlowFile } from '../../src/pipeline/flows.ts';
import { isMagistralError, type Problem } from '../../src/errors/index.ts';

let f: CabinetFixture;
let browser: Browser;

const XSS = '<script>window.__xss = 1</script> цены <b>без</b> города';
const ORPHAN_FLOW = `apiVersion: magistral/v1
kind: Flow
name: orphan-prices
description: "${XSS}"
source:
  connector: file.csv
  system: local
mapping: file/prices.yaml
target: prices
mode: delta
autoCreate: true
`;

beforeAll(async () => {
  [f, browser] = await Promise.all([cabinetFixture('console'), launchBrowser()]);
  await addConsoleUsers(f.tp.rt.db);
  // Prices of a price type no city shows and no agreement uses: the warning `flows show` prints.
  await f.tp.applyFlowYaml(ORPHAN_FLOW);
  const run = await f.tp.ingest('orphan-prices', 'sku;price_type;price;currency\nSKU-00001;ORPHAN;100;RUB\nSKU-00002;ORPHAN;200;RUB\n', 'orphan.csv');
  expect(run.state).toBe('done');
}, 240_000);
afterAll(async () => {
  await browser?.close();
  await f?.close();
});

async function fresh(): Promise<Page> {
  const context = await browser.newContext({ locale: 'ru-RU', viewport: { width: 1440, height: 900 } });
  return context.newPage();
}

describe('console in a browser', () => {
  it('signs a viewer in (cookie scoped to /console), lists the flows with their columns and warnings, offers no actions', async () => {
    const page = await fresh();
    await page.goto(`${f.baseUrl}/console/flows`);
    expect(new URL(page.url()).pathname).toBe('/console/login');
    await shot(page, 'console-login', 'console');
    await signInConsole(page, f.baseUrl, CONSOLE_USERS.viewer);
    expect(new URL(page.url()).pathname).toBe('/console/flows');
    const cookie = (await page.context().cookies()).find((c) => c.name === 'mg_con');
    expect(cookie).toMatchObject({ httpOnly: true, path: '/console', sameSite: 'Lax' });
    expect(await page.locator('header .user-name').textContent()).toContain('наблюдатель');

    const prices = page.locator('tr[data-flow="prices-csv"]');
    expect(await prices.locator('td').nth(1).textContent()).toContain('file.csv');
    expect(await prices.locator('td').nth(2).textContent()).toBe('snapshot');
    expect(await prices.locator('td').nth(3).textContent()).toBe('активен');
    expect(await prices.locator('td').nth(5).textContent()).toMatch(/№\d+ готов/);
    expect(await prices.locator('td').nth(6).textContent()).toMatch(/^\d[\d\s\u00a0]*$/);
    const orphan = page.locator('tr[data-flow="orphan-prices"]');
    expect(await orphan.locator('[data-warning]').textContent()).toBe(
      'price type ORPHAN (ORPHAN) is bound to no city and no agreement: 2 prices are not visible (bind it: cityPriceTypes: { <city code>: "ORPHAN" })');
    expect(await prices.locator('[data-warning]').count()).toBe(0);
    // The description is text: no script ran, no element was made of it.
    expect(await orphan.locator('td').first().textContent()).toContain(XSS);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    await shot(page, 'console-flows-viewer', 'console');

    await page.getByRole('link', { name: 'orphan-prices' }).click();
    await page.waitForURL((u) => u.pathname === '/console/flows/orphan-prices');
    expect(await page.locator('.description').textContent()).toBe(XSS);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator('[data-warning]').first().textContent()).toContain('price type ORPHAN (ORPHAN) is bound to no city');
    expect(await page.getByRole('button', { name: 'Приостановить' }).count()).toBe(0);
    expect(await page.locator('textarea').count()).toBe(0);
    expect(await page.locator('tr[data-run]').count()).toBe(1);
    expect(await page.locator('tr[data-run] a').getAttribute('href')).toMatch(/^\/console\/runs\/\d+$/);
    await shot(page, 'console-flow-viewer', 'console');
    await page.getByRole('button', { name: 'Выйти' }).click();
    await page.waitForURL((u) => u.pathname === '/console/login');
    expect(await page.getByRole('status').textContent()).toContain('Вы вышли');
    await page.context().close();
  });

  it('lets an operator edit a flow: every problem at line:column as `flows apply` says it, nothing applied; then a valid edit', async () => {
    const page = await fresh();
    await signInConsole(page, f.baseUrl, CONSOLE_USERS.operator);
    await page.goto(`${f.baseUrl}/console/flows/orphan-prices`);
    await page.getByText('Изменить').click();
    const bad = ORPHAN_FLOW.replace('mode: delta', 'mode: sometimes').replace('target: prices', 'target: prices\nguard: { maxChangeRatio: 7 }');
    await page.locator('textarea[name=yaml]').fill(bad);
    await page.getByRole('button', { name: 'Проверить и применить' }).click();
    await page.waitForLoadState();
    const expected = await parseFlowFile(bad, 'orphan-prices.yaml', f.tp.rt.registry).then(() => [] as Problem[], (e: unknown) => (isMagistralError(e) ? e.problems : []));
    expect(expected.length).toBeGreaterThanOrEqual(2);
    const shown = await page.locator('[data-problem]').allTextContents();
    expect(shown).toEqual(expected.map((p) => `строка ${p.line}:${p.column} ${p.path}: ${p.message}${p.rule ? ` (${p.rule})` : ''}`));
    expect(shown.join('\n')).toMatch(/строка 11:7 .*\/mode/);
    // The text typed stays in the editor to be fixed; the stored flow did not change.
    expect(await page.locator('textarea[name=yaml]').inputValue()).toBe(bad);
    const stored = await f.tp.rt.db.selectFrom('flows').select(['version', 'definition']).where('name', '=', 'orphan-prices').executeTakeFirstOrThrow();
    expect(stored.version).toBe(1);
    expect(stored.definition.mode).toBe('delta');
    await shot(page, 'console-flow-invalid-yaml', 'console');

    await page.locator('textarea[name=yaml]').fill(ORPHAN_FLOW.replace('autoCreate: true', 'autoCreate: true\nguard: { maxChangeRatio: 0.4 }'));
    await page.getByRole('button', { name: 'Проверить и применить' }).click();
    await page.waitForURL((u) => u.search === '?done=updated');
    expect(await page.getByRole('status').textContent()).toContain('Поток применён');
    expect(await page.locator('pre[data-yaml]').textContent()).toContain('maxChangeRatio: 0.4');
    const after = await f.tp.rt.db.selectFrom('flows').select(['version', 'definition']).where('name', '=', 'orphan-prices').executeTakeFirstOrThrow();
    expect(after.version).toBe(2);
    const audit = await f.tp.rt.db.selectFrom('audit_log').select(['outcome', 'actor_name', 'details']).where('action', '=', 'console.flow.apply').orderBy('id').execute();
    expect(audit.map((a) => [a.outcome, a.actor_name])).toEqual([['failed', 'oleg-operator'], ['ok', 'oleg-operator']]);
    expect(audit[1]!.details).toMatchObject({ role: 'operator', object: { name: 'orphan-prices' }, result: 'updated', version: 2 });

    await page.getByRole('button', { name: 'Приостановить' }).click();
    await page.waitForURL((u) => u.search === '?done=paused');
    expect(await page.locator('h1 .badge').textContent()).toBe('приостановлен');
    await shot(page, 'console-flow-operator', 'console');
    await page.getByRole('button', { name: 'Возобновить' }).click();
    await page.waitForURL((u) => u.search === '?done=resumed');
    expect(await page.locator('h1 .badge').textContent()).toBe('активен');
    await page.context().close();
  });

  it('shows an admin the queues with their workers, and the users, from the navigation', async () => {
    const page = await fresh();
    await signInConsole(page, f.baseUrl, CONSOLE_USERS.admin);
    expect(await page.locator('nav.main-nav a').allTextContents()).toEqual(['Потоки', 'Запуски', 'Задержанные', 'Происхождение', 'Очереди', 'Пользователи']);
    await page.getByRole('link', { name: 'Очереди' }).click();
    await page.waitForURL((u) => u.pathname === '/console/queues');
    expect(await page.locator('tr[data-queue]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-queue')))).toEqual(['extract', 'merge', 'outbound', 'acts']);
    // The fixture's workers are connected to every queue.
    for (const q of ['extract', 'merge']) expect(Number(await page.locator(`tr[data-queue="${q}"] td`).nth(5).textContent())).toBeGreaterThanOrEqual(1);
    await shot(page, 'console-queues', 'console');
    await page.getByRole('link', { name: 'Пользователи' }).click();
    await page.waitForURL((u) => u.pathname === '/console/users');
    expect(await page.locator('tr[data-user]').count()).toBe(3);
    await shot(page, 'console-users', 'console');
    await page.context().close();
  });
});
