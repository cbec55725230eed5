// Exact decimal arithmetic on strings for the mapping stage: parsing human-written numbers, rounding
// half up and multiplying/dividing by unit factors, never through JS floats (prices must not drift).

/** Spaces used as thousands separators: plain, no-break, narrow no-break, thin. */
const GROUP_SPACE = /(?<=[0-9])[ \u00a0\u202f\u2009](?=[0-9])/g;
const DIGITS = /^[0-9]*$/;
const EXPONENT = /^([+-]?)([0-9]+)(?:\.([0-9]*))?[eE]([+-]?[0-9]{1,3})$/;

/**
 * Parses a decimal number as people and ERPs write it, returning it canonical (`-1234.50`: optional
 * minus, integer part without leading zeros, a dot, the fraction digits exactly as written), or null
 * when the text is not a number.
 *
 * Rules: spaces (also no-break) between digits are thousands separators; a comma or a dot that occurs
 * once is the decimal separator; when both occur, the last one is the decimal separator and the other
 * one separates thousands (in groups of three); a separator repeated without the other (`1.234.567`)
 * separates thousands.
 */
export function parseDecimal(input: string): string | null {
  const fast = simpleDecimal(input);
  if (fast !== undefined) return fast;
  let s = input.trim();
  let negative = false;
  const c0 = s.charCodeAt(0);
  if (c0 === 45 /* - */ || c0 === 0x2212 /* − */) {
    negative = true;
    s = s.slice(1);
  } else if (c0 === 43 /* + */) {
    s = s.slice(1);
  }
  if (s.length === 0) return null;
  s = s.replace(GROUP_SPACE, '');
  const lastComma = s.lastIndexOf(',');
  const lastDot = s.lastIndexOf('.');
  let decimalSep = '';
  let groupSep = '';
  if (lastComma >= 0 && lastDot >= 0) {
    decimalSep = lastComma > lastDot ? ',' : '.';
    groupSep = lastComma > lastDot ? '.' : ',';
  } else if (lastComma >= 0 || lastDot >= 0) {
    const sep = lastComma >= 0 ? ',' : '.';
    if (s.indexOf(sep) === s.lastIndexOf(sep)) decimalSep = sep;
    else groupSep = sep;
  }
  let intPart = s;
  let frac = '';
  if (decimalSep) {
    const at = s.lastIndexOf(decimalSep);
    intPart = s.slice(0, at);
    frac = s.slice(at + 1);
  }
  if (groupSep) {
    const groups = intPart.split(groupSep);
    const first = groups[0] ?? '';
    if (first.length < 1 || first.length > 3) return null;
    for (let i = 1; i < groups.length; i++) if (groups[i]!.length !== 3) return null;
    intPart = groups.join('');
  }
  if (!DIGITS.test(intPart) || !DIGITS.test(frac) || (intPart.length === 0 && frac.length === 0)) return null;
  return canonical(negative, intPart, frac);
}

/**
 * The common shapes (`1234`, `1234.50`, `-12,5`) in one pass over the characters, without regexes;
 * undefined sends anything else (spaces, several separators, signs) to the general path.
 */
function simpleDecimal(s: string): string | null | undefined {
  const n = s.length;
  let start = 0;
  let negative = false;
  if (s.charCodeAt(0) === 45) {
    negative = true;
    start = 1;
  }
  if (n === start) return undefined;
  let sep = -1;
  for (let j = start; j < n; j++) {
    const c = s.charCodeAt(j);
    if (c >= 48 && c <= 57) continue;
    if ((c === 44 || c === 46) && sep < 0) {
      sep = j;
      continue;
    }
    return undefined;
  }
  if (sep < 0) {
    if (!negative && (s.charCodeAt(0) !== 48 || n === 1)) return s;
    return canonical(negative, s.slice(start), '');
  }
  if (sep === start && sep === n - 1) return null;
  if (!negative && s.charCodeAt(sep) === 46 && sep > 0 && (s.charCodeAt(0) !== 48 || sep === 1) && sep < n - 1) return s;
  return canonical(negative, s.slice(start, sep), s.slice(sep + 1));
}

/** Builds `-int.frac` without leading zeros; zero never carries a sign. */
function canonical(negative: boolean, intPart: string, frac: string): string {
  let i = 0;
  while (i < intPart.length - 1 && intPart.charCodeAt(i) === 48) i++;
  const int = intPart.length === 0 ? '0' : intPart.slice(i);
  const body = frac.length ? `${int}.${frac}` : int;
  return negative && !isZero(body) ? `-${body}` : body;
}

function isZero(body: string): boolean {
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (c !== 48 && c !== 46) return false;
  }
  return true;
}

/** Drops trailing zeros of the fraction (and the dot when nothing is left): `12.500` → `12.5`, `3.0` → `3`. */
export function trimFraction(canon: string): string {
  if (canon.indexOf('.') < 0) return canon;
  let end = canon.length;
  while (canon.charCodeAt(end - 1) === 48) end--;
  if (canon.charCodeAt(end - 1) === 46) end--;
  const out = canon.slice(0, end);
  return out === '-0' ? '0' : out;
}

