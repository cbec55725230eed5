// The kit's XML tokenizer on small documents: every kind of markup, values with references, a document
// cut at every byte, and the refusals (DOCTYPE/ENTITY, malformed markup) with their line and column.
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { XmlScanner } from '../../../connectors/lib/index.ts';
import { PayloadError } from '../../../src/port/index.ts';

const NAMES = ['a', 'b', 'c', 'x', 'y'];

/** The event log of a document fed in the given pieces: `<name attr=value…` on open, `/name=text` on close. */
function events(pieces: Buffer[]): string[] {
  const log: string[] = [];
  const sc: XmlScanner = new XmlScanner({ fileName: 'doc.xml', names: NAMES }, {
    open(name) {
      const attrs = NAMES.map((n, i) => [n, sc.attr(i)] as const).filter(([, v]) => v !== undefined).map(([n, v]) => ` ${n}=${v}`);
      log.push(`<${sc.nameOf(name)}${attrs.join('')}`);
      return true;
    },
    close(name, _depth, text) {
      log.push(`/${sc.nameOf(name)}=${text}`);
    },
  });
  for (const p of pieces) sc.write(p);
  sc.end();
  return log;
}

const whole = (xml: string | Buffer): string[] => events([typeof xml === 'string' ? Buffer.from(xml) : xml]);

function refusal(xml: string): PayloadError {
  try {
    whole(xml);
  } catch (e) {
    if (e instanceof PayloadError) return e;
    throw e;
  }
  throw new Error('expected a PayloadError');
}

describe('XmlScanner (connector kit)', () => {
  it('reads CDATA as text and passes over comments and processing instructions', () => {
    expect(whole('<?xml version="1.0"?><!-- head --><a><?pi data?>1<![CDATA[<b>&amp;]]>2<!-- c --></a>')).toEqual(['<a', '/a=1<b>&amp;2']);
  });

  it('reads attributes in both quote kinds, with references and white space normalised', () => {
    expect(whole(`<a x="1 &quot;2&quot;" y='it&apos;s\t&#x41;&#66;'/>`)).toEqual(['<a x=1 "2" y=it\'s AB', '/a=']);
  });

  it('resolves entity and character references in text, and normalises line ends', () => {
    expect(whole('<a>&lt;&gt;&amp;&#1046;&#x1F600;\r\nz\rw</a>')).toEqual(['<a', '/a=<>&Ж😀\nz\nw']);
  });

  it('reports names by their local part, whatever the prefix', () => {
    expect(whole('<p:a xmlns:p="urn:x"><q:b>t</q:b></p:a>')).toEqual(['<a', '<b', '/b=t', '/a=']);
  });

  it('gives the same events for a document cut in two at every byte', () => {
    const doc = Buffer.from('<?xml version="1.0" encoding="UTF-8"?>\n<a x="1"><b y=\'Ж\'>т&amp;<![CDATA[c]]></b><!--k--><c/></a>\n');
    const expected = whole(doc);
    for (let i = 1; i < doc.length; i++) {
      expect(events([doc.subarray(0, i), doc.subarray(i)]), `cut at byte ${i}`).toEqual(expected);
    }
  });

  it('gives the same events for a document fed one byte at a time', () => {
    const doc = Buffer.from('<a><b y="Ж">привет</b></a>');
    expect(events([...doc].map((b) => Buffer.from([b])))).toEqual(whole(doc));
  });

  it('reads windows-1251 names, values and text', () => {
    const doc = iconv.encode('<?xml version="1.0" encoding="windows-1251"?><Цена a="Ъ">Сумма</Цена>', 'win1251');
    expect(whole(doc)).toEqual(['<Цена a=Ъ', '/Цена=Сумма']);
  });

  it('refuses DOCTYPE and ENTITY declarations (XXE)', () => {
    expect(refusal('<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>').message).toBe(
      'doc.xml:1:1: DOCTYPE and ENTITY declarations are not accepted (they enable external entity attacks, XXE); the document needs none',
    );
    expect(refusal('<a>\n<!ENTITY x "y"></a>').message).toMatch(/^doc\.xml:2:1: DOCTYPE and ENTITY declarations are not accepted/);
  });

  it('names the line and column of malformed markup', () => {
    expect(refusal('<a>\n  <b>x</c>\n</a>').message).toBe('doc.xml:2:7: closing tag </c> does not match the open element <b> (/a/b)');
    expect(refusal('<a>\n<b>\n</a>').message).toBe('doc.xml:3:1: closing tag </a> does not match the open element <b> (/a/b)');
    expect(refusal('<a>\n\t<b c=d/></a>').message).toBe('doc.xml:2:7: the value of attribute c is not quoted');
    expect(refusal('<a>x &bogus; y</a>').code).toBe('MAG_ERR_PAYLOAD_MALFORMED');
    expect(refusal('<a><!-- open').message).toBe('doc.xml:1:4: unexpected end of file inside a comment (the file is truncated)');
  });

  it('gives the qualified name and every attribute of the element being opened (namespace declarations for SOAP readers)', () => {
    const seen: string[] = [];
    const doc = Buffer.from('<s:Envelope xmlns:s="urn:s" a="1"><s:Body><i:X xmlns:i="urn:i" xmlns="urn:d" i:y="&amp;2"/></s:Body></s:Envelope>');
    // Fed byte by byte: the attributes are read from the pending buffer, not the caller's chunk.
    const sc: XmlScanner = new XmlScanner({ fileName: 'doc.xml', names: NAMES }, {
      open() {
        seen.push(`${sc.qualifiedName()} ${sc.attributes().map(([k, v]) => `${k}=${v}`).join(' ')}`.trim());
        return false;
      },
      close() {},
    });
    for (let i = 0; i < doc.length; i++) sc.write(doc.subarray(i, i + 1));
    sc.end();
    expect(seen).toEqual(['s:Envelope xmlns:s=urn:s a=1', 's:Body', 'i:X xmlns:i=urn:i xmlns=urn:d i:y=&2']);
  });
});
