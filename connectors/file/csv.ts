// The file.csv connector: delimited text files (CSV, TSV, semicolon exports of 1C and Excel) streamed
// into batches of records keyed by the header's column names, with bounded memory.
import type { Readable } from 'node:stream';
import { CsvParser } from './csv-parser.ts';
import { ChunkDecoder, SNIFF_BYTES, type Encoding } from './decode.ts';
import { MagistralError, type Connector, type LineSkip, type ParseContext, type SourceRecord } from '../../src/port/index.ts';

export interface CsvOptions {
  /** Column separator; `auto` detects it from the header line. @defaultValue 'auto' */
  delimiter: ';' | ',' | '\t' | '|' | 'auto';
  /** Text encoding; `auto`: a BOM or valid UTF-8 in the first chunk means UTF-8, else Windows-1251. @defaultValue 'auto' */
  encoding: Encoding | 'auto';
  /** Quote character of RFC 4180 quoted fields. @defaultValue '"' */
  quote: string;
  /** Skip lines with nothing on them. @defaultValue true */
  skipEmptyLines: boolean;
}

export const CSV_OPTIONS_SCHEMA = {
  $id: 'https://magistral.dev/schemas/connectors/file.csv.options.json',
  title: 'file.csv options',
  type: 'object',
  additionalProperties: false,
  properties: {
    delimiter: { enum: [';', ',', '\t', '|', 'auto'], default: 'auto', description: 'column separator, or auto to detect it from the header line' },
    encoding: { enum: ['utf-8', 'windows-1251', 'auto'], default: 'auto', description: 'text encoding, or auto (BOM or valid UTF-8 → UTF-8, else Windows-1251)' },
    quote: { type: 'string', minLength: 1, maxLength: 1, default: '"', description: 'quote character' },
    skipEmptyLines: { type: 'boolean', default: true, description: 'skip empty lines' },
  },
} as const;

/** Records per yielded batch: large enough to amortise the async hop, small enough to keep memory flat. */
export const CSV_BATCH_SIZE = 2000;
const MAX_RECORD_CHARS = 16 * 1024 * 1024;

function resolveOptions(raw: Record<string, unknown>): CsvOptions {
  const o: CsvOptions = {
    delimiter: (raw.delimiter as CsvOptions['delimiter']) ?? 'auto',
    encoding: (raw.encoding as CsvOptions['encoding']) ?? 'auto',
    quote: (raw.quote as string) ?? '"',
    skipEmptyLines: (raw.skipEmptyLines as boolean) ?? true,
  };
  if (o.quote === o.delimiter || o.quote === '\n' || o.quote === '\r') {
    throw new MagistralError('MAG_ERR_FLOW_INVALID', `file.csv: quote ${JSON.stringify(o.quote)} cannot be the delimiter or a line break`);
  }
  return o;
}

