// Price lists on the demo store, read back the way a buyer's software reads them: XLSX with exceljs
// (prices of the legal entity, city stock, the "Заказ" column, a formula-like name kept a string),
// PDF with pdftotext (Cyrillic text and the client's price), and the XLSX filled in and uploaded back.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ExcelJS from 'exceljs';
import yauzl from 'yauzl';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { createDb } from '../../src/db/index.ts';
import { writePriceListPdf, writePriceListXlsx, type PriceListScope } from '../../src/cabinet/price-list.ts';
import { parseUpload } from '../../src/cabinet/uploads.ts';
import { quickOrderReport } from '../../src/cabinet/quick-order.ts';
import { UploadError } from '../../src/cabinet/upload-error.ts';
import { expectedPrice, filesFixture, INJECTION_NAME, type FilesFixture } from './files-fixture.ts';

const demoPrices = new Map<string, string>();
for (const line of readFileSync(path.join(REPO_DIR, 'ops/demo/prices.csv'), 'utf8').trim().split('\n').slice(1)) {
  const [sku, pt, price] = line.split(';');
  demoPrices.set(`${sku}|${pt}`, price!);
}
const demoProducts = readFileSync(path.join(REPO_DIR, 'ops/demo/products.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(';'));

async function collect(write: (out: PassThrough) => Promise<unknown>): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await write(out);
  return Buffer.concat(chunks);
}

function zipEntryText(buf: Buffer, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(buf, { lazyEntries: true }, (err, zip) => {
      if (err) return reject(err);
      zip.on('entry', (e: yauzl.Entry) => {
        if (e.fileName !== name) return zip.readEntry();
        zip.openReadStream(e, (err2, s) => {
          if (err2) return reject(err2);
          const parts: Buffer[] = [];
          s.on('data', (c: Buffer) => parts.push(c)).on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
        });
      });
      zip.on('end', () => reject(new Error(`${name} not in the archive`)));
      zip.readEntry();
    });
  });
}

let f: FilesFixture;
let scope: PriceListScope;
beforeAll(async () => {
  f = await filesFixture('pricelist');
  scope = { pricing: await f.pricingOf('LE2'), cityId: await f.ids.city('msk') };
}, 180_000);
afterAll(async () => {
  await f?.close();
});

describe('XLSX price list', () => {
  let xlsx: Buffer;
  beforeAll(async () => {
    xlsx = await collect((out) => writePriceListXlsx(f.tp.rt.db, scope, { groups: ['protection'], customer: 'АО «Энергомонтаж-Сервис»' }, out));
  });

  it('has the legal entity\'s prices, the city\'s stock and an empty "Заказ" column for every product of the section and its sub-sections', async () => {
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(xlsx as unknown as ArrayBuffer);
    const ws = wb.worksheets[0]!;
    expect(ws.getRow(1).getCell(1).value).toBe('Прайс-лист: Защита и автоматика');
    expect(String(ws.getRow(2).getCell(1).value)).toMatch(/^АО «Энергомонтаж-Сервис», город Москва, цены на \d\d\.\d\d\.\d{4}, в рублях$/);
    expect(ws.getRow(4).values).toEqual([undefined, 'Артикул', 'Код (SKU)', 'Штрихкод', 'Наименование', 'Ед.', 'Цена, ₽', 'Остаток: Москва, склад Южный порт', 'Заказ']);
    expect(ws.getRow(5).getCell(4).value).toBe('Защита и автоматика / Автоматические выключатели');

    const bySku = new Map<string, ExcelJS.Row>();
    ws.eachRow((row, n) => {
      if (n > 5) bySku.set(String(row.getCell(2).value), row);
    });
    const breakers = demoProducts.filter((p) => p[4] === 'breakers').map((p) => p[0]!);
    expect([...bySku.keys()].sort()).toEqual([...breakers, 'SKU-INJ'].sort());
    const r1 = bySku.get('SKU-00001')!;
    expect(r1.getCell(1).value).toBe('ART-00001');
    expect(r1.getCell(4).value).toBe('Автоматический выключатель 2P 63А х-ка C');
    expect(r1.getCell(5).value).toBe('шт');
    expect(r1.getCell(6).value).toBe(16094.54); // dealer 16 592,31 − 3 %
    expect(r1.getCell(7).value).toBe(332); // MSK-1; SPB-1 and EKB-1 are other cities
    expect(r1.getCell(8).value).toBeNull();
    for (const [sku, row] of bySku) {
      if (sku === 'SKU-INJ') continue;
      expect(String(row.getCell(6).value), sku).toBe(String(Number(expectedPrice(demoPrices.get(`${sku}|dealer`)!, '3'))));
    }
  });

  it('writes a formula-like product name as a guarded string, never as a formula', async () => {
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(xlsx as unknown as ArrayBuffer);
    let found = false;
    wb.worksheets[0]!.eachRow((row) => {
      if (row.getCell(2).value !== 'SKU-INJ') return;
      found = true;
      const name = row.getCell(4);
      expect(name.type).toBe(ExcelJS.ValueType.String);
      expect(name.value).toBe(`'${INJECTION_NAME}`);
      expect(row.getCell(1).type).toBe(ExcelJS.ValueType.String);
      expect(row.getCell(1).value).toBe("'@ART-INJ");
    });
    expect(found).toBe(true);
    const sheet = await zipEntryText(xlsx, 'xl/worksheets/sheet1.xml');
    expect(sheet).not.toMatch(/<f[ >]/); // no formula element anywhere
    expect(sheet).toContain('HYPERLINK');
  });

  it('filled in and uploaded back becomes an order priced for the client', async () => {
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(xlsx as unknown as ArrayBuffer);
    const ws = wb.worksheets[0]!;
    const filled: Record<string, number> = { 'SKU-00001': 3, 'SKU-00009': 2, 'SKU-INJ': 1 };
    const rowOf: Record<string, number> = {};
    const rowNo = (sku: string) => rowOf[sku] as number;
    ws.eachRow((row, n) => {
      const sku = String(row.getCell(2).value);
      if (filled[sku] !== undefined) {
        row.getCell(8).value = filled[sku];
        rowOf[sku] = n;
      }
    });
    const back = Buffer.from(await wb.xlsx.writeBuffer()); // as Excel would save it (shared strings)
    const parsed = await parseUpload(back, 'прайс-лист.xlsx');
    expect(parsed).toMatchObject({ format: 'xlsx', priceList: true, headerRow: 4 });
    expect(parsed.rows).toEqual(Object.keys(filled).map((sku) => ({ row: rowNo(sku), article: sku, quantity: String(filled[sku]) })).sort((a, b) => a.row - b.row));
    expect(parsed.skippedEmpty).toBeGreaterThan(70);
    const report = await quickOrderReport(f.tp.rt.db, { pricing: scope.pricing }, parsed.rows);
    expect(report.unknown).toEqual([]);
    const lines = Object.fromEntries(report.lines.map((l) => [l.sku, l]));
    expect(lines['SKU-00001']).toMatchObject({ quantity: '12', price: '16094.54' }); // box of 12
    expect(lines['SKU-00009']).toMatchObject({ quantity: '2', price: expectedPrice(demoPrices.get('SKU-00009|dealer')!, '3') });
    expect(lines['SKU-INJ']).toMatchObject({ quantity: '1', price: '77.60' });
  });

  it('refuses an unknown section and an empty choice in Russian', async () => {
    const e1 = await writePriceListXlsx(f.tp.rt.db, scope, { groups: ['no-such'] }, new PassThrough()).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(UploadError);
    expect(e1).toMatchObject({ status: 404, message: 'Раздел каталога «no-such» не найден.' });
    const e2 = await writePriceListXlsx(f.tp.rt.db, scope, { groups: [] }, new PassThrough()).catch((e: unknown) => e);
    expect(e2).toMatchObject({ message: 'Выберите хотя бы один раздел каталога.' });
  });
});

