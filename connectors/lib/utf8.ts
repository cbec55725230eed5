// UTF-8 validation for bytes that arrive in chunks: where a chunk's complete characters end, and where
// the first invalid sequence starts. One copy, shared by the XML tokenizer and the text decoder.

/**
 * Length of buf[…end) without a trailing multi-byte sequence that the next chunk may complete; only
 * bytes from `from` on are looked at (earlier ones were already validated).
 */
export function completeUtf8Length(buf: Uint8Array, from = 0): number {
  const end = buf.length;
  let i = end - 1;
  let cont = 0;
  while (i >= from && cont < 3 && (buf[i]! & 0xc0) === 0x80) {
    i--;
    cont++;
  }
  if (i < from) return end;
  const lead = buf[i]!;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return end - i < need ? i : end;
}

/**
 * Index of the first invalid UTF-8 sequence in buf[from, to), or -1: a stray continuation byte, an
 * overlong form, a surrogate, a code point past U+10FFFF, or a sequence cut by `to`. Meant for after
 * the native `isUtf8` said no: exactness matters here, not speed.
 */
export function firstInvalidUtf8(buf: Uint8Array, from = 0, to = buf.length): number {
  let i = from;
  while (i < to) {
    const b = buf[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) [need, min] = [1, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [need, min] = [2, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [need, min] = [3, 0x10000];
    else return i;
    if (i + need >= to) return i;
    let cp = b & (need === 1 ? 0x1f : need === 2 ? 0x0f : 0x07);
    for (let k = 1; k <= need; k++) {
      const c = buf[i + k]!;
      if ((c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/** Bytes as `0xC3 0x28`, the way encoding errors show them. */
export function hexBytes(bytes: Uint8Array): string {
  return [...bytes].map((b) => `0x${b.toString(16).toUpperCase().padStart(2, '0')}`).join(' ');
}
