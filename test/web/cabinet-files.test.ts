// Quick order and price lists in a real browser on the demo data set: a 1,000-line XLSX uploaded,
// its report read as the buyer sees it and added to the cart; files that are not CSV/XLSX and a 50 MB
// file refused on the page; both price lists downloaded and read back (exceljs, pdftotext) for the
// legal entity's price; a filled price list uploaded back into the cart.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import ExcelJS from 'exceljs';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { cabinetFixture, DEMO_USERS, type CabinetFixture } from '../helpers/cabinet.ts';
import { ARTIFACTS, launchBrowser, shot } from '../helpers/browser.ts';

const products = readFileSync(path.join(REPO_DIR, 'ops/demo/products.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(';'));

let f: CabinetFixture;
let browser: Browser;
let page: Page;
let dir: string;
beforeAll(async () => {
  [f, browser] = await Promise.all([cabinetFixture('cabfiles'), launchBrowser()]);
  dir = mkdtempSync(path.join(tmpdir(), 'cabfiles-'));
  page = await browser.newPage({ acceptDownloads: true, viewport: { width: 1360, height: 900 } });
  await f.signIn(page, DEMO_USERS.head); // P1: LE2 first (dealer prices, 3 % off)
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await f?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function cartLines(): Promise<Array<{ code: string; quantity: string }>> {
  const r = await f.tp.rt.pool.query(`
    SELECT p.code, trim_scale(c.quantity)::text AS quantity FROM cart_lines c
    JOIN products p ON p.id = c.product_id JOIN contacts ct ON ct.id = c.contact_id JOIN legal_entities le ON le.id = c.legal_entity_id
    WHERE ct.code = 'P1' AND le.code = 'LE2' ORDER BY p.code`);
  return r.rows;
}

async function upload(buf: Buffer | string, name: string, mime: string): Promise<void> {
  await page.goto(`${f.baseUrl}/cabinet/quick-order`);
  await page.setInputFiles('#upload-file', typeof buf === 'string' ? buf : { name, mimeType: mime, buffer: buf });
  await Promise.all([page.waitForLoadState('load'), page.click('.upload-form button[type=submit]')]);
}

describe('quick order', () => {
  it('reports a 1,000-line XLSX (found, unknown rows, packs) and adds the found lines to the cart', async () => {
    await page.goto(`${f.baseUrl}/cabinet/quick-order`);
    await shot(page, 'quick-order-form');
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('Заказ');
    ws.addRow(['Артикул', 'Количество']);
    for (let i = 0; i < 1000; i++) {
      if (i % 250 === 7) ws.addRow([`НЕТ-${i}`, 1]);
      else if (i === 500) ws.addRow(['ART-00002', '1,5']); // pieces: refused
      else ws.addRow([products[i % 300]![2], (i % 4) + 1]);
    }
    await upload(Buffer.from(await wb.xlsx.writeBuffer()), 'заказ-1000.xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    const summary = await page.locator('.qo-summary').textContent();
    expect(summary).toContain('заказ-1000.xlsx');
    expect(summary).toContain('1000 строк заказа');
    expect(summary).toMatch(/Найдено 300 позиций на сумму [\d\s\u00a0]+,\d\d\u00a0₽/);
    expect(summary).toContain('5 строк требуют внимания');
    const unknownRows = await page.locator('.qo-unknown tbody tr td:first-child').allTextContents();
    expect(unknownRows).toEqual(['9', '259', '509', '759']);
    expect(await page.locator('.qo-rejected tbody tr td').allTextContents()).toEqual(['502', 'ART-00002', '1,5', 'дробное количество 1,5 для товара, который продаётся поштучно (шт)']);
    expect(await page.locator('.qo-lines tbody tr').count()).toBe(300);
    const first = page.locator('.qo-lines tr[data-sku="SKU-00001"]');
    expect(await first.locator('td').nth(5).textContent()).toBe('16\u00a0094,54\u00a0₽'); // dealer 16 592,31 − 3 %
    await shot(page, 'quick-order-report');
    await page.screenshot({ path: path.join(ARTIFACTS, 'cabinet', 'quick-order-report-top.png') }); // the first screen, readable

    await page.click('#qo-add');
    await page.locator('#cart-total[data-lines="300"]').waitFor();
    expect(await page.locator('#flash').textContent()).toBe('В корзину «АО «Энергомонтаж-Сервис»» добавлено 300 позиций. Перейти в корзину');
    const cart = await cartLines();
    expect(cart).toHaveLength(300);
    expect(cart.find((c) => c.code === 'SKU-00001')?.quantity).toBe('4'); // rows 2, 302, 602, 902; the demo has no packs
    await shot(page, 'quick-order-added');
  });

  it('refuses a file that is not CSV/XLSX and a 50 MB file with a message on the page', async () => {
    await upload(Buffer.from('%PDF-1.7\n%…'), 'order.csv', 'text/csv');
    expect(await page.locator('#flash').textContent()).toBe('Файл «order.csv» — документ PDF. Загрузите CSV или XLSX.');
    await shot(page, 'quick-order-not-csv');
    const big = path.join(dir, 'big.csv');
    writeFileSync(big, Buffer.alloc(50 * 1024 * 1024, 0x41));
    await upload(big, 'big.csv', 'text/csv');
    expect(await page.locator('#flash').textContent()).toBe('Файл слишком большой: можно загрузить не больше 20 МБ.');
  });

  it('refuses an upload without the CSRF token, and adding to the cart without it; nothing is added', async () => {
    const before = await cartLines();
    const res = await page.request.post(`${f.baseUrl}/cabinet/quick-order`, { multipart: { file: { name: 'a.csv', mimeType: 'text/csv', buffer: Buffer.from('ART-00001;1') } } });
    expect(res.status()).toBe(403);
    expect(await res.text()).toContain('Форма устарела (нет защитного токена), действие не выполнено.');
    const add = await page.request.post(`${f.baseUrl}/cabinet/quick-order/cart`, { form: { line: 'SKU-00001\t5' } });
    expect(add.status()).toBe(403);
    expect(await cartLines()).toEqual(before);
  });

  it('offers a sample CSV of products the buyer can order', async () => {
    await page.goto(`${f.baseUrl}/cabinet/quick-order`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('a[href="/cabinet/quick-order/template.csv"]')]);
    const text = readFileSync(await download.path(), 'utf8');
    expect(text).toBe('\uFEFFАртикул;Количество\r\nART-00001;10\r\nART-00002;2\r\nART-00003;1\r\n');
  });
});

describe('price lists', () => {
  it('downloads the XLSX and PDF of chosen sections with the legal entity\'s prices, and takes a filled XLSX back as an order', async () => {
    await page.goto(`${f.baseUrl}/cabinet/price-lists`);
    expect(await page.locator('.pl-tree label').first().textContent()).toMatch(/Освещение|Электротехника/);
    await page.check('input[name=group][value=protection]');
    await page.check('input[name=group][value=lamps]');
    await shot(page, 'price-lists');

    const [xlsxDl] = await Promise.all([page.waitForEvent('download'), page.click('button[value=xlsx]')]);
    expect(xlsxDl.suggestedFilename()).toMatch(/^Прайс-лист .*\.xlsx$/);
    const xlsxPath = path.join(dir, 'pl.xlsx');
    await xlsxDl.saveAs(xlsxPath);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(xlsxPath);
    const ws = wb.worksheets[0]!;
    let r1: ExcelJS.Row | undefined;
    let lamps = 0;
    ws.eachRow((row) => {
      if (row.getCell(2).value === 'SKU-00001') r1 = row;
      if (String(row.getCell(4).value).startsWith('Светильник') || String(row.getCell(4).value).startsWith('Лампа')) lamps++;
    });
    expect(r1?.getCell(6).value).toBe(16094.54);
    expect(lamps).toBeGreaterThan(0);

    await page.goto(`${f.baseUrl}/cabinet/price-lists?group=breakers`);
    const [pdfDl] = await Promise.all([page.waitForEvent('download'), page.click('button[value=pdf]')]);
    const pdfPath = path.join(dir, 'pl.pdf');
    await pdfDl.saveAs(pdfPath);
    const text = execFileSync('pdftotext', ['-layout', pdfPath, '-'], { encoding: 'utf8' });
    expect(text).toMatch(/SKU-00001\s+Автоматический выключатель 2P 63А х-ка C\s+шт\s+16 094,54/);

    // Fill "Заказ" for two products and upload the file back.
    ws.eachRow((row) => {
      if (row.getCell(2).value === 'SKU-00001') row.getCell(8).value = 4;
      if (row.getCell(2).value === 'SKU-00009') row.getCell(8).value = 1;
    });
    const filled = path.join(dir, 'filled.xlsx');
    await wb.xlsx.writeFile(filled);
    await page.goto(`${f.baseUrl}/cabinet/price-lists`);
    await page.setInputFiles('#upload-file', filled);
    await Promise.all([page.waitForLoadState('load'), page.click('.upload-form button[type=submit]')]);
    expect(await page.locator('h1').textContent()).toBe('Заказ из прайс-листа');
    expect(await page.locator('.qo-summary').textContent()).toContain('(наш прайс-лист): 2 строки заказа');
    expect(await page.locator('.qo-lines tbody tr').count()).toBe(2);
    await shot(page, 'price-list-order-report');
    const before = new Map((await cartLines()).map((c) => [c.code, Number(c.quantity)]));
    await page.click('.qo-add-top'); // the button by the summary submits the lines' form
    await page.locator('#flash.flash-ok').waitFor();
    const after = new Map((await cartLines()).map((c) => [c.code, Number(c.quantity)]));
    expect(after.get('SKU-00001')! - before.get('SKU-00001')!).toBe(4);
    expect(after.get('SKU-00009')! - before.get('SKU-00009')!).toBe(1);
  });

  it('refuses an unknown section in Russian', async () => {
    await page.goto(`${f.baseUrl}/cabinet/price-lists`);
    const res = await page.goto(`${f.baseUrl}/cabinet/price-lists/download?group=nope&format=xlsx`);
    expect(res?.status()).toBe(404);
    expect(await page.locator('#flash').textContent()).toBe('Раздел каталога «nope» не найден.');
    await page.goto(`${f.baseUrl}/cabinet/price-lists/download?format=pdf`);
    expect(await page.locator('#flash').textContent()).toBe('Выберите хотя бы один раздел каталога.');
  });
});
