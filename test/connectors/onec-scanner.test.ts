// The byte-level XML scanner of the CommerceML reader: the same elements and texts as saxes on every
// real sample whatever the chunking, entities, CDATA, encodings, and malformed input refused with the
// file, line and column of the problem.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import iconv from 'iconv-lite';
import { SaxesParser } from 'saxes';
import { describe, expect, it } from 'vitest';
import { ONEC_SAMPLES } from '../helpers/samples.ts';
import { XmlScanner, type XmlScannerOptions } from '../../connectors/lib/index.ts';
import { PayloadError } from '../../src/errors/index.ts';

const SAMPLES = ONEC_SAMPLES;
const sampleFiles = ['01_import0_1_cml207_unf-style.xml', '02_offers0_1_cml207_warehouse-attrs.xml', '03_prices___cml209_bitrix-module.xml', '04_rests___cml209_bitrix-module.xml', '05_offers_cml208_3-price-types.xml', '06_order_from_site_cml203_cp1251.xml', '07_order_to_site_cml203_cp1251.xml', '08_sale_query_response_cml205_cp1251.xml'];

interface Event {
  name: string;
  text: string;
}

/** Every element (local name) with its direct text, in close order, and the attributes asked for. */
function scan(bytes: Buffer, chunk: number | number[] = bytes.length, o: Partial<XmlScannerOptions> = {}): { events: Event[]; attrs: string[]; encoding?: string } {
  const events: Event[] = [];
  const attrs: string[] = [];
  const names = o.names ?? ['ИдСклада', 'b'];
  const sc: XmlScanner = new XmlScanner({ fileName: 'test.xml', names, ...o }, {
    open() {
      for (let i = 0; i < names.length; i++) {
        const v = sc.attr(i);
        if (v !== undefined) attrs.push(`${names[i]}=${v}`);
      }
      return true;
    },
    close(id, _depth, text) {
      events.push({ name: sc.nameOf(id), text });
    },
  });
  const sizes = Array.isArray(chunk) ? chunk : [chunk];
  let k = 0;
  for (let i = 0; i < bytes.length;) {
    const n = Math.max(1, sizes[k++ % sizes.length]!);
    sc.write(bytes.subarray(i, i + n));
    i += n;
  }
  sc.end();
  return { events, attrs, encoding: sc.encoding };
}

/** The reference: saxes over text decoded by iconv, local names, direct text of each element. */
function saxesEvents(bytes: Buffer): Event[] {
  const head = bytes.subarray(0, 120).toString('latin1');
  const text = /encoding="windows-1251"/i.test(head) ? iconv.decode(bytes, 'win1251') : bytes.toString('utf8').replace(/^\uFEFF/, '');
  const p = new SaxesParser();
  const stack: Event[] = [];
  const out: Event[] = [];
  p.on('opentag', (t) => stack.push({ name: t.name.replace(/^.*:/, ''), text: '' }));
  p.on('text', (t) => {
    if (stack.length) stack[stack.length - 1]!.text += t;
  });
  p.on('cdata', (t) => {
    if (stack.length) stack[stack.length - 1]!.text += t;
  });
  p.on('closetag', () => out.push(stack.pop()!));
  p.write(text).close();
  return out;
}

function payloadError(fn: () => unknown): PayloadError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PayloadError) return e;
    throw e;
  }
  throw new Error('expected a PayloadError');
}

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

describe('XmlScanner on the real samples', () => {
  for (const f of sampleFiles) {
    it(`${f}: the same elements and texts as saxes, whatever the chunk sizes`, () => {
      const bytes = readFileSync(path.join(SAMPLES, f));
      const expected = saxesEvents(bytes);
      expect(expected.length).toBeGreaterThan(20);
      expect(scan(bytes).events).toEqual(expected);
      // Chunk ends fall inside names, multi-byte characters, attributes and entities.
      expect(scan(bytes, [1, 2, 3, 5, 7, 11, 13, 64, 997]).events).toEqual(expected);
    });
  }

  it('reads the encoding from the BOM or the declaration', () => {
    expect(scan(readFileSync(path.join(SAMPLES, sampleFiles[0]!))).encoding).toBe('utf-8');
    expect(scan(readFileSync(path.join(SAMPLES, sampleFiles[5]!))).encoding).toBe('windows-1251');
  });
});

