// The checksum of a Russian taxpayer number (ИНН): 10 digits for an organisation (one check digit),
// 12 for a person or sole proprietor (two). A requisite whose INN fails it is rejected with the reason.

const W10 = [2, 4, 10, 3, 5, 9, 4, 6, 8];
const W11 = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
const W12 = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8];

function check(d: number[], w: number[]): number {
  let s = 0;
  for (let i = 0; i < w.length; i++) s += d[i]! * w[i]!;
  return (s % 11) % 10;
}

/** Why an INN is not valid (in Russian: a cabinet user reads rejects), or undefined when it is. */
export function innProblem(inn: string): string | undefined {
  if (!/^\d+$/.test(inn)) return `ИНН ${JSON.stringify(inn)}: допустимы только цифры`;
  const d = [...inn].map(Number);
  if (d.length === 10) return check(d, W10) === d[9] ? undefined : `ИНН ${inn}: неверная контрольная цифра (10 знаков)`;
  if (d.length === 12) {
    return check(d, W11) === d[10] && check(d, W12) === d[11] ? undefined : `ИНН ${inn}: неверные контрольные цифры (12 знаков)`;
  }
  return `ИНН ${inn}: должно быть 10 цифр (организация) или 12 (ИП, физическое лицо), а не ${d.length}`;
}

/** A valid INN from a number: its digits padded, then the check digits (test data and the bench). */
export function makeInn(seed: number, length: 10 | 12 = 10): string {
  const body = String(seed % 10 ** (length - (length === 10 ? 1 : 2))).padStart(length === 10 ? 9 : 10, '0');
  const d = [...body].map(Number);
  if (length === 10) return body + check(d, W10);
  d.push(check(d, W11));
  d.push(check(d, W12));
  return d.join('');
}
