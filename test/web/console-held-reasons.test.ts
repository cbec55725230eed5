// Why a run was held, in Russian, for each reason the bus records (held_reason, English as in the logs):
// the merge's guard (it would change too much of the flow's rows), a snapshot group's guard (the export's
// files together left out too many rows: their removal waits), and a stage that raised HoldRunError (a
// connector asking for a person). Real runs on a real store and workers, read in a real browser: the run
// page explains the reason in Russian with the logged text kept as a technical line, the held list says it
// shortly, and the decision on a run keeps it in Russian.
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { CONNECTOR_MODULES } from '../../connectors/index.ts';
import { HoldRunError } from '../../src/errors/index.ts';
import type { Connector } from '../../src/port/index.ts';
import { receive } from '../../src/pipeline/receive.ts';
import { Registry } from '../../src/pipeline/registry.ts';
import { waitForRun } from '../../src/pipeline/runs.ts';
import { closeSnapshotGroup, openSnapshotGroup } from '../../src/pipeline/snapshot-group.ts';
import { launchBrowser, shot, textOf } from '../helpers/browser.ts';
import { CONSOLE_USERS, consolePage, consoleServer, type ConsoleServer } from '../helpers/console.ts';
import { csv, pricesFlow } from '../helpers/pipeline.ts';

const H = 'sku;price_type;price;currency';
const SENDER_REASON = 'the sender marked this export for review';

/** A connector that asks for a person on every payload, as a connector may (HoldRunError through the port). */
const asking: Connector = {
  kind: 'test.asks',
  optionsSchema: { type: 'object' },
  async *parse(input) {
    for await (const chunk of input) void chunk;
    throw new HoldRunError(SENDER_REASON);
  },
};

let s: ConsoleServer;
let browser: Browser;
let baseUrl: string;
/** The held runs: by the merge's guard, by a snapshot group's guard (its finalize run), by a connector. */
const held = { change: 0, removal: 0, asked: 0 };

const wait = (id: number) => waitForRun(s.tp.rt.db, id, { timeoutMs: 60_000, intervalMs: 50 });

beforeAll(async () => {
  [s, browser] = await Promise.all([
    consoleServer('conheldwhy', [], { registry: new Registry([...CONNECTOR_MODULES, { name: 'test', connectors: [asking] }]) }),
    launchBrowser(),
  ]);
  await s.tp.startWorkers();
  await s.tp.applyFlowYaml(pricesFlow('guarded', 'guard: { maxChangeRatio: 0.3 }', 'snapshot'));
  await s.tp.applyFlowYaml(pricesFlow('grouped', 'guard: { maxChangeRatio: 0.3 }', 'snapshot'));
  await s.tp.applyFlowYaml(pricesFlow('asking', '', 'delta').replace('connector: file.csv', 'connector: test.asks'));
  await s.app.listen({ port: 0, host: '127.0.0.1' });
  baseUrl = `http://127.0.0.1:${(s.app.server.address() as { port: number }).port}`;

  // The merge's guard: 6 of 10 prices change, over 30 %.
  const ten = Array.from({ length: 10 }, (_, i) => `A${i};retail;${i + 1};RUB`);
  expect((await s.tp.ingest('guarded', csv(H, ten))).state).toBe('done');
  const changed = await s.tp.ingest('guarded', csv(H, ten.map((l, i) => (i < 6 ? l.replace(/;\d+;RUB$/, `;${i + 50};RUB`) : l))));
  expect(changed.state).toBe('held');
  held.change = changed.id;

  // A snapshot in one file of a group (as a 1C exchange session sends it) carries 2 of 4 rows: the group's
  // end would remove the other 2, 50 % of the flow's rows.
  expect((await s.tp.ingest('grouped', csv(H, ['B1;g;1;RUB', 'B2;g;2;RUB', 'B3;g;3;RUB', 'B4;g;4;RUB']))).state).toBe('done');
  await openSnapshotGroup(s.tp.rt.db, 'session-1');
  const part = await receive(s.tp.rt, { flows: ['grouped'], snapshotGroup: 'session-1', files: [{ fileName: 'offers0_1.csv', body: Readable.from([csv(H, ['B1;g;1;RUB', 'B2;g;2;RUB'])]) }] });
  expect((await wait(part.runs[0]!.id)).state).toBe('done');
  const [finalize] = await closeSnapshotGroup(s.tp.rt, 'session-1');
  expect((await wait(finalize!)).state).toBe('held');
  held.removal = finalize!;

  const asked = await s.tp.ingest('asking', 'anything', 'export.csv');
  expect(asked.state).toBe('held');
  held.asked = asked.id;
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await s?.close();
});

const signedIn = (user = CONSOLE_USERS.viewer): Promise<Page> => consolePage(browser, baseUrl, user);


