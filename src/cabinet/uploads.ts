// Reads a buyer's uploaded order file into lines {row, article, quantity}: CSV (UTF-8 or Windows-1251;
// `;`, `,` or tab; with or without a header) or XLSX (exceljs streaming reader, after xlsx-guard.ts).
// The kind is decided by the content (magic bytes), never by the file name. Our own price list
// (price-list.ts) is recognised by its header, so a filled one uploaded back is an order too.
import { isUtf8 } from 'node:buffer';
import { Readable } from 'node:stream';
import iconv from 'iconv-lite';
import type ExcelJS from 'exceljs';
import { loadExcel } from './excel.ts';
import { checkXlsx } from './xlsx-guard.ts';
import { UploadError } from './upload-error.ts';

/**
 * 20 MB, the cabinet's multipart limit (src/web/cabinet/errors.tsx): the 50 MB file is refused.
 * A 10,000-line order is ~300 KB as CSV; a filled price list of 50,000 products ~3 MB as XLSX.
 */
export const MAX_UPLOAD_BYTES = 20 * 1024 * 1024;
/** Rows with a quantity one order file may hold. */
export const MAX_ORDER_LINES = 10_000;
/** Rows read from a sheet at most (a whole filled price list is mostly rows without a quantity). */
export const MAX_SHEET_ROWS = 200_000;

export interface UploadRow {
  /** 1-based row (line) number in the file, as the buyer sees it in Excel or a text editor. */
  row: number;
  /** What identifies the product: SKU, article or barcode, as written. */
  article: string;
  /** The quantity as written (a number cell becomes its decimal text). */
  quantity: string;
}

export interface ParsedUpload {
  format: 'csv' | 'xlsx';
  /** The file is one of our price lists (its header was recognised). */
  priceList: boolean;
  /** Whether a header row was found (its row number), else columns 1 and 2 are article and quantity. */
  headerRow: number | null;
  rows: UploadRow[];
  /** Rows without a quantity, skipped (a price list's rows not ordered). */
  skippedEmpty: number;
}

export type FileKind = 'csv' | 'xlsx';

const SIGNATURES: Array<{ bytes: number[]; what: string }> = [
  { bytes: [0xd0, 0xcf, 0x11, 0xe0], what: 'книга Excel 97–2003 (.xls): сохраните её как XLSX или CSV' },
  { bytes: [0x25, 0x50, 0x44, 0x46], what: 'документ PDF' },
  { bytes: [0x89, 0x50, 0x4e, 0x47], what: 'изображение PNG' },
  { bytes: [0xff, 0xd8, 0xff], what: 'изображение JPEG' },
  { bytes: [0x47, 0x49, 0x46, 0x38], what: 'изображение GIF' },
  { bytes: [0x52, 0x61, 0x72, 0x21], what: 'архив RAR' },
  { bytes: [0x1f, 0x8b], what: 'архив GZIP' },
  { bytes: [0x37, 0x7a, 0xbc, 0xaf], what: 'архив 7-Zip' },
  { bytes: [0x7b, 0x5c, 0x72, 0x74, 0x66], what: 'документ RTF' },
  { bytes: [0x4d, 0x5a], what: 'программа' },
  { bytes: [0x7f, 0x45, 0x4c, 0x46], what: 'программа' },
];

const starts = (buf: Buffer, bytes: number[]) => bytes.every((b, i) => buf[i] === b);

/** CSV or XLSX by content; anything else is refused naming what it looks like. */
export function detectKind(buf: Buffer, fileName: string): FileKind {
  if (buf.length === 0) throw new UploadError(`Файл «${fileName}» пустой.`);
  if (starts(buf, [0x50, 0x4b, 0x03, 0x04])) return 'xlsx';
  if (starts(buf, [0x50, 0x4b, 0x05, 0x06])) throw new UploadError(`Файл «${fileName}» — пустой ZIP-архив, а не книга Excel.`);
  for (const s of SIGNATURES) {
    if (starts(buf, s.bytes)) throw new UploadError(`Файл «${fileName}» — ${s.what}. Загрузите CSV или XLSX.`);
  }
  if (starts(buf, [0xff, 0xfe]) || starts(buf, [0xfe, 0xff])) {
    throw new UploadError(`Файл «${fileName}» в кодировке UTF-16: сохраните его как CSV в UTF-8 или Windows-1251.`);
  }
  // Text has no NUL bytes; any binary format we do not know has plenty in its first kilobytes.
  if (buf.subarray(0, 64 * 1024).includes(0)) {
    throw new UploadError(`Файл «${fileName}» не похож ни на CSV, ни на XLSX (двоичные данные). Загрузите CSV или XLSX.`);
  }
  return 'csv';
}

