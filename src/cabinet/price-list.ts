// Price lists of chosen catalog sections for one client: XLSX (exceljs's streaming WorkbookWriter) and
// PDF (pdfkit, DejaVu Sans embedded for Cyrillic). Rows come from a server-side cursor in batches and
// are committed to the output as they arrive, so memory stays flat whatever the section's size.
// Prices are the client's (effectivePriceSql on numeric); stock is the city's warehouses.
// The XLSX has an empty "Заказ" column: filled in and uploaded back it is a quick order (uploads.ts
// recognises the header).
import type { Writable } from 'node:stream';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { effectivePriceSql, type Pricing } from '../portal/pricing.ts';
import { UploadError } from './upload-error.ts';
import { guardCell } from '../security/spreadsheet-cells.ts';
import { PRICE_LIST_ORDER_HEADER, PRICE_LIST_SKU_HEADER } from './uploads.ts';
import { unitName } from './quick-order.ts';
import { fontPath } from '../backoffice/pdf.ts';
import { loadExcel } from './excel.ts';

export interface PriceListScope {
  pricing: Pick<Pricing, 'priceTypeId' | 'discountPercent' | 'currency'>;
  cityId: number | null;
}

export interface PriceListRequest {
  /** Codes of the chosen groups; each brings its sub-groups. */
  groups: string[];
  /** Who it is for, printed in the heading (e.g. the legal entity's name). */
  customer?: string;
  /** Date of the prices (default: now). */
  at?: Date;
}

export interface PriceListRow {
  section: string;
  sku: string;
  article: string | null;
  barcode: string | null;
  name: string;
  unit: string | null;
  price: string;
  currency: string;
  /** Per city warehouse (in `PriceListMeta.warehouses` order), or one total when `stockTotal`. */
  stock: string[];
}

export interface PriceListMeta {
  groups: Array<{ id: number; code: string; name: string }>;
  cityName: string | null;
  warehouses: Array<{ id: number; name: string }>;
  /** More city warehouses than columns we give them: one column with the city's total instead. */
  stockTotal: boolean;
}

/** Per-warehouse stock columns up to this many city warehouses, else one total column. */
export const MAX_WAREHOUSE_COLUMNS = 4;
/** Rows per FETCH from the cursor: 500 keeps a batch ~100 KB and the round trips few (10 for 5,000). */
const BATCH = 500;


export async function priceListMeta(db: Kysely<Database>, scope: PriceListScope, groupCodes: string[]): Promise<PriceListMeta> {
  const codes = [...new Set(groupCodes.map((c) => c.trim()).filter(Boolean))];
  if (!codes.length) throw new UploadError('Выберите хотя бы один раздел каталога.');
  const groups = (await sql<{ id: number; code: string; name: string }>`
    SELECT DISTINCT ON (code) id, code, name FROM groups WHERE code = ANY(${codes}::text[]) AND NOT deleted ORDER BY code, placeholder, id`.execute(db)).rows;
  const missing = codes.filter((c) => !groups.some((g) => g.code === c));
  if (missing.length) throw new UploadError(`Раздел каталога «${missing[0]}» не найден.`, 404);
  const city = (await sql<{ name: string }>`SELECT name FROM cities WHERE id = ${scope.cityId}::int`.execute(db)).rows[0];
  const warehouses = (await sql<{ id: number; name: string }>`
    SELECT id, name FROM warehouses WHERE city_id = ${scope.cityId}::int AND NOT placeholder ORDER BY name, id`.execute(db)).rows;
  return { groups, cityName: city?.name ?? null, warehouses, stockTotal: warehouses.length > MAX_WAREHOUSE_COLUMNS };
}