describe('XmlScanner values', () => {
  it('decodes entities, character references, CDATA; skips comments and PIs; normalises line ends', () => {
    const xml = '<?xml version="1.0"?>\r\n<!-- c --><a><?pi x?><b>x &amp; y &lt;z&gt; &quot;q&quot; &apos;s&apos; &#1046;&#x416; <![CDATA[<raw & "kept">]]></b><c>1\r\n2\r3</c><d/></a>';
    expect(scan(utf8(xml)).events).toEqual([
      { name: 'b', text: 'x & y <z> "q" \'s\' ЖЖ <raw & "kept">' },
      { name: 'c', text: '1\n2\n3' },
      { name: 'd', text: '' },
      { name: 'a', text: '' },
    ]);
  });

  it('strips namespace prefixes of elements and attributes', () => {
    const xml = '<cml:a xmlns:cml="urn:1C.ru:commerceml_2"><cml:Склад cml:ИдСклада="w1"/><Склад ИдСклада=\'w2\' /></cml:a>';
    const r = scan(utf8(xml));
    expect(r.events.map((e) => e.name)).toEqual(['Склад', 'Склад', 'a']);
    expect(r.attrs).toEqual(['ИдСклада=w1', 'ИдСклада=w2']);
  });

  it('decodes attribute values (entities, white space) and Cyrillic in windows-1251', () => {
    const xml = '<?xml version="1.0" encoding="windows-1251"?><Цена b="a&amp;b\tc">Сумма: 1 234,50 ₽?</Цена>';
    const bytes = iconv.encode(xml, 'win1251');
    const r = scan(bytes, 3);
    expect(r.encoding).toBe('windows-1251');
    expect(r.attrs).toEqual(['b=a&b c']);
    expect(r.events[0]!.text).toBe('Сумма: 1 234,50 ??');
  });

  it('UTF-8 with and without a BOM gives the same result', () => {
    const xml = '<?xml version="1.0" encoding="UTF-8"?>\n<a><b>Привет</b></a>';
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8(xml)]);
    expect(scan(withBom, 2).events).toEqual(scan(utf8(xml), 2).events);
    expect(scan(utf8('<a>без объявления</a>')).events[0]!.text).toBe('без объявления');
  });
});

