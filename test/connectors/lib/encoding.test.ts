// Encoding detection of the connector kit: the BOM, the XML declaration (any label spelling), the
// default, and the refusals (UTF-16, unknown encodings, a declaration that never closes).
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { byteOrderMark, detectXmlEncoding, encodingFromLabel } from '../../../connectors/lib/index.ts';
import { PayloadError } from '../../../src/port/index.ts';

const detect = (head: Buffer | string, final = true) => detectXmlEncoding(typeof head === 'string' ? Buffer.from(head, 'latin1') : head, final, 'f.xml');

describe('XML encoding detection', () => {
  it('a UTF-8 BOM says UTF-8, whatever the declaration claims', () => {
    expect(detect(Buffer.from('\uFEFF<?xml version="1.0" encoding="windows-1251"?><a/>'))).toEqual({ encoding: 'utf-8', bomLength: 3 });
    expect(byteOrderMark(Buffer.from([0xef, 0xbb, 0xbf, 0x3c]))).toEqual({ encoding: 'utf-8', length: 3 });
  });

  it('reads the declaration, in either quote kind', () => {
    expect(detect('<?xml version="1.0" encoding="windows-1251"?><a/>')).toEqual({ encoding: 'windows-1251', bomLength: 0 });
    expect(detect("<?xml version='1.0' encoding='UTF-8' standalone='yes'?><a/>")).toEqual({ encoding: 'utf-8', bomLength: 0 });
    expect(detect(iconv.encode('<?xml version="1.0" encoding="cp1251"?><Цена/>', 'win1251'))?.encoding).toBe('windows-1251');
  });

  it('no declaration, or one without an encoding, means UTF-8', () => {
    expect(detect('<a/>')?.encoding).toBe('utf-8');
    expect(detect('<?xml version="1.0"?><a/>')?.encoding).toBe('utf-8');
  });

  it('knows the spellings 1C and others write', () => {
    for (const l of ['UTF-8', 'utf8', ' Utf-8 ']) expect(encodingFromLabel(l)).toBe('utf-8');
    for (const l of ['windows-1251', 'WINDOWS-1251', 'cp1251', 'win-1251', 'x-cp1251']) expect(encodingFromLabel(l)).toBe('windows-1251');
    expect(encodingFromLabel('koi8-r')).toBeUndefined();
  });

  it('waits for more bytes while the declaration is unfinished', () => {
    expect(detect('<?x', false)).toBeUndefined();
    expect(detect('<?xml version="1.0" enc', false)).toBeUndefined();
    expect(detect('<?xml version="1.0" encoding="windows-1251"?>', false)?.encoding).toBe('windows-1251');
  });

  it('refuses UTF-16, unknown encodings and an unclosed declaration', () => {
    expect(() => detect(Buffer.from([0xfe, 0xff, 0, 0x3c]))).toThrow(/UTF-16 is not supported/);
    expect(() => detect('<?xml version="1.0" encoding="KOI8-R"?><a/>')).toThrow('unsupported encoding "KOI8-R" (supported: UTF-8, windows-1251)');
    expect(() => detect('<?xml version="1.0" <a/>')).toThrow(PayloadError);
  });
});
