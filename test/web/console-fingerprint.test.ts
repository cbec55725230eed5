// A snapshot flow's runs read with a fingerprint, on the console's pages in a real browser: the run page
// shows the rows skipped as equal to the last accepted snapshot beside the others, its figures add up
// (read = rejected + skipped + staged, staged = new + changed + unchanged), and it says in Russian whether
// the run compared with a fingerprint or fell back to a full read; the runs list and the flow page show
// the same read count with its skipped rows. The runs are driven through extract and merge by hand, as
// the workers would, so that a run can be caught between them (a write outside the bus: full read).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { extractRun } from '../../src/pipeline/extract/index.ts';
import { mergeRun } from '../../src/pipeline/merge.ts';
import { launchBrowser, shot, textOf } from '../helpers/browser.ts';
import { CONSOLE_USERS, consolePage, consoleServer, type ConsoleServer } from '../helpers/console.ts';
import { csv, pricesFlow } from '../helpers/pipeline.ts';

const H = 'sku;price_type;price;currency';
const FLOW = 'fp-console';

/** 100 prices of one price type, P0 … P99. */
const FIRST = Array.from({ length: 100 }, (_, i) => `P${i};retail;${i + 1}.50;RUB`);
/** 60 rows as they were, 30 changed, 10 gone (P90 … P99), 5 new, 2 rejected (no price). */
const SECOND = [
  ...FIRST.slice(0, 60),
  ...Array.from({ length: 30 }, (_, i) => `P${60 + i};retail;${61 + i}.75;RUB`),
  ...Array.from({ length: 5 }, (_, i) => `P${100 + i};retail;${200 + i};RUB`),
  'BAD1;retail;много;RUB', 'BAD2;retail;дорого;RUB',
];

let s: ConsoleServer;
let browser: Browser;
let baseUrl: string;
let first: number;
let second: number;
let third: number;

/** Extract and merge by hand until the run ends (a 'restage' is read again, as the workers do). */
async function drive(id: number): Promise<void> {
  for (let i = 0; i < 4; i++) {
    if ((await extractRun(s.tp.rt, id)) !== 'staged') return;
    if ((await mergeRun(s.tp.rt, id)) !== 'restage') return;
  }
}

const runRow = async (id: number) => (await s.tp.rt.pool.query(`SELECT state, rows_read::int AS read, rows_staged::int AS staged, rows_skipped::int AS skipped,
  rows_rejected::int AS rejected, rows_inserted::int AS inserted, rows_updated::int AS updated, rows_unchanged::int AS unchanged,
  rows_removed::int AS removed, rows_in_scope::int AS "inScope", fingerprint_base::int AS base, fingerprint_off AS off FROM runs WHERE id = $1`, [id])).rows[0];

beforeAll(async () => {
  [s, browser] = await Promise.all([consoleServer('confp'), launchBrowser()]);
  await s.tp.applyFlowYaml(pricesFlow(FLOW, '', 'snapshot'));
  await s.app.listen({ port: 0, host: '127.0.0.1' });
  baseUrl = `http://127.0.0.1:${(s.app.server.address() as { port: number }).port}`;

  // A first load (into an empty table) writes the flow's fingerprint; the second snapshot compares with it.
  first = await s.tp.send(FLOW, csv(H, FIRST), 'prices-1.csv');
  await drive(first);
  second = await s.tp.send(FLOW, csv(H, SECOND), 'prices-2.csv');
  await drive(second);
  expect(await runRow(second)).toMatchObject({ state: 'done', base: first, off: false, skipped: 60 });

  // The same file again, but a person changes a price between its read and its merge: the fingerprint no
  // longer matches the store, and the run is read again in full, without it.
  third = await s.tp.send(FLOW, csv(H, SECOND), 'prices-3.csv');
  expect(await extractRun(s.tp.rt, third)).toBe('staged');
  expect(await runRow(third)).toMatchObject({ base: second, skipped: 95 });
  await s.tp.rt.pool.query(`UPDATE prices SET value = 0 WHERE product_id = (SELECT id FROM products WHERE code = 'P0')`);
  expect(await mergeRun(s.tp.rt, third)).toBe('restage');
  await drive(third);
  expect(await runRow(third)).toMatchObject({ state: 'done', base: null, off: true, skipped: 0, updated: 1 });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await s?.close();
});

const signedIn = (user = CONSOLE_USERS.viewer): Promise<Page> => consolePage(browser, baseUrl, user);

/** The run page's counts table, cell by cell (key: the cell's data-count). */
async function counts(page: Page): Promise<Record<string, number | null>> {
  const cells = page.locator('table.counts td[data-count]');
  const out: Record<string, number | null> = {};
  for (let i = 0; i < await cells.count(); i++) {
    const text = (await cells.nth(i).textContent())!.replace(/\s/g, '');
    out[(await cells.nth(i).getAttribute('data-count'))!] = text === '—' ? null : Number(text);
  }
  return out;
}


