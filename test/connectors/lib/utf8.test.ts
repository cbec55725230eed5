// The kit's UTF-8 validator: where a chunk's complete characters end, and where the first invalid
// sequence (overlong, surrogate, out of range, truncated) starts.
import { isUtf8 } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { completeUtf8Length, firstInvalidUtf8, hexBytes } from '../../../connectors/lib/index.ts';

const b = (...bytes: number[]): Buffer => Buffer.from(bytes);

describe('UTF-8 validation', () => {
  it('accepts valid text of every sequence length', () => {
    const text = Buffer.from('a Ж € 😀');
    expect(firstInvalidUtf8(text)).toBe(-1);
    expect(isUtf8(text)).toBe(true);
  });

  it('finds overlong forms', () => {
    expect(firstInvalidUtf8(b(0x41, 0xc0, 0xaf))).toBe(1);
    expect(firstInvalidUtf8(b(0x41, 0x42, 0xe0, 0x80, 0xaf))).toBe(2);
    expect(firstInvalidUtf8(b(0xf0, 0x80, 0x80, 0xaf))).toBe(0);
  });

  it('finds surrogates and code points past U+10FFFF', () => {
    expect(firstInvalidUtf8(b(0x61, 0xed, 0xa0, 0x80))).toBe(1);
    expect(firstInvalidUtf8(b(0xf4, 0x90, 0x80, 0x80))).toBe(0);
    expect(firstInvalidUtf8(b(0xf5, 0x80, 0x80, 0x80))).toBe(0);
  });

  it('finds stray continuation bytes and broken sequences', () => {
    expect(firstInvalidUtf8(b(0x61, 0x80))).toBe(1);
    expect(firstInvalidUtf8(b(0xc3, 0x28))).toBe(0);
  });

  it('a sequence cut by the end of the range is invalid there, and looked at only from `from`', () => {
    expect(firstInvalidUtf8(b(0x61, 0xd0))).toBe(1);
    expect(firstInvalidUtf8(b(0xd0, 0x96, 0x61), 2)).toBe(-1);
    expect(firstInvalidUtf8(b(0x61, 0xe2, 0x82, 0xac), 0, 3)).toBe(1);
  });

  it('keeps a multi-byte character cut at a chunk edge for the next chunk', () => {
    const euro = Buffer.from('a€');
    expect(completeUtf8Length(euro)).toBe(4);
    expect(completeUtf8Length(euro.subarray(0, 3))).toBe(1);
    expect(completeUtf8Length(euro.subarray(0, 2))).toBe(1);
    expect(completeUtf8Length(Buffer.from('😀').subarray(0, 3))).toBe(0);
    // Only bytes from `from` on count: an earlier lead byte was already judged.
    expect(completeUtf8Length(b(0xe2, 0x82), 1)).toBe(2);
  });

  it('shows bytes as the errors do', () => {
    expect(hexBytes(b(0xc3, 0x28, 0x0a))).toBe('0xC3 0x28 0x0A');
  });
});
