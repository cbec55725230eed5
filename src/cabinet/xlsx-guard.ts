// Checks an uploaded XLSX (a ZIP archive) before exceljs reads it, so a zip bomb, a hidden entry or a
// truncated archive is refused with a clear message instead of filling memory or disk.
// exceljs's streaming reader (unzipper.Parse) walks the LOCAL headers one after another and trusts
// their sizes; we read the CENTRAL directory, require the local entries to lie back to back exactly as
// it lists them (so the sequential reader sees the same entries), and inflate every entry once,
// counting bytes, to hold each to its declared size and to our caps. Inflating a 50 MB upload twice
// costs well under a second; a quick-order file of 1,000 lines is ~30 KB.
import { createInflateRaw } from 'node:zlib';
import { UploadError } from './upload-error.ts';

export interface XlsxLimits {
  maxEntries: number;
  /** Sum of the uncompressed sizes of every entry. */
  maxTotalBytes: number;
  /** exceljs keeps the shared strings in memory: their part has a cap of its own. */
  maxSharedStringsBytes: number;
}

export const XLSX_LIMITS: XlsxLimits = {
  maxEntries: 500,
  maxTotalBytes: 256 * 1024 * 1024,
  maxSharedStringsBytes: 32 * 1024 * 1024,
};

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const DESCRIPTOR = 0x08074b50;

function damaged(fileName: string, why: string): UploadError {
  return new UploadError(`Файл «${fileName}» повреждён или обрезан: ${why}. Сохраните книгу в Excel заново и загрузите ещё раз.`);
}

/** The central directory's entries; throws an UploadError naming what is wrong. */
export function zipEntries(buf: Buffer, fileName: string, limits: XlsxLimits = XLSX_LIMITS): ZipEntry[] {
  // The end record sits in the last 22 bytes plus a comment of at most 65,535 bytes.
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65_535); i--) {
    if (buf.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw damaged(fileName, 'не найден конец ZIP-архива');
  const count = buf.readUInt16LE(eocd + 10);
  const cdSize = buf.readUInt32LE(eocd + 12);
  const cdOffset = buf.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdOffset === 0xffffffff) {
    throw new UploadError(`Файл «${fileName}» слишком большой для книги Excel (ZIP64). Разбейте его на несколько файлов.`);
  }
  if (count > limits.maxEntries) {
    throw new UploadError(`Файл «${fileName}» состоит из слишком многих частей (${count}, допустимо не больше ${limits.maxEntries}): это не обычная книга Excel.`);
  }
  if (cdOffset + cdSize > eocd) throw damaged(fileName, 'оглавление архива выходит за его конец');

  const entries: ZipEntry[] = [];
  let at = cdOffset;
  let total = 0;
  for (let n = 0; n < count; n++) {
    if (at + 46 > eocd || buf.readUInt32LE(at) !== CENTRAL) throw damaged(fileName, 'оглавление архива нарушено');
    const e: ZipEntry = {
      flags: buf.readUInt16LE(at + 8),
      method: buf.readUInt16LE(at + 10),
      compressedSize: buf.readUInt32LE(at + 20),
      size: buf.readUInt32LE(at + 24),
      localOffset: buf.readUInt32LE(at + 42),
      name: buf.toString('utf8', at + 46, at + 46 + buf.readUInt16LE(at + 28)),
    };
    at += 46 + buf.readUInt16LE(at + 28) + buf.readUInt16LE(at + 30) + buf.readUInt16LE(at + 32);
    if (e.flags & 1) throw new UploadError(`Файл «${fileName}» защищён паролем: снимите защиту и загрузите ещё раз.`);
    if (e.method !== 0 && e.method !== 8) throw damaged(fileName, `часть «${e.name}» сжата неизвестным способом`);
    if (e.size === 0xffffffff || e.compressedSize === 0xffffffff) {
      throw new UploadError(`Файл «${fileName}» слишком большой для книги Excel (ZIP64). Разбейте его на несколько файлов.`);
    }
    total += e.size;
    if (total > limits.maxTotalBytes) {
      throw new UploadError(`Файл «${fileName}» после распаковки больше ${limits.maxTotalBytes / 1024 / 1024} МБ: такую книгу мы не читаем. Оставьте в ней только строки заказа.`);
    }
    if (e.name === 'xl/sharedStrings.xml' && e.size > limits.maxSharedStringsBytes) {
      throw new UploadError(`В файле «${fileName}» слишком много текста (таблица строк больше ${limits.maxSharedStringsBytes / 1024 / 1024} МБ). Оставьте в книге только строки заказа.`);
    }
    entries.push(e);
  }

  // The local entries must follow one another exactly as listed, up to the central directory.
  let expected = 0;
  for (const e of [...entries].sort((a, b) => a.localOffset - b.localOffset)) {
    if (e.localOffset !== expected || e.localOffset + 30 > cdOffset || buf.readUInt32LE(e.localOffset) !== LOCAL) {
      throw damaged(fileName, `часть «${e.name}» не на своём месте`);
    }
    let end = e.localOffset + 30 + buf.readUInt16LE(e.localOffset + 26) + buf.readUInt16LE(e.localOffset + 28) + e.compressedSize;
    if (e.flags & 8) end += end + 4 <= buf.length && buf.readUInt32LE(end) === DESCRIPTOR ? 16 : 12;
    if (end > cdOffset) throw damaged(fileName, `часть «${e.name}» обрезана`);
    expected = end;
  }
  if (expected !== cdOffset) throw damaged(fileName, 'в архиве есть данные вне оглавления');
  return entries;
}

/** Inflates an entry, counting bytes only; refuses output past its declared size. */
function inflatedSize(buf: Buffer, e: ZipEntry): Promise<number> {
  const start = e.localOffset + 30 + buf.readUInt16LE(e.localOffset + 26) + buf.readUInt16LE(e.localOffset + 28);
  const data = buf.subarray(start, start + e.compressedSize);
  if (e.method === 0) return Promise.resolve(data.length);
  return new Promise((resolve, reject) => {
    const z = createInflateRaw();
    let n = 0;
    z.on('data', (chunk: Buffer) => {
      n += chunk.length;
      if (n > e.size) {
        z.destroy();
        reject(new Error('larger than declared'));
      }
    });
    z.on('error', reject);
    z.on('end', () => resolve(n));
    z.end(data);
  });
}

/**
 * Refuses anything exceljs should not read: names the file and the rule. Returns the entry names.
 */
export async function checkXlsx(buf: Buffer, fileName: string, limits: XlsxLimits = XLSX_LIMITS): Promise<string[]> {
  const entries = zipEntries(buf, fileName, limits);
  if (!entries.some((e) => e.name === 'xl/workbook.xml')) {
    throw new UploadError(`Файл «${fileName}» — ZIP-архив, но не книга Excel (XLSX). Загрузите CSV или XLSX.`);
  }
  for (const e of entries) {
    let n: number;
    try {
      n = await inflatedSize(buf, e);
    } catch {
      throw damaged(fileName, `часть «${e.name}» не распаковывается`);
    }
    if (n !== e.size) throw damaged(fileName, `часть «${e.name}» не совпадает с оглавлением`);
  }
  return entries.map((e) => e.name);
}
