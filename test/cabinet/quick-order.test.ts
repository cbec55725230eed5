// Quick order from a file on the demo store: CSV in its encodings and delimiters, XLSX of 1,000 lines,
// unknown articles, bad quantities, packs, duplicates, files that are not CSV/XLSX, 50 MB, broken and
// bomb-like XLSX, and adding the found lines to the cart of a legal entity the contact acts for.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import yazl from 'yazl';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { parseUpload, detectKind } from '../../src/cabinet/uploads.ts';
import { quickOrderReport, parseQuantity } from '../../src/cabinet/quick-order.ts';
import { addToCart } from '../../src/cabinet/cart.ts';
import { cartSummary } from '../../src/cabinet/cart-summary.ts';
import { UploadError } from '../../src/cabinet/upload-error.ts';
import { checkXlsx } from '../../src/cabinet/xlsx-guard.ts';
import { expectedPrice, filesFixture, type FilesFixture } from './files-fixture.ts';

interface DemoProduct { sku: string; name: string; article: string; barcode: string; unit: string; prices: Record<string, string> }
const demo = new Map<string, DemoProduct>();
for (const line of readFileSync(path.join(REPO_DIR, 'ops/demo/products.csv'), 'utf8').trim().split('\n').slice(1)) {
  const [sku, name, article, barcode, , unit] = line.split(';');
  demo.set(sku!, { sku: sku!, name: name!, article: article!, barcode: barcode!, unit: unit!, prices: {} });
}
for (const line of readFileSync(path.join(REPO_DIR, 'ops/demo/prices.csv'), 'utf8').trim().split('\n').slice(1)) {
  const [sku, pt, price] = line.split(';');
  demo.get(sku!)!.prices[pt!] = price!;
}
const sku = (n: number) => `SKU-${String(n).padStart(5, '0')}`;

async function xlsxOf(rows: Array<Array<string | number | null>>): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('Заказ');
  for (const r of rows) ws.addRow(r);
  return Buffer.from(await wb.xlsx.writeBuffer());
}

async function refusal(p: Promise<unknown>): Promise<string> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e, 'should be refused').toBeInstanceOf(UploadError);
  return (e as UploadError).message;
}

let f: FilesFixture;
beforeAll(async () => {
  f = await filesFixture('quickorder');
}, 180_000);
afterAll(async () => {
  await f?.close();
});

describe('quantities', () => {
  it('takes comma or dot decimals and spaces, refuses negative, zero, words and too many digits', () => {
    expect(parseQuantity('1 234,5')).toEqual({ ok: '1234.5' });
    expect(parseQuantity('2.25')).toEqual({ ok: '2.25' });
    expect(parseQuantity('-3')).toEqual({ error: 'количество «-3» отрицательное' });
    expect(parseQuantity('0,0')).toEqual({ error: 'количество равно нулю' });
    expect(parseQuantity('много')).toEqual({ error: 'количество «много» — не число' });
    expect(parseQuantity('')).toEqual({ error: 'не указано количество' });
    expect('error' in parseQuantity('1,1234567')).toBe(true);
  });
});