describe('why a run was held, in Russian', () => {
  it('the merge\'s guard: the numbers in Russian, the logged reason as a technical line', async () => {
    const page = await signedIn();
    await page.goto(`${baseUrl}/console/runs/${held.change}`);
    expect(await textOf(page, '[data-held-ru]')).toBe(
      'Изменил бы 6 из 10 строк в охвате потока — 60,0 %, а порог потока 30,0 % (guard.maxChangeRatio). Новых 0, изменится 6, удалится 0.');
    expect(await textOf(page, '[data-held-tech]')).toBe(
      'Техническая причина (как в журнале): would change 6 of 10 rows in scope (60.0 % > 30.0 %): 0 inserted, 6 updated, 0 removed');
    expect(await textOf(page, '[data-held-what]')).toContain('В хранилище пока ничего не записано.');
    expect(await page.locator('table.sample tbody tr').count()).toBe(6);
    await shot(page, 'console-held-why-change', 'console');
    await page.context().close();
  });

  it('a snapshot group\'s guard: rows no file of the export carried, their removal waiting; the files\' rows are written', async () => {
    const page = await signedIn();
    await page.goto(`${baseUrl}/console/runs/${held.removal}`);
    expect(await textOf(page, '[data-held-ru]')).toBe(
      'Удалил бы 2 из 4 строк в охвате потока — 50,0 %, а порог потока 30,0 % (guard.maxChangeRatio): этих строк не было ни в одном файле выгрузки.');
    expect(await textOf(page, '[data-held-tech]')).toBe(
      'Техническая причина (как в журнале): would remove 2 of 4 rows in scope that no file of the export carried (50.0 % > 30.0 %)');
    const what = await textOf(page, '[data-held-what]');
    expect(what).toContain('Строки из файлов выгрузки уже записаны; ждёт только удаление');
    expect(what).not.toContain('ничего не записано');
    expect(await textOf(page, '[data-held-sample]')).toBe(
      'Удалится 2 строки потока — те, которых не было ни в одном файле выгрузки. Примера строк нет: для такого удаления он не сохраняется.');
    // It reads no file: no reading counts, what it does said instead.
    expect(await textOf(page, '[data-finalize]')).toContain('удаляет строки потока, которых не было ни в одном файле выгрузки');
    expect(await page.locator('table.counts td[data-count]').evaluateAll((tds) => tds.map((td) => [td.getAttribute('data-count'), td.textContent]))).toEqual([['removed', '2'], ['inScope', '4']]);
    expect(await textOf(page, '[data-not-written]')).toBe('Удалено — столько удалит одобрение; пока ничего не удалено.');
    // Held since the group closed: its timeline says so (it was never staged).
    expect(await page.locator('table.timeline tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-stage')).filter(Boolean))).toEqual(['received', 'queued', 'held']);
    expect(await page.locator('tr[data-stage="held"] td.num').textContent()).toMatch(/^идёт \d+ с$/);
    await shot(page, 'console-held-why-removal', 'console');
    await page.context().close();
  });

  it('a connector\'s HoldRunError: said to be the source\'s request, not the guard, with its own words kept', async () => {
    const page = await signedIn();
    await page.goto(`${baseUrl}/console/runs/${held.asked}`);
    expect(await textOf(page, '[data-held-ru]')).toBe(
      'Запуск остановил не порог потока, а источник или этап обработки: он попросил, чтобы запуск сначала посмотрел человек. Его причина — в технической строке ниже.');
    expect(await textOf(page, '[data-held-tech]')).toBe(`Техническая причина (как в журнале): ${SENDER_REASON}`);
    expect(await textOf(page, '[data-held-what]')).toBe(
      'В хранилище пока ничего не записано; следующие запуски потока ждут решения. Одобрение прочитает файлы запуска заново, уже без остановки, и запишет их строки; отклонение отбросит запуск, следующие запуски потока пойдут дальше.');
    expect(await page.locator('[data-held-sample]').count()).toBe(0);
    expect(await page.locator('table.timeline tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-stage')).filter(Boolean))).toEqual(['received', 'queued', 'extract', 'held']);
    // No merge counts to speak of: nothing said of what approving would write.
    expect(await page.locator('[data-not-written]').count()).toBe(0);
    await shot(page, 'console-held-why-asked', 'console');
    await page.context().close();
  });

  it('the held list says each reason shortly in Russian; a decision keeps it in Russian', async () => {
    const page = await signedIn(CONSOLE_USERS.operator);
    await page.goto(`${baseUrl}/console/held`);
    const why = async (id: number) => textOf(page, `tr[data-run="${id}"] [data-held-short]`);
    expect(await why(held.change)).toBe('Изменил бы 6 из 10 строк в охвате потока: 60,0 % при пороге 30,0 %.');
    expect(await why(held.removal)).toBe('Удалил бы 2 из 4 строк в охвате потока, которых не было ни в одном файле выгрузки: 50,0 % при пороге 30,0 %.');
    expect(await why(held.asked)).toBe('Источник или этап обработки попросил проверки человеком.');
    expect(await page.locator(`tr[data-run="${held.asked}"] [data-held-short]`).getAttribute('title')).toBe(SENDER_REASON);
    await shot(page, 'console-held-why-list', 'console');

    await page.goto(`${baseUrl}/console/runs/${held.change}`);
    await page.getByRole('button', { name: 'Отклонить' }).click();
    await page.waitForURL(new RegExp(`/console/runs/${held.change}\\?done=rejected$`));
    expect(await textOf(page, '[data-decision] [data-held-short]')).toBe('Изменил бы 6 из 10 строк в охвате потока: 60,0 % при пороге 30,0 %.');
    // What it would have changed, not what it changed.
    expect(await textOf(page, '[data-not-written]')).toBe('Новых, изменено и удалено — то, что записал бы запуск; он отклонён, в хранилище ничего не записано.');
    expect(await page.locator('[data-decision] [data-held-short]').getAttribute('title')).toBe(
      'would change 6 of 10 rows in scope (60.0 % > 30.0 %): 0 inserted, 6 updated, 0 removed');
    await shot(page, 'console-held-why-decided', 'console');
    await page.context().close();
  });
});
