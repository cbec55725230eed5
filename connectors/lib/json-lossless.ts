// JSON text read without losing digits: OData servers (1C, SAP for Edm.Int/Double) write numbers as
// JSON numbers, which JSON.parse would turn into doubles; here every number keeps its text.

// A string literal (skipped as is) or a number token outside strings (quoted).
const TOKENS = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/** Parses JSON text keeping each number as the string of its digits (`1234.50` → `"1234.50"`). */
export function parseLossless(text: string): unknown {
  return JSON.parse(text.replace(TOKENS, (t) => (t.charCodeAt(0) === 34 ? t : `"${plainNumber(t)}"`)));
}

/** Writes an exponent form in plain digits (`1.5E-7` → `0.00000015`) so decimal rules can read it. */
export function plainNumber(t: string): string {
  const e = t.search(/[eE]/);
  if (e < 0) return t;
  const exp = Number(t.slice(e + 1));
  let mant = t.slice(0, e);
  const neg = mant.startsWith('-');
  if (neg) mant = mant.slice(1);
  const dot = mant.indexOf('.');
  const digits = mant.replace('.', '');
  const point = (dot < 0 ? mant.length : dot) + exp;
  let s: string;
  if (point <= 0) s = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) s = digits + '0'.repeat(point - digits.length);
  else s = `${digits.slice(0, point)}.${digits.slice(point)}`;
  // Tidy: no leading zeros before the point, no trailing zeros after it.
  s = s.replace(/^0+(?=\d)/, '');
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return neg && /[1-9]/.test(s) ? `-${s}` : s;
}
