// What a file is, read from its first bytes (magic numbers), never from its name: the documents the portal
// keeps are PDF, JPEG or PNG. Also names the usual impostors (executables, archives, HTML) for a refusal's
// text, and finds active content in a PDF (scripts, launch actions, embedded files), which a printed
// document or a scan never needs.

export type DocumentType = 'application/pdf' | 'image/jpeg' | 'image/png';

const starts = (b: Uint8Array, sig: readonly number[]): boolean => b.length >= sig.length && sig.every((x, i) => b[i] === x);

/** The document type of the bytes, or undefined. */
export function documentType(b: Uint8Array): DocumentType | undefined {
  if (starts(b, [0x25, 0x50, 0x44, 0x46, 0x2d])) return 'application/pdf';
  if (starts(b, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (starts(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  return undefined;
}

export type OtherKind = 'exe-windows' | 'exe-elf' | 'exe-macho' | 'script' | 'zip' | 'rar' | '7z' | 'office-old' | 'markup';

/** What non-document bytes are, when they are something well known. */
export function otherKind(b: Uint8Array): OtherKind | undefined {
  if (starts(b, [0x4d, 0x5a])) return 'exe-windows';
  if (starts(b, [0x7f, 0x45, 0x4c, 0x46])) return 'exe-elf';
  if (starts(b, [0xcf, 0xfa, 0xed, 0xfe]) || starts(b, [0xfe, 0xed, 0xfa, 0xcf]) || starts(b, [0xce, 0xfa, 0xed, 0xfe]) || starts(b, [0xca, 0xfe, 0xba, 0xbe])) return 'exe-macho';
  if (starts(b, [0x23, 0x21])) return 'script';
  if (starts(b, [0x50, 0x4b, 0x03, 0x04])) return 'zip';
  if (starts(b, [0x52, 0x61, 0x72, 0x21])) return 'rar';
  if (starts(b, [0x37, 0x7a, 0xbc, 0xaf])) return '7z';
  if (starts(b, [0xd0, 0xcf, 0x11, 0xe0])) return 'office-old';
  const head = Buffer.from(b.subarray(0, 64)).toString('latin1').trimStart().toLowerCase();
  if (head.startsWith('<!doctype html') || head.startsWith('<html') || head.startsWith('<svg') || head.startsWith('<?xml')) return 'markup';
  return undefined;
}

/** Markers of active content in a PDF. */
const ACTIVE_PDF = [/\/JavaScript\b/, /\/JS\s*[(<]/, /\/Launch\b/, /\/EmbeddedFiles?\b/, /\/RichMedia\b/, /\/OpenAction\b[^>]*\/(?:JavaScript|Launch)/];

/** What is wrong with a PDF's bytes: 'truncated' (no %%EOF at its end), 'active' (scripts, launch, embedded files), or undefined. */
export function pdfProblem(b: Uint8Array): 'truncated' | 'active' | undefined {
  const text = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
  if (!/%%EOF\s*$/.test(text.slice(-1024))) return 'truncated';
  if (ACTIVE_PDF.some((re) => re.test(text))) return 'active';
  return undefined;
}
