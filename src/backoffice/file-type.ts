// What an uploaded file really is, read from its first bytes (magic numbers), never from its name or the
// browser's Content-Type: a contract scan must be a PDF, JPEG or PNG; an executable renamed to .pdf,
// an archive, an HTML page or a PDF that runs code (JavaScript, launch actions, embedded files) is refused
// with a Russian reason the page shows as it is.

import { documentType, otherKind, pdfProblem, type DocumentType, type OtherKind } from '../../connectors/lib/index.ts';

export const MAX_SCAN_BYTES = 10 * 1024 * 1024;

export class FileRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FileRefused';
  }
}

export type SniffedType = DocumentType;

const OTHER_NAMES: Record<OtherKind, string> = {
  'exe-windows': 'исполняемая программа Windows (EXE/DLL)',
  'exe-elf': 'исполняемая программа (ELF)',
  'exe-macho': 'исполняемая программа (Mach-O)',
  script: 'сценарий (скрипт)',
  zip: 'архив ZIP или документ Office',
  rar: 'архив RAR',
  '7z': 'архив 7z',
  'office-old': 'документ Office старого формата',
  markup: 'HTML/XML-документ',
};

/**
 * The type of a scan's bytes, or FileRefused saying why not. `what` names the upload in the message
 * («Скан», «Договор»). `allowed` narrows the types (a contract the manager publishes is a PDF only).
 */
export function sniffUpload(content: Uint8Array, fileName: string, opts: { what: string; allowed?: readonly SniffedType[]; maxBytes?: number } = { what: 'Файл' }): SniffedType {
  const allowed = opts.allowed ?? ['application/pdf', 'image/jpeg', 'image/png'];
  const max = opts.maxBytes ?? MAX_SCAN_BYTES;
  const names = allowed.map((t) => (t === 'application/pdf' ? 'PDF' : t === 'image/jpeg' ? 'JPEG' : 'PNG')).join(', ').replace(/, ([^,]*)$/, ' или $1');
  const label = `${opts.what} «${fileName.slice(0, 120)}»`;
  if (content.byteLength === 0) throw new FileRefused(`${label} пустой. Выберите файл ${names}.`);
  if (content.byteLength > max) throw new FileRefused(`${label} слишком большой: ${(content.byteLength / 1024 / 1024).toFixed(1).replace('.', ',')} МБ, можно не больше ${Math.round(max / 1024 / 1024)} МБ.`);
  const type: SniffedType | undefined = documentType(content);
  if (!type || !allowed.includes(type)) {
    const known = otherKind(content);
    const other = type ? (type === 'application/pdf' ? 'PDF' : type === 'image/jpeg' ? 'изображение JPEG' : 'изображение PNG') : known && OTHER_NAMES[known];
    throw new FileRefused(`${label} не принят: по содержимому это ${other ?? 'не ' + names}, а нужен файл ${names}${/\.(pdf|jpe?g|png)$/i.test(fileName) && !type ? ' (расширение в имени файла не меняет его содержимое)' : ''}.`);
  }
  if (type === 'application/pdf') {
    const problem = pdfProblem(content);
    if (problem === 'truncated') throw new FileRefused(`${label} не принят: PDF повреждён или загружен не полностью.`);
    if (problem === 'active') throw new FileRefused(`${label} не принят: PDF содержит исполняемое содержимое (скрипты, вложенные файлы или запуск программ). Сохраните скан заново как обычный PDF.`);
  }
  return type;
}

/** The extension that matches the content, replacing whatever the name says. */
export function nameFor(fileName: string, type: SniffedType): string {
  const ext = type === 'application/pdf' ? '.pdf' : type === 'image/jpeg' ? '.jpg' : '.png';
  const base = fileName.replace(/^.*[\\/]/, '').replace(/[\u0000-\u001f"]/g, '').replace(/\.[A-Za-z0-9]{1,5}$/, '').trim().slice(0, 150) || 'document';
  return `${base}${ext}`;
}