describe('a cancelled download', () => {
  it('ends the writer and gives its connection back when the buyer cancels (the destination is destroyed)', async () => {
    // A pool of its own: the runtime's pool is shared with the workers' sweeper (every 300 ms here),
    // whose statements made "connections taken" read 3 on a loaded CI machine although the writer
    // had given its connection back (stop 23's CI run).
    const own = createDb(f.tp.db.url, { max: 2, applicationName: 'price-list-cancel' });
    try {
      for (const write of [writePriceListXlsx, writePriceListPdf]) {
        const out = new PassThrough();
        out.once('data', () => out.destroy()); // the buyer closes the tab after the first bytes
        const settled = write(own.db, scope, { groups: ['electric', 'light'] }, out).then(() => 'finished', (e: unknown) => (e as Error).message);
        const outcome = await Promise.race([settled, new Promise((r) => setTimeout(() => r('hung'), 5_000))]);
        expect(outcome, write.name).toBe('Скачивание прервано.');
        expect(own.pool.totalCount - own.pool.idleCount, `${write.name}: connections still taken`).toBe(0);
      }
    } finally {
      await own.close();
    }
  });
});

describe('PDF price list', () => {
  it('embeds a Cyrillic font: pdftotext reads the names and the client\'s prices', async () => {
    const pdf = await collect((out) => writePriceListPdf(f.tp.rt.db, scope, { groups: ['breakers', 'cables'], customer: 'АО «Энергомонтаж-Сервис»' }, out));
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    const dir = mkdtempSync(path.join(tmpdir(), 'pl-pdf-'));
    try {
      writeFileSync(path.join(dir, 'p.pdf'), pdf);
      mkdirSync(path.join(REPO_DIR, 'test-artifacts'), { recursive: true });
      writeFileSync(path.join(REPO_DIR, 'test-artifacts', 'price-list.pdf'), pdf); // kept to look at
      const text = execFileSync('pdftotext', ['-layout', path.join(dir, 'p.pdf'), '-'], { encoding: 'utf8' });
      expect(text).toContain('Прайс-лист: Автоматические выключатели, Кабель и провод');
      expect(text).toContain('Автоматический выключатель 2P 63А х-ка C');
      expect(text).toMatch(/ART-00001\s+SKU-00001\s+Автоматический выключатель 2P 63А х-ка C\s+шт\s+16 094,54\s+332/);
      const cable = expectedPrice(demoPrices.get('SKU-00004|dealer')!, '3').replace(/\B(?=(\d{3})+(?!\d))/g, ' ').replace('.', ',');
      expect(text).toContain(cable);
      expect(text).toContain('Кабель и провод');
      const fonts = execFileSync('pdffonts', [path.join(dir, 'p.pdf')], { encoding: 'utf8' });
      expect(fonts).toMatch(/DejaVuSans\s/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