describe('quick order from CSV', () => {
  it('reads a Windows-1251 CSV with a header: prices for the legal entity, unknown rows, bad quantities, packs, duplicates', async () => {
    const text = [
      'Артикул;Наименование;Количество',
      'ART-00001;автомат;5', // pack of 12 (box; the pallet of 480 is not the smallest pack) → 12
      'ART-00002;розетка;1,5', // a piece: fractional → refused
      'НЕТ-ТАКОГО;что-то;3', // unknown
      `${demo.get(sku(3))!.barcode};по штрихкоду;2`, // by barcode
      'SKU-00003;по коду;3', // the same product by SKU → merged with row 5
      'ART-00004;кабель;150', // metres, reel of 100 → 200
      'ART-00005;;-2',
      'ART-00006;;0',
      'ART-00007;;два',
      ';без артикула;4',
      'ART-00008;;2,000',
    ].join('\r\n');
    const parsed = await parseUpload(iconv.encode(text, 'win1251'), 'заказ.csv');
    expect(parsed).toMatchObject({ format: 'csv', headerRow: 1, priceList: false });
    expect(parsed.rows[0]).toEqual({ row: 2, article: 'ART-00001', quantity: '5' });

    const pricing = await f.pricingOf('LE2'); // dealer price type, 3 % off (the legal entity's agreement)
    expect(pricing).toMatchObject({ priceTypeCode: 'dealer', discountPercent: '3' });
    const report = await quickOrderReport(f.tp.rt.db, { pricing }, parsed.rows);

    expect(report.unknown).toEqual([{ row: 4, article: 'НЕТ-ТАКОГО' }]);
    expect(report.rejected.map((r) => [r.row, r.reason])).toEqual([
      [3, 'дробное количество 1,5 для товара, который продаётся поштучно (шт)'],
      [8, 'количество «-2» отрицательное'],
      [9, 'количество равно нулю'],
      [10, 'количество «два» — не число'],
      [11, 'не указан артикул'],
    ]);
    const bySku = new Map(report.lines.map((l) => [l.sku, l]));
    expect([...bySku.keys()]).toEqual([sku(1), sku(3), sku(4), sku(8)]);
    const p1 = bySku.get(sku(1))!;
    expect(p1).toMatchObject({ rows: [2], requested: '5', quantity: '12', pack: '12', price: expectedPrice(demo.get(sku(1))!.prices.dealer!, '3') });
    expect(p1.price).toBe('16094.54');
    expect(p1.amount).toBe('193134.48');
    expect(bySku.get(sku(3))).toMatchObject({ rows: [5, 6], requested: '5', quantity: '5' });
    expect(bySku.get(sku(4))).toMatchObject({ rows: [7], requested: '150', quantity: '200', pack: '100' });
    expect(bySku.get(sku(8))).toMatchObject({ rows: [12], quantity: '2' }); // 2,000 pieces is a whole number
    expect(report.notices.map((n) => n.text)).toEqual([
      'Строка 2: 5 шт округлено до 12 шт — товар SKU-00001 продаётся упаковками по 12 шт',
      'Строки 5, 6: товар SKU-00003 указан несколько раз — объединено в одну строку, 5 шт',
      'Строка 7: 150 м округлено до 200 м — товар SKU-00004 продаётся упаковками по 100 м',
    ]);
    let total = 0n;
    for (const l of report.lines) total += BigInt(l.amount.replace('.', ''));
    expect(report.total).toBe(`${total / 100n}.${String(total % 100n).padStart(2, '0')}`);
    expect(report.currency).toBe('RUB');
  });

  it('reads UTF-8 without a header, comma separated, and tab separated', async () => {
    const comma = await parseUpload(Buffer.from('ART-00010,3\nART-00011,"4,5"\n'), 'a.csv');
    expect(comma).toMatchObject({ headerRow: null, rows: [{ row: 1, article: 'ART-00010', quantity: '3' }, { row: 2, article: 'ART-00011', quantity: '4,5' }] });
    const tab = await parseUpload(Buffer.from('\uFEFFSKU\tQty\nSKU-00012\t7\n'), 'b.txt');
    expect(tab).toMatchObject({ headerRow: 1, rows: [{ row: 2, article: 'SKU-00012', quantity: '7' }] });
    const report = await quickOrderReport(f.tp.rt.db, { pricing: await f.pricingOf('LE1') }, tab.rows);
    expect(report.lines[0]).toMatchObject({ sku: 'SKU-00012', quantity: '7', price: expectedPrice(demo.get('SKU-00012')!.prices.wholesale!, '0') });
  });

  it('finds a header below title rows, keeps row numbers across quoted line breaks, and reads the barcode column when the article is empty', async () => {
    const text = [
      'ООО «Покупатель»;;;',
      'Заявка от 01.12.2026;;;',
      'Наименование;Артикул;Штрихкод;Кол-во, шт',
      '"Розетка,',
      'белая";ART-00002;;3',
      `Без артикула;;${demo.get(sku(3))!.barcode};2`,
      ';;;',
      'Итого;;;5',
    ].join('\n');
    const parsed = await parseUpload(Buffer.from(text), 'заявка.csv');
    expect(parsed.headerRow).toBe(3);
    expect(parsed.rows).toEqual([
      { row: 4, article: 'ART-00002', quantity: '3' },
      { row: 6, article: demo.get(sku(3))!.barcode, quantity: '2' },
      { row: 8, article: '', quantity: '5' },
    ]);
    const report = await quickOrderReport(f.tp.rt.db, { pricing: await f.pricingOf('LE1') }, parsed.rows);
    expect(report.lines.map((l) => l.sku)).toEqual([sku(2), sku(3)]);
    expect(report.rejected).toEqual([{ row: 8, article: '', quantity: '5', reason: 'не указан артикул' }]);
  });

  it('refuses a file that is not CSV or XLSX by its content, whatever its name', async () => {
    expect(await refusal(parseUpload(Buffer.from('%PDF-1.4\n...'), 'order.csv'))).toBe('Файл «order.csv» — документ PDF. Загрузите CSV или XLSX.');
    expect(await refusal(parseUpload(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a]), 'order.xlsx'))).toContain('изображение PNG');
    expect(await refusal(parseUpload(Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]), 'old.xls'))).toContain('Excel 97–2003');
    expect(await refusal(parseUpload(Buffer.from([1, 2, 0, 0, 5, 6, 7]), 'x.csv'))).toContain('не похож ни на CSV, ни на XLSX');
    const zip = new yazl.ZipFile();
    zip.addBuffer(Buffer.from('hello'), 'readme.txt');
    expect(await refusal(parseUpload(await zipBuffer(zip), 'order.xlsx'))).toBe('Файл «order.xlsx» — ZIP-архив, но не книга Excel (XLSX). Загрузите CSV или XLSX.');
    expect(detectKind(Buffer.from('ART-1;2'), 'x.bin')).toBe('csv');
  });

  it('refuses a buffer over the 20 MB limit (the page refuses a 50 MB upload earlier, test/web/cabinet-files.test.ts)', async () => {
    expect(await refusal(parseUpload(Buffer.alloc(20 * 1024 * 1024 + 1, 0x41), 'b.csv'))).toBe('Файл «b.csv» больше 20 МБ: загрузите файл поменьше.');
  });
});