describe('a fingerprinted snapshot run in the console', () => {
  it('shows the skipped rows, figures that add up, and which fingerprint the run compared with', async () => {
    const page = await signedIn();
    await page.goto(`${baseUrl}/console/runs/${second}`);
    const c = await counts(page);
    expect(c).toEqual({ read: 97, rejected: 2, skipped: 60, staged: 35, inserted: 5, updated: 30, unchanged: 0, removed: 10, inScope: 100 });
    // Every row read lands in one column: rejected, skipped, or staged (and then new, changed or unchanged).
    expect(c.rejected! + c.skipped! + c.staged!).toBe(c.read);
    expect(c.inserted! + c.updated! + c.unchanged!).toBe(c.staged);
    // The same figures as the run's record, which counts the skipped rows among the unchanged.
    const row = await runRow(second);
    expect([c.read, c.staged, c.skipped, c.rejected, c.unchanged! + c.skipped!]).toEqual([row.read, row.staged, row.skipped, row.rejected, row.unchanged]);

    const sum = await textOf(page, '[data-counts-sum]');
    expect(sum).toContain('Прочитано 97 = отказы 2 + пропущено по отпечатку 60 + подготовлено 35.');
    expect(sum).toContain('Подготовлено 35 = новых 5 + изменено 30 + без изменений 0.');
    expect(sum).toContain('Всего без изменений 60: 60 пропущено по отпечатку и 0 подготовленных, совпавших с хранилищем.');
    expect(await textOf(page, '[data-skipped-hint]')).toContain(
      '«Пропущено по отпечатку» — строки, совпавшие с последним принятым снимком потока строка в строку: они не подготавливались и не сравнивались с хранилищем');
    expect(await textOf(page, '[data-fingerprint]')).toBe(
      `Сравнён с отпечатком запуска №${first} — последним принятым снимком потока: 60 строк совпали с ним и пропущены.`);
    expect(await page.locator('[data-fingerprint] a').getAttribute('href')).toBe(`/console/runs/${first}`);
    await shot(page, 'console-run-fingerprint', 'console');
    await page.context().close();
  });

  it('says that a run whose fingerprint no longer matched the store was read in full, and that its rows are now the flow\'s fingerprint', async () => {
    const page = await signedIn();
    await page.goto(`${baseUrl}/console/runs/${third}`);
    expect(await counts(page)).toEqual({ read: 97, rejected: 2, skipped: 0, staged: 95, inserted: 0, updated: 1, unchanged: 94, removed: 0, inScope: 95 });
    expect(await textOf(page, '[data-counts-sum]')).toContain('Прочитано 97 = отказы 2 + пропущено по отпечатку 0 + подготовлено 95.');
    const fp = await textOf(page, '[data-fingerprint]');
    expect(fp).toContain('Прочитан полностью, без отпечатка');
    expect(fp).toContain('хранилище изменилось после последнего принятого снимка');
    expect(await textOf(page, '[data-fingerprint-current]')).toBe('Строки этого запуска стали отпечатком потока: следующий снимок пропустит те, что совпадут с ними.');
    expect(await page.locator('[data-skipped-hint]').count()).toBe(0);
    await shot(page, 'console-run-fingerprint-off', 'console');
    await page.context().close();
  });

  it('shows the same read count with its skipped rows in the runs list and on the flow page', async () => {
    const page = await signedIn();
    await page.goto(`${baseUrl}/console/runs?flow=${FLOW}`);
    expect(await textOf(page, `table.runs tr[data-run="${second}"] [data-read]`)).toBe('97');
    expect(await page.locator(`table.runs tr[data-run="${second}"] [data-skipped]`).textContent()).toBe('60 пропущено по отпечатку');
    // A run read in full has nothing skipped to mention.
    expect(await textOf(page, `table.runs tr[data-run="${third}"] [data-read]`)).toBe('97');
    expect(await page.locator(`table.runs tr[data-run="${third}"] [data-skipped]`).count()).toBe(0);
    await shot(page, 'console-runs-fingerprint', 'console');
    await page.goto(`${baseUrl}/console/flows/${FLOW}`);
    const row = page.locator(`tr[data-run="${second}"]`);
    expect(await textOf(page, `tr[data-run="${second}"] [data-read]`)).toBe('97');
    expect(await row.locator('[data-skipped]').textContent()).toBe('60 пропущено по отпечатку');
    await shot(page, 'console-flow-fingerprint', 'console');
    await page.context().close();
  });
});