/** The rows of the price list in order (section path, then name), fetched from a cursor in batches. */
export async function* priceListRows(db: Kysely<Database>, scope: PriceListScope, meta: PriceListMeta): AsyncGenerator<PriceListRow[]> {
  if (scope.pricing.priceTypeId === null) return;
  const wh = meta.warehouses.map((w) => w.id);
  // One scalar subquery per warehouse with its id as a parameter: the stock table is partitioned by
  // warehouse, and a constant id prunes to one partition's primary key (joined to unnest(ids) it
  // probed every partition's product index instead).
  const stock = meta.stockTotal
    ? sql`ARRAY[(SELECT coalesce(trim_scale(sum(s.quantity)), 0)::text FROM stock s WHERE s.product_id = p.id AND s.warehouse_id = ANY(${wh}::int[]))]`
    : wh.length === 0
      ? sql`ARRAY[]::text[]`
      : sql`ARRAY[${sql.join(wh.map((id) => sql`coalesce((SELECT trim_scale(s.quantity) FROM stock s WHERE s.warehouse_id = ${id}::int AND s.product_id = p.id), 0)::text`))}]`;
  const query = sql`
    WITH RECURSIVE sub(id, path, names) AS (
      SELECT g.id, ARRAY[g.id], ARRAY[g.name]::text[] FROM groups g WHERE g.id = ANY(${meta.groups.map((g) => g.id)}::bigint[])
      UNION ALL
      SELECT g.id, s.path || g.id, s.names || g.name FROM groups g JOIN sub s ON g.parent_id = s.id WHERE NOT g.deleted AND NOT g.id = ANY(s.path)
    ), sec AS (
      SELECT DISTINCT ON (id) id, array_to_string(names, ' / ') AS section FROM sub ORDER BY id, array_length(path, 1)
    )
    SELECT sec.section, p.code AS sku, p.article, p.barcode, p.name, u.code AS unit,
      ${effectivePriceSql('pr', scope.pricing)}::text AS price, pr.currency, ${stock} AS stock
    FROM sec
    JOIN products p ON p.group_id = sec.id AND NOT p.deleted AND NOT p.placeholder
    JOIN prices pr ON pr.price_type_id = ${scope.pricing.priceTypeId}::int AND pr.product_id = p.id AND pr.value > 0
    LEFT JOIN units u ON u.id = p.unit_id
    ORDER BY sec.section, p.name, p.id`;
  // A cursor in a read-only transaction: the rows leave PostgreSQL BATCH at a time (kysely has no
  // cursor without pg-cursor; DECLARE/FETCH is the same thing in plain SQL).
  yield* fetchInTransaction(db, query);
}

async function* fetchInTransaction(db: Kysely<Database>, query: ReturnType<typeof sql>): AsyncGenerator<PriceListRow[]> {
  // The generator holds one connection from the pool between yields (one per download).
  const queue: Array<PriceListRow[] | null> = [];
  let wake: (() => void) | null = null;
  let resume: (() => void) | null = null;
  let failed: unknown = null;
  let stopped = false;
  const done = db.transaction().setAccessMode('read only').execute(async (trx) => {
    // The per-row subqueries make the plan look expensive enough for JIT, whose compilation took
    // 1.5 s of the 2.1 s a 5,000-product list took (EXPLAIN ANALYZE); the query itself runs in 0.5 s.
    await sql`SET LOCAL jit = off`.execute(trx);
    await sql`DECLARE price_list NO SCROLL CURSOR FOR ${query}`.execute(trx);
    for (;;) {
      if (stopped) break;
      const batch = (await sql<PriceListRow>`FETCH ${sql.raw(String(BATCH))} FROM price_list`.execute(trx)).rows;
      if (!batch.length) break;
      queue.push(batch);
      wake?.();
      // Back-pressure: wait for the consumer to take the batch before reading the next one.
      await new Promise<void>((r) => { resume = r; });
    }
  }).catch((e: unknown) => { failed = e; }).finally(() => {
    queue.push(null);
    wake?.();
  });
  try {
    for (;;) {
      if (!queue.length) await new Promise<void>((r) => { wake = r; });
      wake = null;
      const b = queue.shift();
      if (b === undefined) continue;
      if (b === null) break;
      yield b;
      const r = resume as (() => void) | null;
      resume = null;
      r?.();
    }
  } finally {
    stopped = true;
    const r = resume as (() => void) | null;
    r?.();
    await done;
  }
  if (failed) throw failed;
}

function heading(meta: PriceListMeta, req: PriceListRequest, scope: PriceListScope): string {
  const at = (req.at ?? new Date()).toLocaleDateString('ru-RU', { timeZone: 'Europe/Moscow' });
  return [req.customer, meta.cityName ? `город ${meta.cityName}` : null, `цены на ${at}`, scope.pricing.currency ? `в ${scope.pricing.currency === 'RUB' ? 'рублях' : scope.pricing.currency}` : null]
    .filter(Boolean).join(', ');
}

function stockTitles(meta: PriceListMeta): string[] {
  if (meta.stockTotal || !meta.warehouses.length) return [meta.cityName ? `Остаток, ${meta.cityName}` : 'Остаток'];
  return meta.warehouses.map((w) => `Остаток: ${w.name}`);
}

/**
 * Watches the destination of a download: a buyer who cancels it (the socket closes, `out` is destroyed)
 * must end the cursor's transaction at once. Without this the writer waited forever for a stream that
 * would never finish and kept its pool connection (found by destroying `out` mid-list).
 */