function zipBuffer(zip: yazl.ZipFile): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks))).on('error', reject);
    zip.end();
  });
}

describe('quick order from XLSX', () => {
  it('reports 1,000 lines correctly from XLSX and from CSV: found by SKU, article and barcode, merged, rounded, unknown rows named', async () => {
    const rows: Array<Array<string | number | null>> = [['Артикул', 'Кол-во']];
    const want = new Map<string, bigint>(); // sku → quantity × 1000 (three decimals)
    for (let i = 0; i < 1000; i++) {
      if (i >= 990) {
        rows.push([`NOPE-${i}`, 1]);
        continue;
      }
      const p = demo.get(sku((i % 300) + 1))!;
      const id = i % 3 === 0 ? p.sku : i % 3 === 1 ? p.article : Number(p.barcode); // a barcode typed as a number cell
      const qty = p.unit === 'm' ? ((i % 5) + 1) * 1.5 : (i % 7) + 1;
      rows.push([id, qty]);
      want.set(p.sku, (want.get(p.sku) ?? 0n) + BigInt(Math.round(qty * 1000)));
    }
    const buf = await xlsxOf(rows);
    const parsed = await parseUpload(buf, 'заказ-1000.xlsx');
    expect(parsed.format).toBe('xlsx');
    expect(parsed.rows).toHaveLength(1000);
    expect(parsed.rows[1]).toEqual({ row: 3, article: demo.get(sku(2))!.article, quantity: '2' });

    const pricing = await f.pricingOf('LE1'); // wholesale, no discount
    const report = await quickOrderReport(f.tp.rt.db, { pricing }, parsed.rows);
    expect(report.unknown.map((u) => u.row)).toEqual(Array.from({ length: 10 }, (_, k) => 992 + k));
    expect(report.rejected).toEqual([]);
    expect(report.lines).toHaveLength(300);
    let total = 0n;
    for (const l of report.lines) {
      let q = want.get(l.sku)!;
      if (l.sku === sku(1)) q = ((q + 11_999n) / 12_000n) * 12_000n;
      if (l.sku === sku(4)) q = ((q + 99_999n) / 100_000n) * 100_000n;
      const qText = (q % 1000n === 0n ? `${q / 1000n}` : `${q / 1000n}.${String(q % 1000n).padStart(3, '0').replace(/0+$/, '')}`);
      expect(l.quantity, l.sku).toBe(qText);
      // SKU-00010 carries tiers (files-fixture TIERED): 10+ at 90, 100+ at 80.
      const tiered = q >= 100_000n ? '80' : q >= 10_000n ? '90' : '100';
      const price = expectedPrice(l.sku === 'SKU-00010' ? tiered : demo.get(l.sku)!.prices.wholesale!, '0');
      expect(l.price, l.sku).toBe(price);
      const amountMilli = BigInt(price.replace('.', '')) * q; // kopecks × 1000
      const amount = (amountMilli + 500n) / 1000n;
      expect(l.amount, l.sku).toBe(`${amount / 100n}.${String(amount % 100n).padStart(2, '0')}`);
      total += amount;
    }
    expect(report.total).toBe(`${total / 100n}.${String(total % 100n).padStart(2, '0')}`);
    expect(report.notices.length).toBeGreaterThanOrEqual(300); // every product named by several rows

    // The same 1,000 lines as a Windows-1251 CSV with decimal commas: the same report.
    const csvText = rows.map((r) => r.map((c) => String(c).replace('.', ',')).join(';')).join('\r\n');
    const fromCsv = await parseUpload(iconv.encode(csvText, 'win1251'), 'заказ-1000.csv');
    expect(fromCsv).toMatchObject({ format: 'csv', headerRow: 1 });
    expect(fromCsv.rows).toHaveLength(1000);
    expect(await quickOrderReport(f.tp.rt.db, { pricing }, fromCsv.rows)).toEqual(report);
  });

  it('refuses a truncated XLSX with a clear message', async () => {
    const buf = await xlsxOf([['Артикул', 'Количество'], ['ART-00001', 2]]);
    const msg = await refusal(parseUpload(buf.subarray(0, Math.floor(buf.length * 0.6)), 'обрезан.xlsx'));
    expect(msg).toMatch(/^Файл «обрезан\.xlsx» повреждён или обрезан: /);
  });

  it('refuses a zip bomb before inflating it, and an entry that inflates past its declared size', async () => {
    const zip = new yazl.ZipFile();
    zip.addBuffer(Buffer.from('<workbook/>'), 'xl/workbook.xml');
    const mb = Buffer.alloc(1024 * 1024, 0x20);
    zip.addReadStream(Readable.from((function* () {
      for (let i = 0; i < 270; i++) yield mb;
    })()), 'xl/worksheets/sheet1.xml'); // 270 MB of spaces, ~270 KB zipped
    const bomb = await zipBuffer(zip);
    expect(bomb.length).toBeLessThan(2 * 1024 * 1024);
    const rssBefore = process.memoryUsage().rss;
    expect(await refusal(parseUpload(bomb, 'bomb.xlsx'))).toContain('после распаковки больше 256 МБ');
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(100 * 1024 * 1024);

    // The same entry declared as 1 KB in both headers: the inflate is stopped at the declared size.
    const liar = Buffer.from(await zipBufferSmall());
    const msg = await refusal(checkXlsx(liar, 'liar.xlsx'));
    expect(msg).toContain('не распаковывается');

    const many = new yazl.ZipFile();
    many.addBuffer(Buffer.from('<workbook/>'), 'xl/workbook.xml');
    for (let i = 0; i < 600; i++) many.addBuffer(Buffer.from('x'), `xl/media/${i}.txt`);
    expect(await refusal(parseUpload(await zipBuffer(many), 'many.xlsx'))).toContain('слишком многих частей (601, допустимо не больше 500)');
  });
});

