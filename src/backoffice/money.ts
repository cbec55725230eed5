// Exact money for generated documents: amounts as decimal strings turned into whole kopecks (bigint),
// VAT included in an amount computed on integers and rounded half up, as accounting does.

const AMOUNT = /^(-?)([0-9]{1,15})(?:\.([0-9]{1,6}))?$/;

/** '123.45' → 12345n; more than two fraction digits must be zeros (an amount, not a price per unit). */
export function toKopecks(amount: string): bigint {
  const m = AMOUNT.exec(amount.trim());
  if (!m) throw new Error(`not an amount: '${amount.slice(0, 40)}'`);
  const frac = (m[3] ?? '').padEnd(2, '0');
  if (/[^0]/.test(frac.slice(2))) throw new Error(`amount has fractions of a kopeck: '${amount}'`);
  const k = BigInt(m[2]!) * 100n + BigInt(frac.slice(0, 2));
  return m[1] ? -k : k;
}

/** 12345n → '123.45'. */
export function fromKopecks(k: bigint): string {
  const neg = k < 0n;
  const a = neg ? -k : k;
  return `${neg ? '-' : ''}${a / 100n}.${String(a % 100n).padStart(2, '0')}`;
}

const RATE = /^([0-9]{1,2})(?:\.([0-9]{1,2}))?$/;

/** VAT included in a gross amount at `ratePercent` ('22', '10', '0'): gross × r / (100 + r), half up. */
export function vatIncluded(grossKopecks: bigint, ratePercent: string): bigint {
  const m = RATE.exec(ratePercent.trim());
  if (!m) throw new Error(`not a VAT rate: '${ratePercent}'`);
  // The rate as a fraction of hundredths: 22 → 2200 / 100.
  const r = BigInt(m[1]!) * 100n + BigInt((m[2] ?? '').padEnd(2, '0'));
  if (r === 0n) return 0n;
  const num = grossKopecks * r;
  const den = 10000n + r;
  return (2n * num + den) / (2n * den);
}

/** '22' / '22.00' / '10.5' → '22' / '22' / '10,5': the rate as an invoice prints it. */
export function rateText(ratePercent: string): string {
  const [i, f = ''] = ratePercent.trim().split('.');
  const frac = f.replace(/0+$/, '');
  return frac ? `${i},${frac}` : String(i);
}

/** 1234.5 → '1 234,50' (plain spaces: the PDF's text reads back the same with pdftotext). */
export function printMoney(v: string): string {
  const neg = v.startsWith('-');
  const [i = '0', f = ''] = v.replace('-', '').split('.');
  return `${neg ? '-' : ''}${i.replace(/\B(?=(\d{3})+(?!\d))/g, ' ')},${(f + '00').slice(0, Math.max(2, f.length))}`;
}