describe('XmlScanner refuses malformed input with file, line and column', () => {
  const cases: Array<{ name: string; xml: string; line: number; column: number; message: string | RegExp }> = [
    { name: 'a mismatched closing tag', xml: '<a>\n  <Цена>x</Цены>\n</a>', line: 2, column: 10, message: 'closing tag </Цены> does not match the open element <Цена> (/a/Цена)' },
    { name: 'an unclosed element (truncated file)', xml: '<a>\n<b>text', line: 2, column: 8, message: /element <b> \(\/a\/b\) is not closed \(the file is truncated\)/ },
    { name: 'a file cut inside a tag', xml: '<a>\n<b attr="x', line: 2, column: 1, message: 'unexpected end of file inside a tag (the file is truncated)' },
    { name: 'an unquoted attribute', xml: '<a>\n <b c=1/></a>', line: 2, column: 7, message: 'the value of attribute c is not quoted' },
    { name: 'an attribute without a value', xml: '<a b></a>', line: 1, column: 5, message: 'attribute b has no value (expected =)' },
    { name: 'attributes without white space between them', xml: '<a b="1"c="2"></a>', line: 1, column: 9, message: 'expected white space, > or /> after the element name or an attribute' },
    { name: 'a repeated attribute', xml: '<a b="1" b="2"></a>', line: 1, column: 10, message: 'attribute b appears twice' },
    { name: '< in an attribute value', xml: '<a b="1<2"></a>', line: 1, column: 8, message: '< in the value of attribute b (an unclosed quote?)' },
    { name: 'a DOCTYPE (XXE)', xml: '<?xml version="1.0"?>\n<!DOCTYPE a [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<a>&xxe;</a>', line: 2, column: 1, message: /DOCTYPE and ENTITY declarations are not accepted/ },
    { name: 'an undeclared entity', xml: '<a>\n<b>x &xxe; y</b></a>', line: 2, column: 4, message: 'invalid entity reference "&xxe; y" (a raw & must be written &amp;)' },
    { name: 'text after the root element', xml: '<a/>\nx', line: 2, column: 1, message: 'text after the end of the root element' },
    { name: 'a second root element', xml: '<a/><b/>', line: 1, column: 5, message: 'a second root element after the end of the first' },
    { name: 'a closing tag with nothing open', xml: '</a>', line: 1, column: 1, message: 'closing tag </a> without an open element' },
    { name: 'an empty file', xml: '', line: 1, column: 1, message: 'no root element: the file holds no XML document' },
    { name: 'a bad name', xml: '<a><1b/></a>', line: 1, column: 4, message: 'invalid character "1" after <: not an element name' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      for (const chunk of [1_000_000, 1, 3]) {
        const e = payloadError(() => scan(utf8(c.xml), chunk));
        expect(e.code).toBe('MAG_ERR_PAYLOAD_MALFORMED');
        expect(e.position).toEqual({ file: 'test.xml', line: c.line, column: c.column });
        if (typeof c.message === 'string') expect(e.message).toBe(`test.xml:${c.line}:${c.column}: ${c.message}`);
        else expect(e.message).toMatch(c.message);
      }
    });
  }

  it('invalid UTF-8 bytes in a UTF-8 file', () => {
    const bytes = Buffer.concat([utf8('<a>\n<b>ok</b>\n<c>Цен'), Buffer.from([0xc3, 0x28]), utf8('</c></a>')]);
    for (const chunk of [1_000_000, 1, 4]) {
      const e = payloadError(() => scan(bytes, chunk));
      expect(e.code).toBe('MAG_ERR_PAYLOAD_ENCODING');
      expect(e.position).toEqual({ file: 'test.xml', line: 3, column: 7 });
      expect(e.message).toContain('invalid UTF-8 byte sequence (0xC3 0x28');
    }
  });

  it('a file that ends inside a multi-byte character', () => {
    const bytes = Buffer.concat([utf8('<a>Ц'), Buffer.from([0xd0])]);
    expect(payloadError(() => scan(bytes, 1)).code).toBe('MAG_ERR_PAYLOAD_ENCODING');
  });

  it('a byte that windows-1251 does not define', () => {
    const bytes = Buffer.concat([iconv.encode('<?xml version="1.0" encoding="windows-1251"?>\n<a>Цена', 'win1251'), Buffer.from([0x98]), utf8('</a>')]);
    const e = payloadError(() => scan(bytes, 5));
    expect(e.code).toBe('MAG_ERR_PAYLOAD_ENCODING');
    expect(e.position).toEqual({ file: 'test.xml', line: 2, column: 8 });
    expect(e.message).toContain('byte 0x98');
  });

  it('UTF-16 and encodings other than UTF-8 and windows-1251', () => {
    expect(payloadError(() => scan(Buffer.from([0xff, 0xfe, 0x3c, 0x00, 0x61, 0x00]))).message).toContain('UTF-16 is not supported');
    expect(payloadError(() => scan(utf8('<?xml version="1.0" encoding="KOI8-R"?><a/>'))).message).toContain('unsupported encoding "KOI8-R"');
  });

  it('a text value over the cap', () => {
    const xml = `<a><b>${'x'.repeat(5000)}</b></a>`;
    const e = payloadError(() => scan(utf8(xml), 512, { maxTextBytes: 1000 }));
    expect(e.code).toBe('MAG_ERR_PAYLOAD_TOO_LARGE');
    expect(e.message).toContain('longer than 1000');
  });

  it('counts columns in characters, not bytes, also when the line spans chunks', () => {
    const xml = `<a>\n<Товар>${'Ж'.repeat(300)}</Товары></a>`;
    for (const chunk of [1_000_000, 7, 64]) {
      expect(payloadError(() => scan(utf8(xml), chunk)).position).toEqual({ file: 'test.xml', line: 2, column: 308 });
    }
  });
});
