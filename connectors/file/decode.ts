// Turns a payload's byte chunks into text: UTF-8 (BOM or not) or Windows-1251, chosen from the first
// chunk when asked to, with encoding errors reported by file, line and byte offset.
import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';
import { PayloadError } from '../../src/port/index.ts';

export type Encoding = 'utf-8' | 'windows-1251';

/** Enough bytes to see a BOM and the start of the text before deciding the encoding. */
const SNIFF_BYTES = 4;

/**
 * Where the first invalid UTF-8 sequence starts in buf (index), or -1 when the whole buffer is valid.
 * Only called after isUtf8 said no, so speed does not matter here; exactness does.
 */
export function firstInvalidUtf8(buf: Uint8Array): number {
  let i = 0;
  while (i < buf.length) {
    const b = buf[i]!;
    let need: number;
    let min: number;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else {
      return i;
    }
    if (i + need >= buf.length) return i;
    let cp = b & (need === 1 ? 0x1f : need === 2 ? 0x0f : 0x07);
    for (let k = 1; k <= need; k++) {
      const c = buf[i + k]!;
      if ((c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/** Length of buf without a trailing UTF-8 sequence that the next chunk will complete. */
function completeLength(buf: Uint8Array): number {
  const end = buf.length;
  let i = end - 1;
  let cont = 0;
  while (i >= 0 && cont < 3 && (buf[i]! & 0xc0) === 0x80) {
    i--;
    cont++;
  }
  if (i < 0) return end;
  const lead = buf[i]!;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return end - i < need ? i : end;
}

function countNewlines(buf: Uint8Array, end: number): number {
  let n = 0;
  for (let i = 0; i < end; i++) if (buf[i] === 0x0a) n++;
  return n;
}

export interface DecoderOptions {
  encoding: Encoding | 'auto';
  fileName: string;
  /** Line the text decoded so far ends on (the parser knows); used only to place an encoding error. */
  lineOfDecodedEnd: () => number;
}

export class ChunkDecoder {
  private encoding: Encoding | undefined;
  private pending: Buffer | null = null;
  /** File offset of the first byte of `pending` (or of the next chunk when nothing is pending). */
  private offset = 0;
  private started = false;
  private readonly opts: DecoderOptions;

  constructor(opts: DecoderOptions) {
    this.opts = opts;
    this.encoding = opts.encoding === 'auto' ? undefined : opts.encoding;
  }

  /** The encoding in use, once decided. */
  get decided(): Encoding | undefined {
    return this.encoding;
  }

  /** Decodes the next chunk; may return '' while it still gathers bytes to decide. */
  write(chunk: Buffer): string {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    if (!this.started) {
      if (buf.length < SNIFF_BYTES) {
        this.pending = Buffer.from(buf);
        return '';
      }
      buf = this.start(buf);
    }
    return this.decode(buf, false);
  }

  /** Decodes what is left at the end of the payload. */
  end(): string {
    const buf = this.pending ?? Buffer.alloc(0);
    this.pending = null;
    if (!this.started) return this.decode(this.start(buf), true);
    return this.decode(buf, true);
  }

  private start(buf: Buffer): Buffer {
    this.started = true;
    if ((buf[0] === 0xff && buf[1] === 0xfe) || (buf[0] === 0xfe && buf[1] === 0xff)) {
      throw new PayloadError('MAG_ERR_PAYLOAD_ENCODING', { file: this.opts.fileName, line: 1 }, 'UTF-16 is not supported: save the file as UTF-8 or Windows-1251');
    }
    const bom = buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf;
    if (bom && this.encoding !== 'windows-1251') {
      this.encoding = 'utf-8';
      this.offset = 3;
      return buf.subarray(3);
    }
    if (!this.encoding) this.encoding = isUtf8(buf.subarray(0, completeLength(buf))) ? 'utf-8' : 'windows-1251';
    return buf;
  }

  private decode(buf: Buffer, final: boolean): string {
    if (this.encoding === 'windows-1251') {
      this.offset += buf.length;
      return iconv.decode(buf, 'win1251');
    }
    const end = final ? buf.length : completeLength(buf);
    const part = end === buf.length ? buf : buf.subarray(0, end);
    if (!isUtf8(part)) this.fail(part);
    if (end < buf.length) this.pending = Buffer.from(buf.subarray(end));
    this.offset += end;
    return part.toString('utf8');
  }

  private fail(part: Buffer): never {
    const at = Math.max(0, firstInvalidUtf8(part));
    const line = this.opts.lineOfDecodedEnd() + countNewlines(part, at);
    const bytes = [...part.subarray(at, at + 4)].map((b) => `0x${b.toString(16).toUpperCase().padStart(2, '0')}`).join(' ');
    throw new PayloadError(
      'MAG_ERR_PAYLOAD_ENCODING',
      { file: this.opts.fileName, line },
      `invalid UTF-8 byte sequence (${bytes}) at byte offset ${this.offset + at}: the file was read as UTF-8; if it is Windows-1251, set encoding: windows-1251`,
    );
  }
}