async function* parseCsv(input: Readable, ctx: ParseContext): AsyncIterable<SourceRecord[]> {
  const o = resolveOptions(ctx.options);
  const parser = new CsvParser({
    fileName: ctx.fileName,
    delimiter: o.delimiter === 'auto' ? undefined : o.delimiter,
    quote: o.quote,
    skipEmptyLines: o.skipEmptyLines,
    batchSize: CSV_BATCH_SIZE,
    maxRecordChars: MAX_RECORD_CHARS,
    lazy: ctx.rawLines === true || ctx.lineSkip !== undefined,
  });
  const decoder = new ChunkDecoder({ encoding: o.encoding, fileName: ctx.fileName, lineOfDecodedEnd: () => parser.lineAtEnd() });
  // Lines are asked about as bytes: the quote must be one byte (ASCII) to be found among them.
  if (ctx.lineSkip && o.quote.charCodeAt(0) < 0x80) {
    yield* parseSkipping(input, ctx, parser, decoder, ctx.lineSkip, o.quote.charCodeAt(0));
    return;
  }
  for await (const chunk of input) {
    ctx.signal?.throwIfAborted();
    const text = decoder.write(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    if (text) parser.push(text, false);
    for (const b of parser.take()) yield b;
  }
  parser.push(decoder.end(), true);
  for (const b of parser.take()) yield b;
  const last = parser.flush();
  if (last.length) yield last;
}

/** A partial line longer than this goes to the parser as it is (which bounds a record's length) rather than waiting as bytes. */
const MAX_CARRY = 1 << 20;
/**
 * Lines the reader did not have, one after another, before lines stop being offered for a while: each
 * line it does not have ends a batch (the reader's answer depends on it), so a snapshot that changed
 * every row would go through one record a batch. After OFFER_MISSES misses, BULK_LINES lines are parsed
 * in batches without being offered (the reader still compares each of their records).
 */
const OFFER_MISSES = 32;
const BULK_LINES = 4096;

/**
 * parseCsv beside a reader that has most lines already (ParseContext.lineSkip): the payload is cut into
 * lines as bytes, and a plain line (no quote, at a record's start) is offered to lineSkip before it is
 * decoded; a line the reader has is passed over. Everything else (the header, quoted records, empty lines,
 * lines the reader does not have) is decoded and parsed as parseCsv does, in the same order, so records,
 * line numbers and errors are the same. The records parsed so far are yielded before each line is offered
 * (the reader's answer depends on them): a line the reader does not have ends its batch.
 * Measured (bench:ingest, 1 % of 2M prices changed): decoding, cutting into lazy records and hashing as
 * text the 99 % of lines that had not changed was most of the read.
 */
async function* parseSkipping(input: Readable, ctx: ParseContext, parser: CsvParser, decoder: ChunkDecoder, lineSkip: LineSkip, quote: number): AsyncIterable<SourceRecord[]> {
  let carry: Buffer | undefined;
  let begun = false;
  /** Lines and bytes passed over since the parser last got text. */
  let skipped = 0;
  let skippedBytes = 0;
  /** Every record parsed so far has been yielded. */
  let handed = true;
  /** Lines the reader did not have in a row, and lines still to parse without offering them. */
  let misses = 0;
  let bulk = 0;
  const feed = (buf: Buffer, start: number, end: number) => {
    if (end <= start) return;
    if (skipped) parser.skipLines(skipped);
    if (skippedBytes) decoder.skip(skippedBytes);
    skipped = 0;
    skippedBytes = 0;
    const text = decoder.write(start === 0 && end === buf.length ? buf : buf.subarray(start, end));
    if (text) parser.push(text, false);
    handed = false;
  };
  /**
   * The complete lines of buf from `pos`: offered or parsed; returns where the partial line at the end
   * starts. `yielded`: whether a batch went out meanwhile.
   */
  let yielded = false;
  async function* scan(buf: Buffer, pos: number): AsyncGenerator<SourceRecord[], number> {
    const n = buf.length;
    /** Bytes from here to `pos` are complete lines to be parsed. */
    let from = pos;
    let nq = -1;
    for (;;) {
      const nl = buf.indexOf(10, pos);
      if (nl < 0) break;
      let end = nl;
      if (end > pos && buf[end - 1] === 13) end--;
      if (nq < pos) {
        nq = buf.indexOf(quote, pos);
        if (nq < 0) nq = n;
      }
      if (bulk > 0) bulk--;
      else if (parser.columns !== undefined && parser.lineShape === undefined) {
        // A header whose lines are not handed out as raw lines (a column named like "1"): none is offered,
        // and the lines are parsed a chunk at a time.
        bulk = Number.POSITIVE_INFINITY;
      } else if (end > pos && nq >= nl) {
        // A plain line: offered only at a record's start (not inside a quoted field), all before it handed out.
        if (from < pos) {
          feed(buf, from, pos);
          from = pos;
        }
        if (parser.idle()) {
          if (!handed) {
            for (const b of parser.take()) yield b;
            const last = parser.flush();
            if (last.length) yield last;
            handed = true;
            yielded = true;
          }
          const shape = parser.lineShape!;
          if (lineSkip.skip(shape.columns, shape.delimiter, buf, pos, end)) {
            misses = 0;
            skipped++;
            skippedBytes += nl + 1 - pos;
            pos = nl + 1;
            from = pos;
            continue;
          }
          if (++misses >= OFFER_MISSES) {
            misses = 0;
            bulk = BULK_LINES;
          }
        }
      }
      pos = nl + 1;
    }
    if (from < pos) feed(buf, from, pos);
    return pos;
  }
  for await (const chunk of input) {
    ctx.signal?.throwIfAborted();
    let buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    let pos = 0;
    yielded = false;
    if (carry) {
      // The line the last chunk ended in, completed on its own: the chunk itself is not copied (a copy of
      // every chunk was most of the read's garbage).
      const nl = buf.indexOf(10);
      if (nl < 0 || !begun) {
        buf = Buffer.concat([carry, buf]);
      } else {
        const head = Buffer.concat([carry, buf.subarray(0, nl + 1)]);
        if ((yield* scan(head, 0)) !== head.length) throw new Error('file.csv: a completed line was left over');
        pos = nl + 1;
      }
      carry = undefined;
    }
    if (!begun) {
      if (buf.length < SNIFF_BYTES) {
        carry = Buffer.from(buf);
        continue;
      }
      pos = decoder.begin(buf);
      begun = true;
    }
    pos = yield* scan(buf, pos);
    const n = buf.length;
    if (n - pos > MAX_CARRY) feed(buf, pos, n);
    else if (pos < n) carry = Buffer.from(buf.subarray(pos));
    for (const b of parser.take()) {
      yield b;
      yielded = true;
    }
    // A turn for the reader once a chunk, even when every line of it was passed over (it gives way to small runs).
    if (!yielded) yield [];
  }
  if (carry) feed(carry, 0, carry.length);
  if (skipped) parser.skipLines(skipped);
  parser.push(decoder.end(), true);
  for (const b of parser.take()) yield b;
  const last = parser.flush();
  if (last.length) yield last;
}

export const csvConnector: Connector = {
  kind: 'file.csv',
  optionsSchema: CSV_OPTIONS_SCHEMA,
  parse: parseCsv,
};