/**
 * Parses a number for the `number` transform: everything parseDecimal accepts plus exponent notation
 * (`1.5E3`), shifted exactly; the result has no trailing fraction zeros.
 */
export function parseNumber(input: string): string | null {
  const d = parseDecimal(input);
  if (d !== null) return trimFraction(d);
  const m = EXPONENT.exec(input.trim());
  if (!m) return null;
  const digits = m[2]! + (m[3] ?? '');
  const point = m[2]!.length + Number(m[4]);
  let intPart: string;
  let frac: string;
  if (point <= 0) {
    intPart = '0';
    frac = '0'.repeat(-point) + digits;
  } else if (point >= digits.length) {
    intPart = digits + '0'.repeat(point - digits.length);
    frac = '';
  } else {
    intPart = digits.slice(0, point);
    frac = digits.slice(point);
  }
  return trimFraction(canonical(m[1] === '-', intPart, frac));
}

/**
 * Rounds a canonical decimal half up (away from zero, as commercial rounding does) to exactly `scale`
 * fraction digits, padding with zeros when it has fewer.
 */
export function roundDecimal(canon: string, scale: number): string {
  const negative = canon.charCodeAt(0) === 45;
  const body = negative ? canon.slice(1) : canon;
  const dot = body.indexOf('.');
  const intPart = dot < 0 ? body : body.slice(0, dot);
  const frac = dot < 0 ? '' : body.slice(dot + 1);
  if (frac.length <= scale) {
    const out = scale > 0 ? `${intPart}.${frac.padEnd(scale, '0')}` : intPart;
    return negative && !isZero(out) ? `-${out}` : out;
  }
  let digits = intPart + frac.slice(0, scale);
  if (frac.charCodeAt(scale) >= 53 /* '5' */) digits = increment(digits);
  const cut = digits.length - scale;
  return canonical(negative, digits.slice(0, cut), digits.slice(cut));
}

/** Adds one to a string of digits, carrying as far as needed (`0999` → `1000`, `99` → `100`). */
function increment(digits: string): string {
  let i = digits.length - 1;
  while (i >= 0 && digits.charCodeAt(i) === 57) i--;
  if (i < 0) return '1' + '0'.repeat(digits.length);
  return digits.slice(0, i) + String.fromCharCode(digits.charCodeAt(i) + 1) + '0'.repeat(digits.length - i - 1);
}

interface Scaled {
  n: bigint;
  scale: number;
}

function toScaled(canon: string): Scaled {
  const dot = canon.indexOf('.');
  if (dot < 0) return { n: BigInt(canon), scale: 0 };
  return { n: BigInt(canon.slice(0, dot) + canon.slice(dot + 1)), scale: canon.length - dot - 1 };
}

const TEN = 10n;

/** Writes n·10^-scale as a canonical decimal with exactly `scale` fraction digits. */
function fromScaled(n: bigint, scale: number): string {
  const negative = n < 0n;
  const digits = (negative ? -n : n).toString().padStart(scale + 1, '0');
  const cut = digits.length - scale;
  return canonical(negative, digits.slice(0, cut), digits.slice(cut));
}

/** num/den rounded half up (away from zero) to an integer, exactly. */
function divRound(num: bigint, den: bigint): bigint {
  if (den < 0n) {
    num = -num;
    den = -den;
  }
  const q = num / den;
  const r = num % den;
  const twice = (r < 0n ? -r : r) * 2n;
  if (twice >= den) return num < 0n ? q - 1n : q + 1n;
  return q;
}

/** a × b rounded half up to `scale` fraction digits; trailing fraction zeros dropped. */
export function multiplyDecimal(a: string, b: string, scale: number): string {
  const x = toScaled(a);
  const y = toScaled(b);
  const n = x.n * y.n;
  const s = x.scale + y.scale;
  const rounded = s > scale ? divRound(n, TEN ** BigInt(s - scale)) : n * TEN ** BigInt(scale - s);
  return trimFraction(fromScaled(rounded, scale));
}

/** a ÷ b rounded half up to `scale` fraction digits; trailing fraction zeros dropped. b must not be zero. */
export function divideDecimal(a: string, b: string, scale: number): string {
  const x = toScaled(a);
  const y = toScaled(b);
  if (y.n === 0n) throw new RangeError('division by zero');
  // a/b = (x.n / 10^xs) / (y.n / 10^ys); scaled by 10^scale: x.n · 10^(ys + scale) / (y.n · 10^xs).
  const num = x.n * TEN ** BigInt(y.scale + scale);
  const den = y.n * TEN ** BigInt(x.scale);
  return trimFraction(fromScaled(divRound(num, den), scale));
}

/** Compares two canonical decimals exactly: negative, zero or positive as a < b, a = b, a > b. */
export function compareDecimal(a: string, b: string): number {
  const x = toScaled(a);
  const y = toScaled(b);
  const scale = Math.max(x.scale, y.scale);
  const d = x.n * TEN ** BigInt(scale - x.scale) - y.n * TEN ** BigInt(scale - y.scale);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}
