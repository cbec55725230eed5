// file.csv's lazy records (ParseContext.rawLines): a plain line is handed out uncut, with its raw line, and
// cut when its data is first read; everything (data, lines, errors) must be what an eager read gives,
// whatever the chunking. With ParseContext.lineSkip, plain lines are offered as bytes before they are
// decoded, and those the reader has are passed over: the rest must read as before, in order, and every
// record before a line must be handed out before the line is offered.
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvConnector } from '../../connectors/file/csv.ts';
import { CsvLineRecord } from '../../connectors/file/csv-parser.ts';
import { RawHash } from '../../src/pipeline/extract/fingerprint-walk.ts';
import { PayloadError } from '../../src/errors/index.ts';
import type { LineSkip, SourceRecord } from '../../src/port/index.ts';

async function read(text: string | Buffer, lazy: boolean, chunk: number, lineSkip?: LineSkip, options: Record<string, unknown> = { delimiter: ';' }, seen: SourceRecord[] = []): Promise<{ records: SourceRecord[] } | { error: string }> {
  const buf = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const pieces: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) pieces.push(buf.subarray(i, i + chunk));
  const records = seen;
  try {
    for await (const b of csvConnector.parse(Readable.from(pieces), { fileName: 'p.csv', options, rawLines: lazy, ...(lineSkip ? { lineSkip } : {}) })) records.push(...b);
  } catch (e) {
    if (!(e instanceof PayloadError)) throw e;
    return { error: `${e.code} ${e.message} @${JSON.stringify(e.position)}` };
  }
  return { records };
}

const lineText = (r: SourceRecord) => r.rawLine!.text.slice(r.rawLine!.start, r.rawLine!.end);

// Field text: letters, digits, Cyrillic, spaces, a stray CR and the other delimiters; sometimes a quote.
const plain = fc.stringMatching(/^[a-zA-Zа-яА-Я0-9 .,\t|\r-]{0,12}$/);
const field = fc.oneof({ arbitrary: plain, weight: 9 }, { arbitrary: plain.map((s) => `"${s.replace(/\r/g, '')};x"`), weight: 1 });

