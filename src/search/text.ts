// Text helpers of search: normalisation shared with the SQL side (lower case, ё → е), tokens as the
// word list (search_words) splits them, keyboard-layout conversion between the Russian ЙЦУКЕН and
// the Latin QWERTY layouts, and an edit distance for ranking typo candidates.

/** What search_words and the search documents hold: lower case, ё folded into е. */
export function normalize(text: string): string {
  return text.toLowerCase().replace(/ё/g, 'е');
}

/** Words of a text as search_words splits them (letters and digits; the rest separates). */
export function tokens(text: string): string[] {
  return normalize(text).split(/[^0-9a-zа-я]+/).filter(Boolean);
}

const EN = "`qwertyuiop[]asdfghjkl;'zxcvbnm,./";
const RU = 'ёйцукенгшщзхъфывапролджэячсмитьбю.';
const EN_UPPER = '~QWERTYUIOP{}ASDFGHJKL:"ZXCVBNM<>?';
const RU_UPPER = 'ЁЙЦУКЕНГШЩЗХЪФЫВАПРОЛДЖЭЯЧСМИТЬБЮ,';

const toRu = new Map<string, string>();
const toEn = new Map<string, string>();
for (let i = 0; i < EN.length; i++) {
  toRu.set(EN[i]!, RU[i]!);
  toRu.set(EN_UPPER[i]!, RU_UPPER[i]!);
  // '.' is on both layouts (and ',' is shift-. on Russian): keep them as they are towards Latin.
  if (RU[i] !== '.') toEn.set(RU[i]!, EN[i]!);
  if (RU_UPPER[i] !== ',') toEn.set(RU_UPPER[i]!, EN_UPPER[i]!);
}

/**
 * The text as if typed on the other layout: Latin letters (and the keys carrying Russian letters:
 * `[ ] ; ' , . \``) become Russian when the text is Latin, Russian letters become Latin when it is
 * Russian. Mixed or letterless text comes back unchanged (`null`).
 */
export function switchLayout(text: string): string | null {
  const latin = /[a-z]/i.test(text);
  const cyrillic = /[а-яё]/i.test(text);
  if (latin === cyrillic) return null;
  const map = latin ? toRu : toEn;
  let out = '';
  for (const ch of text) out += map.get(ch) ?? ch;
  return out === text ? null : out;
}

/** Optimal string alignment distance (Damerau–Levenshtein with adjacent transpositions), capped. */
export function editDistance(a: string, b: string, cap = 3): number {
  if (Math.abs(a.length - b.length) > cap) return cap + 1;
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) rows.push(new Array<number>(b.length + 1).fill(0));
  for (let i = 0; i <= a.length; i++) rows[i]![0] = i;
  for (let j = 0; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    let best = cap + 1;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
      if (d < best) best = d;
    }
    if (best > cap) return cap + 1;
  }
  return Math.min(rows[a.length]![b.length]!, cap + 1);
}
