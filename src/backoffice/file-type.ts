// What an uploaded file really is, read from its first bytes (magic numbers), never from its name or the
// browser's Content-Type: a contract scan must be a PDF, JPEG or PNG; an executable renamed to .pdf,
// an archive, an HTML page or a PDF that runs code (JavaScript, launch actions, embedded files) is refused
// with a Russian reason the page shows as it is.

export const MAX_SCAN_BYTES = 10 * 1024 * 1024;

export class FileRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FileRefused';
  }
}

export type SniffedType = 'application/pdf' | 'image/jpeg' | 'image/png';

const starts = (b: Uint8Array, sig: number[]): boolean => b.length >= sig.length && sig.every((x, i) => b[i] === x);

/** A name for what the bytes are when they are not allowed (for the refusal's text), or undefined. */
function knownOther(b: Uint8Array): string | undefined {
  if (starts(b, [0x4d, 0x5a])) return 'исполняемая программа Windows (EXE/DLL)';
  if (starts(b, [0x7f, 0x45, 0x4c, 0x46])) return 'исполняемая программа (ELF)';
  if (starts(b, [0xcf, 0xfa, 0xed, 0xfe]) || starts(b, [0xfe, 0xed, 0xfa, 0xcf]) || starts(b, [0xce, 0xfa, 0xed, 0xfe]) || starts(b, [0xca, 0xfe, 0xba, 0xbe])) return 'исполняемая программа (Mach-O)';
  if (starts(b, [0x23, 0x21])) return 'сценарий (скрипт)';
  if (starts(b, [0x50, 0x4b, 0x03, 0x04])) return 'архив ZIP или документ Office';
  if (starts(b, [0x52, 0x61, 0x72, 0x21])) return 'архив RAR';
  if (starts(b, [0x37, 0x7a, 0xbc, 0xaf])) return 'архив 7z';
  if (starts(b, [0xd0, 0xcf, 0x11, 0xe0])) return 'документ Office старого формата';
  const head = Buffer.from(b.subarray(0, 64)).toString('latin1').trimStart().toLowerCase();
  if (head.startsWith('<!doctype html') || head.startsWith('<html') || head.startsWith('<svg') || head.startsWith('<?xml')) return 'HTML/XML-документ';
  return undefined;
}

/** Markers of active content in a PDF: a scanned, signed contract has none of them. */
const ACTIVE_PDF = [/\/JavaScript\b/, /\/JS\s*[(<]/, /\/Launch\b/, /\/EmbeddedFiles?\b/, /\/RichMedia\b/, /\/OpenAction\b[^>]*\/(?:JavaScript|Launch)/];

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
  let type: SniffedType | undefined;
  if (starts(content, [0x25, 0x50, 0x44, 0x46, 0x2d])) type = 'application/pdf';
  else if (starts(content, [0xff, 0xd8, 0xff])) type = 'image/jpeg';
  else if (starts(content, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) type = 'image/png';
  if (!type || !allowed.includes(type)) {
    const other = type ? (type === 'application/pdf' ? 'PDF' : type === 'image/jpeg' ? 'изображение JPEG' : 'изображение PNG') : knownOther(content);
    throw new FileRefused(`${label} не принят: по содержимому это ${other ?? 'не ' + names}, а нужен файл ${names}${/\.(pdf|jpe?g|png)$/i.test(fileName) && !type ? ' (расширение в имени файла не меняет его содержимое)' : ''}.`);
  }
  if (type === 'application/pdf') {
    const text = Buffer.from(content).toString('latin1');
    if (!/%%EOF\s*$/.test(text.slice(-1024))) throw new FileRefused(`${label} не принят: PDF повреждён или загружен не полностью.`);
    if (ACTIVE_PDF.some((re) => re.test(text))) throw new FileRefused(`${label} не принят: PDF содержит исполняемое содержимое (скрипты, вложенные файлы или запуск программ). Сохраните скан заново как обычный PDF.`);
  }
  return type;
}

/** The extension that matches the content, replacing whatever the name says. */
export function nameFor(fileName: string, type: SniffedType): string {
  const ext = type === 'application/pdf' ? '.pdf' : type === 'image/jpeg' ? '.jpg' : '.png';
  const base = fileName.replace(/^.*[\\/]/, '').replace(/[\u0000-\u001f"]/g, '').replace(/\.[A-Za-z0-9]{1,5}$/, '').trim().slice(0, 150) || 'document';
  return `${base}${ext}`;
}