function watchOutput(out: Writable): { check(): void; gone: Promise<void> } {
  // An error of a destroyed destination is expected here; without a listener it would crash the process.
  out.on('error', () => {});
  // Closed before 'finish' (writableFinished): cancelled. A PassThrough closes right after it finished.
  const cancelled = () => out.destroyed && !out.writableFinished;
  const gone = new Promise<void>((resolve) => {
    out.once('close', () => resolve());
    out.once('error', () => resolve());
  });
  return {
    check() {
      if (cancelled()) throw new UploadError('Скачивание прервано.', 499);
    },
    gone,
  };
}

/** Writes the XLSX price list to `out`; resolves with the number of product rows once `out` has it all. */
export async function writePriceListXlsx(db: Kysely<Database>, scope: PriceListScope, req: PriceListRequest, out: Writable): Promise<{ rows: number }> {
  const meta = await priceListMeta(db, scope, req.groups);
  // Inline strings (no shared-strings table kept until the end) and few styles: the writer's memory
  // does not grow with the rows.
  const watch = watchOutput(out);
  const ExcelJS = await loadExcel();
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useSharedStrings: false, useStyles: true });
  wb.creator = 'Magistral';
  const stockCols = stockTitles(meta);
  const headerRow = 4;
  const ws = wb.addWorksheet('Прайс-лист', { views: [{ state: 'frozen', ySplit: headerRow }] });
  ws.columns = [
    { key: 'article', width: 16 }, { key: 'sku', width: 14 }, { key: 'barcode', width: 15 }, { key: 'name', width: 60 }, { key: 'unit', width: 6 },
    { key: 'price', width: 14, style: { numFmt: '#,##0.00' } }, ...stockCols.map((_, i) => ({ key: `stock${i}`, width: 14 })),
    { key: 'order', width: 10, style: { fill: { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFFFF8DC' } } } },
  ];
  const title = ws.getRow(1);
  title.getCell(1).value = `Прайс-лист: ${meta.groups.map((g) => g.name).join(', ')}`;
  title.font = { bold: true, size: 14 };
  title.commit();
  const sub = ws.getRow(2);
  sub.getCell(1).value = guardCell(heading(meta, req, scope));
  sub.commit();
  const hint = ws.getRow(3);
  hint.getCell(1).value = `Укажите количество в колонке «${PRICE_LIST_ORDER_HEADER}» и загрузите файл в личном кабинете: «Прайс-листы» → «Заказ из прайс-листа».`;
  hint.font = { italic: true, color: { argb: 'FF555555' } };
  hint.commit();
  const head = ws.getRow(headerRow);
  head.values = ['Артикул', PRICE_LIST_SKU_HEADER, 'Штрихкод', 'Наименование', 'Ед.', `Цена${scope.pricing.currency === 'RUB' ? ', ₽' : ''}`, ...stockCols, PRICE_LIST_ORDER_HEADER];
  head.font = { bold: true };
  head.alignment = { vertical: 'middle', wrapText: true };
  head.eachCell((c) => { c.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFE8EEF6' } }; });
  head.commit();

  let section: string | null = null;
  let rows = 0;
  let at = headerRow + 1;
  for await (const batch of priceListRows(db, scope, meta)) {
    watch.check(); // leaving the loop ends the cursor's transaction (the generator's finally)
    for (const r of batch) {
      if (r.section !== section) {
        section = r.section;
        const s = ws.getRow(at++);
        s.getCell(4).value = guardCell(section);
        s.font = { bold: true };
        s.commit();
      }
      const row = ws.getRow(at++);
      // Price and stock are numbers so the buyer's sheet can sum them; they are decimals computed on
      // numeric by PostgreSQL, and kopecks fit a double exactly to 15 significant digits.
      row.values = [
        guardCell(r.article ?? ''), guardCell(r.sku), guardCell(r.barcode ?? ''), guardCell(r.name), guardCell(unitName(r.unit)),
        Number(r.price), ...r.stock.map(Number), null,
      ];
      row.commit();
      rows++;
    }
  }
  if (rows === 0) {
    const e = ws.getRow(at);
    e.getCell(4).value = 'В выбранных разделах нет товаров с ценами для вас.';
    e.commit();
  }
  ws.commit();
  const committed = wb.commit();
  committed.catch(() => {}); // awaited below; not left unhandled when the race ends first
  await Promise.race([committed, watch.gone.then(() => watch.check())]);
  await committed;
  return { rows };
}

/** DejaVu Sans from the dejavu-fonts-ttf package, wherever node_modules is. */

/** Writes the PDF price list to `out` (A4 landscape; stock: the city's total, or per warehouse up to 2). */
export async function writePriceListPdf(db: Kysely<Database>, scope: PriceListScope, req: PriceListRequest, out: Writable): Promise<{ rows: number }> {
  const meta = await priceListMeta(db, scope, req.groups);
  // Loaded on first use: pdfkit and fontkit add 11 MB of RSS to every process that imports this file.
  const { default: PDFDocument } = await import('pdfkit');
  const doc = new PDFDocument({ size: 'A4', layout: 'landscape', margin: 30, bufferPages: false, info: { Title: 'Прайс-лист', Creator: 'Magistral' } });
  const watch = watchOutput(out);
  const finished = new Promise<void>((resolve, reject) => {
    out.on('finish', resolve);
    doc.on('error', reject);
  });
  finished.catch(() => {}); // awaited below; not left unhandled when the race ends first
  doc.pipe(out);
  doc.registerFont('body', fontPath());
  doc.registerFont('bold', fontPath(true));
  const perWarehouse = !meta.stockTotal && meta.warehouses.length > 0 && meta.warehouses.length <= 2;
  const rowsMeta: PriceListMeta = { ...meta, stockTotal: !perWarehouse };
  const stockCols = perWarehouse ? meta.warehouses.map((w) => w.name) : [meta.cityName ? `Остаток, ${meta.cityName}` : 'Остаток'];
  const left = doc.page.margins.left;
  const width = doc.page.width - left - doc.page.margins.right;
  const fixed = [90, 80, 36, 80, ...stockCols.map(() => 80)];
  const nameW = width - fixed.reduce((a, b) => a + b, 0);
  const widths = [fixed[0]!, fixed[1]!, nameW, fixed[2]!, fixed[3]!, ...fixed.slice(4)];
  const titles = ['Артикул', 'Код', 'Наименование', 'Ед.', `Цена${scope.pricing.currency === 'RUB' ? ', ₽' : ''}`, ...stockCols];
  const rightAligned = (i: number) => i >= 4;
  const bottom = () => doc.page.height - doc.page.margins.bottom;
  const fontSize = 8;

  const drawRow = (cells: string[], font: 'body' | 'bold', fill?: string) => {
    doc.font(font).fontSize(fontSize);
    const h = Math.max(...cells.map((c, i) => doc.heightOfString(c, { width: widths[i]! - 6 }))) + 6;
    if (doc.y + h > bottom()) {
      doc.addPage();
      drawHeader();
      doc.font(font).fontSize(fontSize);
    }
    const y = doc.y;
    if (fill) doc.rect(left, y, width, h).fill(fill).fillColor('black');
    let x = left;
    cells.forEach((c, i) => {
      doc.text(c, x + 3, y + 3, { width: widths[i]! - 6, align: rightAligned(i) ? 'right' : 'left', lineBreak: true });
      x += widths[i]!;
    });
    doc.moveTo(left, y + h).lineTo(left + width, y + h).lineWidth(0.3).strokeColor('#cccccc').stroke();
    doc.x = left;
    doc.y = y + h;
  };
  let pageNo = 0;
  const footer = () => {
    // Below the bottom margin: lift the margin while writing, else pdfkit would start a new page.
    const bottomMargin = doc.page.margins.bottom;
    doc.page.margins.bottom = 0;
    const y = doc.y;
    doc.font('body').fontSize(7).fillColor('#777777')
      .text(`${listTitle} · страница ${++pageNo}`, left, doc.page.height - bottomMargin + 8, { width, align: 'right', lineBreak: false });
    doc.fillColor('black');
    doc.page.margins.bottom = bottomMargin;
    doc.x = left;
    doc.y = y;
  };
  const drawHeader = () => {
    footer();
    drawRow(titles, 'bold', '#e8eef6');
  };

  const listTitle = `Прайс-лист: ${meta.groups.map((g) => g.name).join(', ')}`;
  doc.font('bold').fontSize(14).text(listTitle, left, doc.y);
  doc.font('body').fontSize(9).text(heading(meta, req, scope));
  doc.moveDown(0.5);
  drawHeader();

  const money = (d: string) => d.replace(/\B(?=(\d{3})+(?!\d))/g, ' ').replace('.', ',');
  let section: string | null = null;
  let rows = 0;
  for await (const batch of priceListRows(db, scope, rowsMeta)) {
    watch.check();
    for (const r of batch) {
      if (r.section !== section) {
        section = r.section;
        drawRow(['', '', section, '', '', ...stockCols.map(() => '')], 'bold', '#f4f4f4');
      }
      const stock = r.stock.map((s) => money(s));
      drawRow([r.article ?? '', r.sku, r.name, unitName(r.unit), money(r.price), ...stock], 'body');
      rows++;
    }
  }
  if (rows === 0) doc.font('body').fontSize(10).text('В выбранных разделах нет товаров с ценами для вас.', left);
  doc.end();
  await Promise.race([finished, watch.gone.then(() => watch.check())]);
  await finished;
  return { rows };
}
