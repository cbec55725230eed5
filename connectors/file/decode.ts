// Turns a payload's byte chunks into text: UTF-8 (BOM or not) or Windows-1251, chosen from the first
// chunk when asked to, with encoding errors reported by file, line and byte offset.
import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';
import { PayloadError } from '../../src/port/index.ts';
import { byteOrderMark, completeUtf8Length, firstInvalidUtf8, hexBytes } from '../lib/index.ts';

export type Encoding = 'utf-8' | 'windows-1251';

/** Enough bytes to see a BOM and the start of the text before deciding the encoding. */
export const SNIFF_BYTES = 4;

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

  /**
   * Decides the encoding from the payload's first bytes (at least SNIFF_BYTES of them, or all there are),
   * as the first `write` would, without decoding them. Returns how many of them are a byte order mark
   * (not to be written).
   */
  begin(first: Buffer): number {
    if (this.started) return 0;
    const rest = this.start(first);
    return first.length - rest.length;
  }

  /** Bytes of the payload passed over undecoded (a skipped line): later error offsets stay the file's. */
  skip(bytes: number): void {
    this.offset += bytes;
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
    const bom = byteOrderMark(buf);
    if (bom?.encoding === 'utf-16') {
      throw new PayloadError('MAG_ERR_PAYLOAD_ENCODING', { file: this.opts.fileName, line: 1 }, 'UTF-16 is not supported: save the file as UTF-8 or Windows-1251');
    }
    if (bom && this.encoding !== 'windows-1251') {
      this.encoding = 'utf-8';
      this.offset = 3;
      return buf.subarray(3);
    }
    if (!this.encoding) this.encoding = isUtf8(buf.subarray(0, completeUtf8Length(buf))) ? 'utf-8' : 'windows-1251';
    return buf;
  }

  private decode(buf: Buffer, final: boolean): string {
    if (this.encoding === 'windows-1251') {
      this.offset += buf.length;
      return iconv.decode(buf, 'win1251');
    }
    const end = final ? buf.length : completeUtf8Length(buf);
    const part = end === buf.length ? buf : buf.subarray(0, end);
    if (!isUtf8(part)) this.fail(part);
    if (end < buf.length) this.pending = Buffer.from(buf.subarray(end));
    this.offset += end;
    return part.toString('utf8');
  }

  private fail(part: Buffer): never {
    const at = Math.max(0, firstInvalidUtf8(part));
    const line = this.opts.lineOfDecodedEnd() + countNewlines(part, at);
    const bytes = hexBytes(part.subarray(at, at + 4));
    throw new PayloadError(
      'MAG_ERR_PAYLOAD_ENCODING',
      { file: this.opts.fileName, line },
      `invalid UTF-8 byte sequence (${bytes}) at byte offset ${this.offset + at}: the file was read as UTF-8; if it is Windows-1251, set encoding: windows-1251`,
    );
  }
}