/** UTF-8 (with or without BOM) when it decodes as such, else Windows-1251 (1C and Excel's "CSV"). */
export function decodeText(buf: Buffer): string {
  const body = starts(buf, [0xef, 0xbb, 0xbf]) ? buf.subarray(3) : buf;
  return isUtf8(body) ? body.toString('utf8') : iconv.decode(body, 'win1251');
}

/** The delimiter of a CSV: the most frequent of `;`, tab and `,` outside quotes in its first line. */
function detectDelimiter(text: string): string {
  const end = text.search(/\r?\n/);
  const first = end < 0 ? text : text.slice(0, end);
  let best = ';';
  let bestCount = 0;
  for (const d of [';', '\t', ',']) {
    let n = 0;
    let quoted = false;
    for (const ch of first) {
      if (ch === '"') quoted = !quoted;
      else if (ch === d && !quoted) n++;
    }
    if (n > bestCount) [best, bestCount] = [d, n];
  }
  return best;
}

/** RFC 4180 records with their 1-based starting line numbers. */
export function* csvRecords(text: string, delimiter = detectDelimiter(text)): Generator<{ line: number; cells: string[] }> {
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const startLine = line;
    const cells: string[] = [];
    let cell = '';
    for (;;) {
      if (i < n && text[i] === '"' && cell === '') {
        i++;
        for (;;) {
          if (i >= n) throw new UploadError(`Строка ${startLine}: кавычка открыта и не закрыта до конца файла.`);
          const ch = text[i]!;
          if (ch === '"') {
            if (text[i + 1] === '"') {
              cell += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (ch === '\n') line++;
          cell += ch;
          i++;
        }
      }
      while (i < n && text[i] !== delimiter && text[i] !== '\n' && text[i] !== '\r') cell += text[i++];
      if (i < n && text[i] === delimiter) {
        cells.push(cell);
        cell = '';
        i++;
        continue;
      }
      cells.push(cell);
      if (text[i] === '\r') i++;
      if (text[i] === '\n') i++;
      line++;
      break;
    }
    yield { line: startLine, cells };
  }
}

type Column = 'sku' | 'article' | 'barcode' | 'quantity';

// Header words (lower case, start of the cell). Our price list writes 'Код (SKU)', 'Артикул',
// 'Штрихкод' and 'Заказ'; the others are what buyers' own files say.
const HEADER_WORDS: Array<[Column, string[]]> = [
  ['sku', ['код (sku)', 'код товара', 'sku', 'код']],
  ['article', ['артикул', 'арт.', 'article', 'art']],
  ['barcode', ['штрихкод', 'штрих-код', 'штрих код', 'barcode', 'ean', 'gtin']],
  ['quantity', ['заказ', 'количество', 'кол-во', 'кол.', 'кол во', 'qty', 'quantity']],
];
/** The title of our price list's order column: its presence with 'Код (SKU)' marks our own sheet. */
export const PRICE_LIST_ORDER_HEADER = 'Заказ';
export const PRICE_LIST_SKU_HEADER = 'Код (SKU)';

interface Header {
  row: number;
  ids: number[]; // cell indexes of identifier columns, by preference: SKU, article, barcode
  quantity: number;
  priceList: boolean;
}

function headerOf(cells: string[], row: number): Header | null {
  const found = new Map<Column, number>();
  cells.forEach((raw, i) => {
    const c = raw.trim().toLowerCase();
    if (!c) return;
    for (const [col, words] of HEADER_WORDS) {
      if (!found.has(col) && words.some((w) => c === w || (c.startsWith(w) && !/[a-zа-яё]/.test(c[w.length] ?? '')))) {
        found.set(col, i);
        return;
      }
    }
  });
  const ids = (['sku', 'article', 'barcode'] as const).map((c) => found.get(c)).filter((i): i is number => i !== undefined);
  const quantity = found.get('quantity');
  if (!ids.length || quantity === undefined) return null;
  const priceList = cells.some((c) => c.trim() === PRICE_LIST_SKU_HEADER) && cells.some((c) => c.trim() === PRICE_LIST_ORDER_HEADER);
  return { row, ids, quantity, priceList };
}

/** Strips our formula-injection guard (a leading `'` before = + - @ tab CR) from a cell read back. */
export function unguardCell(s: string): string {
  return /^'[=+\-@\t\r]/.test(s) ? s.slice(1) : s;
}

/** Turns records (cells per row) into order rows: finds the header in the first 20 rows, if any. */
class RowCollector {
  header: Header | null = null;
  private pending: Array<{ row: number; cells: string[] }> = [];
  private decided = false;
  readonly rows: UploadRow[] = [];
  skippedEmpty = 0;
  private read = 0;

  constructor(private readonly fileName: string) {}

  add(row: number, cells: string[]): void {
    if (++this.read > MAX_SHEET_ROWS) {
      throw new UploadError(`В файле «${this.fileName}» больше ${MAX_SHEET_ROWS.toLocaleString('ru-RU')} строк: разбейте его на несколько файлов.`);
    }
    if (!this.decided) {
      const h = headerOf(cells, row);
      if (h) {
        this.header = h;
        this.decided = true;
        this.pending = [];
        return;
      }
      this.pending.push({ row, cells });
      if (this.pending.length >= 20) this.decide();
      return;
    }
    this.take(row, cells);
  }

  private decide(): void {
    this.decided = true;
    const p = this.pending;
    this.pending = [];
    for (const r of p) this.take(r.row, r.cells);
  }

  private take(row: number, cells: string[]): void {
    const h = this.header;
    const ids = h ? h.ids : [0];
    const qi = h ? h.quantity : 1;
    let article = '';
    for (const i of ids) {
      article = unguardCell((cells[i] ?? '').trim());
      if (article) break;
    }
    const quantity = (cells[qi] ?? '').trim();
    if (!article && !quantity && cells.every((c) => !c.trim())) return; // blank line
    if (!quantity && (h?.priceList || !article)) {
      // A price list's row nobody ordered, or a section title of a sheet: not an order line.
      this.skippedEmpty++;
      return;
    }
    this.rows.push({ row, article, quantity });
    if (this.rows.length > MAX_ORDER_LINES) {
      throw new UploadError(`В файле «${this.fileName}» больше ${MAX_ORDER_LINES.toLocaleString('ru-RU')} строк заказа: разбейте его на несколько файлов.`);
    }
  }

  finish(format: 'csv' | 'xlsx'): ParsedUpload {
    if (!this.decided) this.decide();
    return { format, priceList: this.header?.priceList ?? false, headerRow: this.header?.row ?? null, rows: this.rows, skippedEmpty: this.skippedEmpty };
  }
}

function parseCsv(buf: Buffer, fileName: string): ParsedUpload {
  const c = new RowCollector(fileName);
  for (const r of csvRecords(decodeText(buf))) c.add(r.line, r.cells);
  return c.finish('csv');
}

/** A cell's value as text: numbers in plain decimal notation, formulas by their result. */
function cellText(v: ExcelJS.CellValue): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 1e21 ? v.toFixed(0) : String(v);
  if (typeof v === 'boolean') return v ? 'ИСТИНА' : 'ЛОЖЬ';
  if (v instanceof Date) return v.toISOString().slice(0, 10);
  if ('richText' in v) return v.richText.map((t) => t.text).join('');
  if ('result' in v) return cellText((v as ExcelJS.CellFormulaValue).result as ExcelJS.CellValue);
  if ('text' in v) return String((v as ExcelJS.CellHyperlinkValue).text);
  if ('error' in v) return '';
  return '';
}

