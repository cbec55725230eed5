// The file.csv connector on real files: quoting, line numbers across quoted newlines, delimiter and
// encoding detection, positioned errors, and chunk boundaries of a large file.
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import iconv from 'iconv-lite';
import { afterAll, describe, expect, it } from 'vitest';
import { csvConnector, CSV_BATCH_SIZE } from '../../connectors/file/csv.ts';
import { PayloadError } from '../../src/errors/index.ts';
import type { SourceRecord } from '../../src/port/index.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'csv-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let seq = 0;
function file(content: string | Buffer): string {
  const f = path.join(dir, `f${++seq}.csv`);
  writeFileSync(f, content);
  return f;
}

async function parse(f: string, options: Record<string, unknown> = {}, highWaterMark = 64 * 1024): Promise<{ records: SourceRecord[]; batches: number[] }> {
  const records: SourceRecord[] = [];
  const batches: number[] = [];
  for await (const b of csvConnector.parse(createReadStream(f, { highWaterMark }), { fileName: path.basename(f), options })) {
    batches.push(b.length);
    records.push(...b);
  }
  return { records, batches };
}

async function parseError(f: string, options: Record<string, unknown> = {}, highWaterMark?: number): Promise<PayloadError> {
  try {
    await parse(f, options, highWaterMark);
  } catch (e) {
    expect(e).toBeInstanceOf(PayloadError);
    return e as PayloadError;
  }
  throw new Error('expected a PayloadError');
}

