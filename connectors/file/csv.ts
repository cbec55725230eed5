// The file.csv connector: delimited text files (CSV, TSV, semicolon exports of 1C and Excel) streamed
// into batches of records keyed by the header's column names, with bounded memory.
import type { Readable } from 'node:stream';
import { CsvParser } from './csv-parser.ts';
import { ChunkDecoder, type Encoding } from './decode.ts';
import { MagistralError, type Connector, type ParseContext, type SourceRecord } from '../../src/port/index.ts';

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
    lazy: ctx.rawLines === true,
  });
  const decoder = new ChunkDecoder({ encoding: o.encoding, fileName: ctx.fileName, lineOfDecodedEnd: () => parser.lineAtEnd() });
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

export const csvConnector: Connector = {
  kind: 'file.csv',
  optionsSchema: CSV_OPTIONS_SCHEMA,
  parse: parseCsv,
};
