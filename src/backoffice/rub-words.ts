// An amount of roubles in Russian words, as an invoice writes it under the total: «Сто двадцать три
// рубля 45 копеек». Works on the decimal string (never a float), so 21 000 001,01 stays exact.

const ONES_M = ['', 'один', 'два', 'три', 'четыре', 'пять', 'шесть', 'семь', 'восемь', 'девять'];
const ONES_F = ['', 'одна', 'две', 'три', 'четыре', 'пять', 'шесть', 'семь', 'восемь', 'девять'];
const TEENS = ['десять', 'одиннадцать', 'двенадцать', 'тринадцать', 'четырнадцать', 'пятнадцать', 'шестнадцать', 'семнадцать', 'восемнадцать', 'девятнадцать'];
const TENS = ['', '', 'двадцать', 'тридцать', 'сорок', 'пятьдесят', 'шестьдесят', 'семьдесят', 'восемьдесят', 'девяносто'];
const HUNDREDS = ['', 'сто', 'двести', 'триста', 'четыреста', 'пятьсот', 'шестьсот', 'семьсот', 'восемьсот', 'девятьсот'];

/** Russian plural form of a count: 1 рубль, 2 рубля, 5 рублей, 11 рублей, 21 рубль. */
export function pluralForm(n: bigint, forms: readonly [string, string, string]): string {
  const m100 = Number(n % 100n);
  const m10 = m100 % 10;
  if (m100 >= 11 && m100 <= 14) return forms[2];
  if (m10 === 1) return forms[0];
  if (m10 >= 2 && m10 <= 4) return forms[1];
  return forms[2];
}

/** Words of 1..999 in the gender of what is counted (тысяча is feminine, рубль and миллион masculine). */
function triad(n: number, feminine: boolean): string[] {
  const out: string[] = [];
  const h = Math.floor(n / 100);
  const rest = n % 100;
  if (h) out.push(HUNDREDS[h]!);
  if (rest >= 10 && rest < 20) {
    out.push(TEENS[rest - 10]!);
  } else {
    const t = Math.floor(rest / 10);
    const o = rest % 10;
    if (t) out.push(TENS[t]!);
    if (o) out.push((feminine ? ONES_F : ONES_M)[o]!);
  }
  return out;
}

/** Scales above units: gender and word forms. */
const SCALES: ReadonlyArray<{ feminine: boolean; forms: readonly [string, string, string] }> = [
  { feminine: true, forms: ['тысяча', 'тысячи', 'тысяч'] },
  { feminine: false, forms: ['миллион', 'миллиона', 'миллионов'] },
  { feminine: false, forms: ['миллиард', 'миллиарда', 'миллиардов'] },
  { feminine: false, forms: ['триллион', 'триллиона', 'триллионов'] },
];

/** A whole number of masculine things (рублей) in words, lower case: 21000001 → «двадцать один миллион один». */
export function integerWords(n: bigint): string {
  if (n < 0n) throw new Error('a negative amount has no words on an invoice');
  if (n === 0n) return 'ноль';
  if (n >= 10n ** 15n) throw new Error('amount too large for words');
  const words: string[] = [];
  const groups: number[] = [];
  for (let x = n; x > 0n; x /= 1000n) groups.push(Number(x % 1000n));
  for (let i = groups.length - 1; i >= 0; i--) {
    const g = groups[i]!;
    if (!g) continue;
    if (i === 0) {
      words.push(...triad(g, false));
    } else {
      const s = SCALES[i - 1]!;
      words.push(...triad(g, s.feminine), pluralForm(BigInt(g), s.forms));
    }
  }
  return words.join(' ');
}

const AMOUNT = /^([0-9]{1,15})(?:\.([0-9]{1,2}))?$/;

/**
 * «Сто двадцать три рубля 45 копеек» for '123.45'; the kopecks as two digits, the way Russian
 * invoices write them. Accepts a decimal string with at most two fraction digits (an amount in money).
 */
export function rubWords(amount: string): string {
  const m = AMOUNT.exec(amount.trim());
  if (!m) throw new Error(`not an amount of money: '${amount.slice(0, 40)}'`);
  const rub = BigInt(m[1]!);
  const kop = BigInt((m[2] ?? '').padEnd(2, '0'));
  const words = integerWords(rub);
  const text = `${words} ${pluralForm(rub, ['рубль', 'рубля', 'рублей'])} ${String(kop).padStart(2, '0')} ${pluralForm(kop, ['копейка', 'копейки', 'копеек'])}`;
  return text.charAt(0).toUpperCase() + text.slice(1);
}