describe('file.csv', () => {
  it('reads quoted fields: embedded delimiters, doubled quotes, newlines — with right line numbers', async () => {
    const f = file('sku;name;price\r\nA;"semi;colon";1\r\nB;"say ""hi""";2\r\nC;"two\r\nlines\nthree";3\r\nD;plain;4\r\n');
    const { records } = await parse(f);
    expect(records).toEqual([
      { data: { sku: 'A', name: 'semi;colon', price: '1' }, line: 2 },
      { data: { sku: 'B', name: 'say "hi"', price: '2' }, line: 3 },
      { data: { sku: 'C', name: 'two\r\nlines\nthree', price: '3' }, line: 4 },
      { data: { sku: 'D', name: 'plain', price: '4' }, line: 7 },
    ]);
  });

  it.each([
    [';', 'a;b;c\n1;2;3\n'],
    [',', 'a,b,c\n1,2,3\n'],
    ['\t', 'a\tb\tc\n1\t2\t3\n'],
    ['|', 'a|b|c\n1|2|3\n'],
  ])('detects %j from the header line', async (_d, content) => {
    expect((await parse(file(content))).records).toEqual([{ data: { a: '1', b: '2', c: '3' }, line: 2 }]);
  });

  it('detection ignores delimiters inside quotes; an explicit delimiter wins', async () => {
    expect((await parse(file('"x;y",b\n1,2\n'))).records[0]!.data).toEqual({ 'x;y': '1', b: '2' });
    expect((await parse(file('a;b,c\n1;2,3\n'), { delimiter: ',' })).records[0]!.data).toEqual({ 'a;b': '1;2', c: '3' });
  });

  it('decodes Windows-1251 with Cyrillic column names and values (auto and explicit)', async () => {
    const f = file(iconv.encode('Артикул;Наименование;Цена\nА-1;Гайка М6;12,50\n', 'win1251'));
    const expected = [{ data: { Артикул: 'А-1', Наименование: 'Гайка М6', Цена: '12,50' }, line: 2 }];
    expect((await parse(f)).records).toEqual(expected);
    expect((await parse(f, { encoding: 'windows-1251' })).records).toEqual(expected);
  });

  it('strips a UTF-8 BOM and trims header names; skips empty lines', async () => {
    const f = file(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(' sku ; qty \n\nA;1\n\r\nB;2')]));
    expect((await parse(f)).records).toEqual([
      { data: { sku: 'A', qty: '1' }, line: 3 },
      { data: { sku: 'B', qty: '2' }, line: 5 },
    ]);
  });

  it('with skipEmptyLines false an empty line is a record', async () => {
    expect((await parse(file('v\nA\n\nB\n'), { skipEmptyLines: false })).records.map((r) => r.data.v)).toEqual(['A', '', 'B']);
    const e = await parseError(file('a;b\n1;2\n\n'), { skipEmptyLines: false });
    expect(e.message).toBe('f' + seq + '.csv:3: expected 2 columns (a;b), found 1');
  });

  it('a file that starts as UTF-8 and later has an invalid byte fails naming line and byte offset', async () => {
    const head = 'sku;name\n' + Array.from({ length: 5000 }, (_, i) => `S${i};ok\n`).join('');
    const f = file(Buffer.concat([Buffer.from(head), Buffer.from('BAD;'), Buffer.from([0xcf, 0xf0]), Buffer.from('\nZ;z\n')]));
    const e = await parseError(f, {}, 16 * 1024);
    expect(e.code).toBe('MAG_ERR_PAYLOAD_ENCODING');
    expect(e.position.line).toBe(5002);
    expect(e.message).toContain(`at byte offset ${Buffer.byteLength(head) + 4}`);
    expect(e.message).toContain('0xCF 0xF0');
    const explicit = await parseError(file(Buffer.concat([Buffer.from('a\n'), Buffer.from([0xff]), Buffer.from('\n')])), { encoding: 'utf-8' });
    expect(explicit).toMatchObject({ code: 'MAG_ERR_PAYLOAD_ENCODING', position: { line: 2 } });
  });

  it('a row with the wrong number of columns fails naming file, line and header', async () => {
    const f = file('sku;price_type;price;currency\nA;r;1;RUB\n"B\nB";r;1\n');
    const e = await parseError(f);
    expect(e.code).toBe('MAG_ERR_PAYLOAD_MALFORMED');
    expect(e.position).toEqual({ file: path.basename(f), line: 3 });
    expect(e.message).toBe(`${path.basename(f)}:3: expected 4 columns (sku;price_type;price;currency), found 3`);
    const more = await parseError(file('a;b\n1;2;3\n'));
    expect(more.message).toMatch(/:2: expected 2 columns \(a;b\), found 3$/);
  });

  it('a record cut by chunk ends anywhere reads the same: quoted fields with delimiters, doubled quotes, CRLF and line breaks inside, split at every position', async () => {
    const text = 'id;note;tail\r\n1;"a;b ""q"" \r\nline two\nthree";x\r\n2;plain;""""\r\n3;"";"z"\r\n';
    const whole = await parse(file(text));
    expect(whole.records.map((r) => [r.line, r.data])).toEqual([
      [2, { id: '1', note: 'a;b "q" \r\nline two\nthree', tail: 'x' }],
      [5, { id: '2', note: 'plain', tail: '"' }],
      [6, { id: '3', note: '', tail: 'z' }],
    ]);
    for (let size = 1; size <= 12; size++) {
      const r = await parse(file(text), {}, size);
      expect(r.records.map((x) => [x.line, x.data]), `chunks of ${size}`).toEqual(whole.records.map((x) => [x.line, x.data]));
    }
    // An open quoted field spanning many chunks still fails at the line where it opened.
    const e = await parseError(file(`a;b\n1;"${'x'.repeat(300_000)}\n`), {}, 4096);
    expect(e.message).toMatch(/:2: unterminated quoted field: the quote opened on line 2 is never closed/);
  });

  it('an unterminated quote names the line where it opened', async () => {
    const e = await parseError(file('a;b\n1;2\n3;"open\nmore\nand more\n'));
    expect(e.position.line).toBe(3);
    expect(e.message).toContain('the quote opened on line 3 is never closed');
  });

  it('refuses an empty file, empty and duplicate header names', async () => {
    expect((await parseError(file(''))).message).toContain('a header row is required');
    expect((await parseError(file('a;;c\n'))).message).toContain('column 2 of the header has no name');
    expect((await parseError(file('sku;qty;sku\n'))).message).toContain('column "sku" appears twice in the header (columns 1 and 3)');
  });

  it('a header without rows yields nothing; a last line without a newline is read', async () => {
    expect((await parse(file('a;b\n'))).records).toEqual([]);
    expect((await parse(file('a;b\n1;2'))).records).toEqual([{ data: { a: '1', b: '2' }, line: 2 }]);
    expect((await parse(file('a;b\n1;"2"'))).records).toEqual([{ data: { a: '1', b: '2' }, line: 2 }]);
  });

  it('streams a file larger than many chunks: batches of 2000, multi-byte characters across chunk ends', async () => {
    const rows = 200_000;
    const parts = ['sku;name;price'];
    for (let i = 0; i < rows; i++) parts.push(i % 1000 === 7 ? `S${i};"Болт ""М${i}""\nдлинный";${i},5` : `S${i};Гайка ёж ${i};${i}.25`);
    const text = parts.join('\n') + '\n';
    const f = file(text);
    // An odd chunk size puts two-byte Cyrillic characters across chunk ends again and again.
    const { records, batches } = await parse(f, {}, 4099);
    expect(records.length).toBe(rows);
    expect(batches.slice(0, -1).every((n) => n === CSV_BATCH_SIZE)).toBe(true);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(rows);
    let line = 2;
    for (let i = 0; i < rows; i++) {
      const r = records[i]!;
      expect(r.line).toBe(line);
      if (i % 1000 === 7) {
        expect(r.data).toEqual({ sku: `S${i}`, name: `Болт "М${i}"\nдлинный`, price: `${i},5` });
        line += 2;
      } else {
        if (r.data.name !== `Гайка ёж ${i}`) expect(r.data.name).toBe(`Гайка ёж ${i}`);
        line += 1;
      }
    }
  });
});