/** A zip whose sheet inflates to 1 MB but whose headers (local and central) say 1 KB. */
async function zipBufferSmall(): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  zip.addBuffer(Buffer.from('<workbook/>'), 'xl/workbook.xml', { compress: true });
  zip.addBuffer(Buffer.alloc(1024 * 1024, 0x20), 'xl/worksheets/sheet1.xml', { compress: true });
  const buf = await zipBuffer(zip);
  // Patch the uncompressed size of every header naming the sheet (local: offset 22, central: 24).
  for (let i = 0; i + 4 < buf.length; i++) {
    const sig = buf.readUInt32LE(i);
    if (sig === 0x04034b50 && buf.toString('utf8', i + 30, i + 30 + buf.readUInt16LE(i + 26)) === 'xl/worksheets/sheet1.xml') buf.writeUInt32LE(1024, i + 22);
    if (sig === 0x02014b50 && buf.toString('utf8', i + 46, i + 46 + buf.readUInt16LE(i + 28)) === 'xl/worksheets/sheet1.xml') buf.writeUInt32LE(1024, i + 24);
  }
  return buf;
}

describe('prices like the cart and the order', () => {
  it('prices by the quantity tier of the price in force, and the cart total then equals the report', async () => {
    const db = f.tp.rt.db;
    const pricing = await f.pricingOf('LE1');
    const report = await quickOrderReport(db, { pricing }, [
      { row: 1, article: 'SKU-00010', quantity: '12' }, { row: 2, article: 'SKU-00011', quantity: '3' },
    ]);
    expect(report.lines[0]).toMatchObject({ sku: 'SKU-00010', quantity: '12', price: '90.00', amount: '1080.00' });
    const p2 = await f.ids.contact('P2'); // LE1's other contact: a cart of its own
    const le1 = await f.ids.legalEntity('LE1');
    const c1 = (await db.selectFrom('contacts').select('client_id').where('id', '=', p2).executeTakeFirstOrThrow()).client_id as number;
    const shopper = { contactId: p2, clientId: c1, legalEntityId: le1, cityId: null, pricing };
    const added = await addToCart(db, shopper, report.lines.map((l) => ({ sku: l.sku, quantity: l.quantity })));
    expect(added.problems).toEqual([]);
    const summary = await cartSummary(db, shopper);
    expect(summary).toMatchObject({ lines: 2, total: report.total });
    await db.deleteFrom('cart_lines').where('contact_id', '=', p2).execute();
  });
});