async function parseXlsx(buf: Buffer, fileName: string): Promise<ParsedUpload> {
  await checkXlsx(buf, fileName);
  const c = new RowCollector(fileName);
  const Excel = await loadExcel();
  const reader = new Excel.stream.xlsx.WorkbookReader(Readable.from([buf]), {
    sharedStrings: 'cache', hyperlinks: 'ignore', styles: 'ignore', worksheets: 'emit', entries: 'ignore',
  });
  let sheets = 0;
  try {
    for await (const ws of reader) {
      // Only the first sheet is the order; the others are read through (the reader is one stream).
      const first = sheets++ === 0;
      for await (const row of ws) {
        if (!first) continue;
        const values = row.values as ExcelJS.CellValue[];
        const cells: string[] = [];
        for (let i = 1; i < values.length; i++) cells.push(cellText(values[i]));
        c.add(row.number, cells);
      }
    }
  } catch (e) {
    if (e instanceof UploadError) throw e;
    throw new UploadError(`Файл «${fileName}» не читается как книга Excel: ${(e as Error).message}. Сохраните его в Excel заново как XLSX.`);
  }
  if (sheets === 0) throw new UploadError(`В книге «${fileName}» нет ни одного листа.`);
  return c.finish('xlsx');
}

/** Reads an upload held in memory (at most MAX_UPLOAD_BYTES). */
export async function parseUpload(buf: Buffer, fileName: string): Promise<ParsedUpload> {
  if (buf.length > MAX_UPLOAD_BYTES) throw tooLarge(fileName);
  const kind = detectKind(buf, fileName);
  const parsed = kind === 'xlsx' ? await parseXlsx(buf, fileName) : parseCsv(buf, fileName);
  if (!parsed.rows.length) {
    throw new UploadError(parsed.priceList
      ? `В прайс-листе «${fileName}» не заполнена колонка «${PRICE_LIST_ORDER_HEADER}»: укажите количество у нужных товаров.`
      : `В файле «${fileName}» нет строк заказа: нужны колонки «артикул» и «количество».`);
  }
  return parsed;
}

export function tooLarge(fileName: string): UploadError {
  return new UploadError(`Файл «${fileName}» больше ${MAX_UPLOAD_BYTES / 1024 / 1024} МБ: загрузите файл поменьше.`, 413);
}
