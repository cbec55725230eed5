// file.csv's lazy records (ParseContext.rawLines): a plain line is handed out uncut, with its raw line, and
// cut when its data is first read. A snapshot read beside its fingerprint hashes the raw line instead
// (RawHash.ofLine), so the hash must be the one the cut record gets, and everything else (data, lines,
// errors) must be what an eager read gives, whatever the chunking.
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvConnector } from '../../connectors/file/csv.ts';
import { CsvLineRecord } from '../../connectors/file/csv-parser.ts';
import { RawHash } from '../../src/pipeline/extract/fingerprint-walk.ts';
import { PayloadError } from '../../src/errors/index.ts';
import type { SourceRecord } from '../../src/port/index.ts';

async function read(text: string, lazy: boolean, chunk: number): Promise<{ records: SourceRecord[] } | { error: string }> {
  const buf = Buffer.from(text);
  const pieces: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) pieces.push(buf.subarray(i, i + chunk));
  const records: SourceRecord[] = [];
  try {
    for await (const b of csvConnector.parse(Readable.from(pieces), { fileName: 'p.csv', options: { delimiter: ';' }, rawLines: lazy })) records.push(...b);
  } catch (e) {
    if (!(e instanceof PayloadError)) throw e;
    return { error: `${e.code} ${e.message} @${JSON.stringify(e.position)}` };
  }
  return { records };
}

const hashOf = (r: SourceRecord) => { const h = new RawHash().of(r.data, r.kind); return `${h.a}:${h.b}`; };

// Field text: letters, digits, Cyrillic, spaces, a stray CR and the other delimiters; sometimes a quote.
const plain = fc.stringMatching(/^[a-zA-Zа-яА-Я0-9 .,\t|\r-]{0,12}$/);
const field = fc.oneof({ arbitrary: plain, weight: 9 }, { arbitrary: plain.map((s) => `"${s.replace(/\r/g, '')};x"`), weight: 1 });

describe('file.csv lazy records', () => {
  it('read as an eager read does (data, lines, errors), hash their raw line as their data, for any chunking', async () => {
    await fc.assert(fc.asyncProperty(
      fc.uniqueArray(fc.stringMatching(/^[a-z_][a-z0-9_]{0,6}$/), { minLength: 1, maxLength: 5 }),
      fc.array(fc.array(field, { minLength: 1, maxLength: 6 }), { minLength: 0, maxLength: 30 }),
      fc.constantFrom('\n', '\r\n'),
      fc.integer({ min: 1, max: 64 }),
      async (header, rows, eol, chunk) => {
        const text = [header.join(';'), ...rows.map((r) => r.join(';'))].join(eol) + eol;
        const eager = await read(text, false, chunk);
        const lazy = await read(text, true, chunk);
        if ('error' in eager) {
          expect(lazy).toEqual(eager);
          return;
        }
        if ('error' in lazy) throw new Error(`lazy read failed where the eager one did not: ${lazy.error}`);
        expect(lazy.records.map((r) => ({ line: r.line, data: r.data }))).toEqual(eager.records.map((r) => ({ line: r.line, data: r.data })));
        for (let i = 0; i < lazy.records.length; i++) {
          const r = lazy.records[i]!;
          if (!r.rawLine) continue;
          const h = new RawHash().ofLine(r.rawLine, r.kind);
          expect(`${h.a}:${h.b}`).toBe(hashOf(eager.records[i]!));
        }
      },
    ), { numRuns: 300 });
  });

  it('hands out plain lines uncut and cuts one only when its data is read; a quoted line is cut at once', async () => {
    const r = await read('sku;price\nA;1\n"B;x";2\nC;3\n', true, 1024);
    if ('error' in r) throw new Error(r.error);
    const [a, b, c] = r.records;
    expect(a).toBeInstanceOf(CsvLineRecord);
    expect(c).toBeInstanceOf(CsvLineRecord);
    expect(b!.rawLine).toBeUndefined();
    expect((a as unknown as { built: unknown }).built).toBeUndefined();
    expect(a!.data).toEqual({ sku: 'A', price: '1' });
    expect(a!.data).toBe(a!.data);
    expect(b!.data).toEqual({ sku: 'B;x', price: '2' });
  });

  it('gives no raw line where the data\'s keys would not iterate in the header\'s order (a column named "1")', async () => {
    const r = await read('sku;1;price\nA;x;1\n', true, 1024);
    if ('error' in r) throw new Error(r.error);
    expect(Object.keys(r.records[0]!.data)).toEqual(['1', 'sku', 'price']);
    expect(r.records[0]!.rawLine).toBeUndefined();
  });
});
