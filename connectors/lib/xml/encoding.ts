// Encoding detection for XML payloads: the byte order mark and the encoding named by the XML
// declaration, read from the first bytes of a file, before any of it is tokenized.
import { PayloadError } from '../../../src/port/index.ts';

/** The encodings the tokenizer reads; both keep `<`, `>`, quotes and `=` as single ASCII bytes. */
export type XmlEncoding = 'utf-8' | 'windows-1251';

/** The XML declaration must fit in this many bytes at the start of the file. */
export const DECLARATION_LIMIT = 1024;

/** What the first bytes say: a UTF-8 BOM (its length), a UTF-16 BOM, or none. */
export function byteOrderMark(head: Uint8Array): { encoding: 'utf-8'; length: 3 } | { encoding: 'utf-16'; length: 2 } | undefined {
  if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) return { encoding: 'utf-16', length: 2 };
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) return { encoding: 'utf-8', length: 3 };
  return undefined;
}

/** The encoding an XML label names (case and spelling variants included), if it is one we read. */
export function encodingFromLabel(label: string): XmlEncoding | undefined {
  const l = label.trim().toLowerCase();
  if (l === 'utf-8' || l === 'utf8') return 'utf-8';
  if (l === 'windows-1251' || l === 'cp1251' || l === 'win-1251' || l === 'x-cp1251' || l === 'win1251') return 'windows-1251';
  return undefined;
}

export interface DetectedEncoding {
  encoding: XmlEncoding;
  /** Bytes of BOM to skip before the document. */
  bomLength: number;
}

/**
 * The encoding of an XML file from its first bytes, or undefined while more bytes are needed (never
 * when `final`). A BOM says UTF-8 whatever the declaration claims; no declaration means UTF-8.
 * `format` names the document kind in the refusal of UTF-16 (e.g. CommerceML).
 */
export function detectXmlEncoding(head: Buffer, final: boolean, fileName: string, format?: string): DetectedEncoding | undefined {
  if (head.length < 4 && !final) return undefined;
  const bom = byteOrderMark(head);
  const at = { file: fileName, line: 1, column: 1 };
  if (bom?.encoding === 'utf-16') {
    throw new PayloadError('MAG_ERR_PAYLOAD_ENCODING', at, `UTF-16 is not supported: ${format ? `${format} files are` : 'the file must be'} UTF-8 or windows-1251`);
  }
  const skip = bom ? bom.length : 0;
  let declared: XmlEncoding | undefined;
  if (head.length >= skip + 5 && head.toString('latin1', skip, skip + 5) === '<?xml') {
    const end = head.indexOf('?>', skip);
    if (end < 0) {
      if (!final && head.length < DECLARATION_LIMIT) return undefined;
      throw new PayloadError('MAG_ERR_PAYLOAD_MALFORMED', at, 'the XML declaration is not closed with ?>');
    }
    const m = /\sencoding\s*=\s*(["'])([^"']*)\1/.exec(head.toString('latin1', skip, end));
    if (m) {
      declared = encodingFromLabel(m[2]!);
      if (!declared) throw new PayloadError('MAG_ERR_PAYLOAD_ENCODING', at, `unsupported encoding "${m[2]}" (supported: UTF-8, windows-1251)`);
    }
  } else if (!final && head.length < skip + 5) {
    return undefined;
  }
  return { encoding: skip ? 'utf-8' : (declared ?? 'utf-8'), bomLength: skip };
}
