// Reads a pulled payload back: one flat record per line (NDJSON, UTF-8), streamed in batches with
// bounded memory. Shared by the pulled connectors (onec.odata, sap.odata, sap.rfc), which write such lines. A line that is not a flat JSON object of strings fails the run with its line.
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import { PayloadError, type ParseContext, type SourceRecord } from '../../src/port/index.ts';

export const BATCH_SIZE = 2000;
const MAX_LINE_CHARS = 16 * 1024 * 1024;

function toRecord(line: string, no: number, fileName: string): Record<string, string> {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    throw new PayloadError('MAG_ERR_PAYLOAD_MALFORMED', { file: fileName, line: no }, `not a JSON line: ${(e as Error).message}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) {
    throw new PayloadError('MAG_ERR_PAYLOAD_MALFORMED', { file: fileName, line: no }, 'a line must hold one JSON object');
  }
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') throw new PayloadError('MAG_ERR_PAYLOAD_MALFORMED', { file: fileName, line: no }, `field ${JSON.stringify(k)} is not a string`);
  }
  return v as Record<string, string>;
}

/**
 * Streams records of an NDJSON payload. `pathOf` names a record's position in the source system
 * (e.g. `Catalog_Номенклатура(guid'…')`), kept with rejects.
 */
export async function* parseNdjson(input: Readable, ctx: ParseContext, pathOf?: (data: Record<string, string>) => string | undefined): AsyncIterable<SourceRecord[]> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let line = 0;
  let batch: SourceRecord[] = [];
  const take = (text: string): void => {
    line++;
    const t = text.endsWith('\r') ? text.slice(0, -1) : text;
    if (!t.trim()) return;
    const data = toRecord(t, line, ctx.fileName);
    const path = pathOf?.(data);
    batch.push(path ? { data, line, path } : { data, line });
  };
  for await (const chunk of input) {
    ctx.signal?.throwIfAborted();
    rest += decoder.write(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    let start = 0;
    for (let nl = rest.indexOf('\n'); nl >= 0; nl = rest.indexOf('\n', start)) {
      take(rest.slice(start, nl));
      start = nl + 1;
    }
    rest = rest.slice(start);
    if (rest.length > MAX_LINE_CHARS) {
      throw new PayloadError('MAG_ERR_PAYLOAD_MALFORMED', { file: ctx.fileName, line: line + 1 }, `line longer than ${MAX_LINE_CHARS} characters`);
    }
    if (batch.length >= BATCH_SIZE) {
      yield batch;
      batch = [];
    }
  }
  rest += decoder.end();
  if (rest) take(rest);
  if (batch.length) yield batch;
}