describe('file.csv lazy records', () => {
  it('read as an eager read does (data, lines, errors), for any chunking', async () => {
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
      },
    ), { numRuns: 300 });
  });

  it('with lineSkip: passes over the plain lines the reader has, reads the rest as before (lines, errors), hands out each record before the next line is offered', async () => {
    // Rows mostly of the header's width (a wrong one now and then), ASCII more often than not.
    const ascii = fc.stringMatching(/^[a-z0-9 .,\t|\r-]{0,8}$/);
    const cell = fc.oneof({ arbitrary: ascii, weight: 6 }, { arbitrary: field, weight: 2 });
    const input = fc.uniqueArray(fc.stringMatching(/^[a-z_][a-z0-9_]{0,6}$/), { minLength: 1, maxLength: 5 }).chain((header) => fc.tuple(
      fc.constant(header),
      fc.array(fc.oneof(
        { arbitrary: fc.array(cell, { minLength: header.length, maxLength: header.length }), weight: 20 },
        { arbitrary: fc.array(cell, { minLength: 1, maxLength: 6 }), weight: 1 },
      ), { minLength: 0, maxLength: 40 }),
    ));
    await fc.assert(fc.asyncProperty(
      input,
      fc.constantFrom('\n', '\r\n'),
      fc.integer({ min: 1, max: 64 }),
      fc.boolean(),
      async ([header, rows], eol, chunk, bom) => {
        const text = [header.join(';'), ...rows.map((r) => r.join(';'))].join(eol) + eol;
        const bytes = Buffer.concat([bom ? Buffer.from([0xef, 0xbb, 0xbf]) : Buffer.alloc(0), Buffer.from(text)]);
        const lazy = await read(bytes, true, chunk);
        // The reader "has" well-formed ASCII lines with an "a" in them; it answers as the fingerprint does, by the line's bytes.
        const has = (line: string) => line.length % 3 !== 0 && line.split(';').length === header.length && /^[\x00-\x7f]*$/.test(line);
        const plainRecords = 'records' in lazy ? lazy.records.filter((r) => r.rawLine) : [];
        const offered: string[] = [];
        const got: SourceRecord[] = [];
        const expectedBefore: number[] = [];
        const seenBefore: number[] = [];
        const lineSkip: LineSkip = {
          skip(columns, delimiter, buf, start, end) {
            const line = Buffer.from(buf.subarray(start, end)).toString('utf8');
            expect(columns).toEqual(header);
            expect(delimiter).toBe(59);
            const h = new RawHash();
            if (h.ofBytes(columns, delimiter, buf, start, end)) {
              const t = new RawHash().ofLine({ text: line, start: 0, end: line.length, columns, delimiter }, undefined);
              expect([h.a, h.b]).toEqual([t.a, t.b]);
            } else {
              expect(/^[\x00-\x7f]*$/.test(line)).toBe(false);
            }
            // Which plain record this line is, and how many records (of those not passed over) come before it.
            const k = offered.length;
            offered.push(line);
            const rec = plainRecords[k];
            if (rec) {
              expectedBefore.push(('records' in lazy ? lazy.records : []).filter((r) => r.line! < rec.line! && !(r.rawLine && has(lineText(r)))).length);
              seenBefore.push(got.length);
            }
            return has(line);
          },
        };
        const skipping = await read(bytes, true, chunk, lineSkip, { delimiter: ';' }, got);
        if ('error' in lazy) {
          expect(skipping).toEqual(lazy);
          return;
        }
        if ('error' in skipping) throw new Error(`the skipping read failed where the plain one did not: ${skipping.error}`);
        expect(offered).toEqual(plainRecords.map(lineText).slice(0, offered.length));
        // Every plain line that ends with a line break is offered (the file's last line always does here).
        expect(offered.length).toBe(plainRecords.length);
        const expected = lazy.records.filter((r) => !(r.rawLine && has(lineText(r))));
        expect(skipping.records.map((r) => ({ line: r.line, data: r.data }))).toEqual(expected.map((r) => ({ line: r.line, data: r.data })));
        expect(seenBefore).toEqual(expectedBefore);
      },
    ), { numRuns: 300 });
  });

  it('with lineSkip: a line the reader has is passed over undecoded, in UTF-8 or Windows-1251; later errors keep their line and byte offset', async () => {
    const has = new Set(['A;1', 'C;3']);
    const lineSkip: LineSkip = { skip: (_c, _d, buf, s, e) => has.has(Buffer.from(buf.subarray(s, e)).toString('latin1')) };
    // Windows-1251 (detected): Cyrillic bytes are not UTF-8.
    const cp1251 = Buffer.concat([Buffer.from('sku;price\nA;1\n'), Buffer.from([0xc1, 0x3b, 0x32, 0x0a]), Buffer.from('C;3\nD;4\n')]);
    const r = await read(cp1251, true, 1024, lineSkip, {});
    if ('error' in r) throw new Error(r.error);
    expect(r.records.map((x) => [x.line, x.data])).toEqual([[3, { sku: 'Б', price: '2' }], [5, { sku: 'D', price: '4' }]]);
    // UTF-8 with an invalid byte after two passed-over lines: the error names its line and the file's byte offset.
    const bad = Buffer.concat([Buffer.from('sku;price\nA;1\nC;3\nE;'), Buffer.from([0xff]), Buffer.from('\n')]);
    const plain = await read(bad, true, 1024, undefined, { encoding: 'utf-8' });
    const skipping = await read(bad, true, 1024, lineSkip, { encoding: 'utf-8' });
    expect('error' in plain && plain.error).toContain('at byte offset 20');
    expect('error' in plain && plain.error).toContain('"line":4');
    expect(skipping).toEqual(plain);
  });

  it('with lineSkip: a payload the reader has almost none of goes in batches, not one record a batch', async () => {
    // A snapshot that changed every price: each line the reader does not have ends its batch, so after a
    // few misses in a row lines go unoffered for a while.
    const lines = Array.from({ length: 10_000 }, (_, i) => `S${i};${i}`);
    let offered = 0;
    const lineSkip: LineSkip = { skip: () => { offered++; return false; } };
    const batches: number[] = [];
    for await (const b of csvConnector.parse(Readable.from([Buffer.from(`sku;price\n${lines.join('\n')}\n`)]), { fileName: 'p.csv', options: { delimiter: ';' }, rawLines: true, lineSkip })) {
      if (b.length) batches.push(b.length);
    }
    expect(batches.reduce((a, b) => a + b, 0)).toBe(10_000);
    expect(batches.length).toBeLessThan(200);
    expect(offered).toBeLessThan(200);
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
    // Nor is any line offered to lineSkip then.
    let offered = 0;
    const skipping = await read('sku;1;price\nA;x;1\nB;y;2\n', true, 1024, { skip: () => { offered++; return true; } });
    if ('error' in skipping) throw new Error(skipping.error);
    expect(skipping.records.map((x) => x.data)).toEqual([{ 1: 'x', sku: 'A', price: '1' }, { 1: 'y', sku: 'B', price: '2' }]);
    expect(offered).toBe(0);
  });
});
