// What a typed query means, decided against the store: each word as typed when products hold it, else
// the same keys on the other keyboard layout (`ghjdjl` → `провод`, `дупкфтв` → `legrand`), else its
// synonyms, else the beginning of indexed words (`авт`, `автомат вык`: matched as prefixes, never
// corrected), else the nearest word of search_words by trigrams within a small edit distance (typos,
// missing letters); then synonyms of every word and phrase. The result becomes a tsquery (russian
// stemming handles inflections: провода, проводом → провод).
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../db/index.ts';
import { editDistance, normalize, switchLayout, tokens } from './text.ts';

type Db = Kysely<Database>;

export type TermSource = 'typed' | 'layout' | 'typo';

/** One word (or phrase, when a synonym names several words) of the interpreted query. */
export interface Term {
  /** The word as interpreted. */
  text: string;
  /** Synonyms: a product matching any of them matches the term. */
  alternatives: string[];
  source: TermSource;
  /** Matched as a prefix (the word being typed, in autocomplete). */
  prefix?: boolean;
}

export interface Understood {
  /** The query as typed (trimmed): exact barcode and SKU matches. */
  typed: string;
  /** The query normalised: exact article matches (case-insensitive). */
  exact: string;
  terms: Term[];
  /** Words that matched nothing and had no correction: left out. */
  ignored: string[];
  /** The query as interpreted, when it differs from what was typed (layout, typos). */
  corrected: string | null;
}

const MAX_WORDS = 8;
/**
 * The shortest word matched as the beginning of indexed words when no product holds it as a whole
 * word: a single letter would match a good part of the catalog and is more likely a stray key.
 */
const MIN_PREFIX = 2;
/** Above this many matching documents a word counts as "matches plenty" (cheap capped counts). */
const COUNT_CAP = 1000;

/** Matching documents per word (capped), and whether the word is a stop word (no lexemes). */
async function wordCounts(db: Db, words: string[]): Promise<Map<string, { n: number; stop: boolean }>> {
  const out = new Map<string, { n: number; stop: boolean }>();
  const todo = [...new Set(words)];
  if (!todo.length) return out;
  const r = await sql<{ t: string; nodes: number; n: number }>`
    SELECT t, numnode(plainto_tsquery('russian', t)) AS nodes,
      (SELECT count(*)::int FROM (SELECT 1 FROM product_search WHERE doc @@ plainto_tsquery('russian', t) LIMIT ${COUNT_CAP}) x) AS n
    FROM unnest(${todo}::text[]) AS t`.execute(db);
  for (const x of r.rows) out.set(x.t, { n: x.n, stop: x.nodes === 0 });
  return out;
}

/** Words of search_words nearest to each given word by trigram distance. */
async function nearestWords(db: Db, words: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (!words.length) return out;
  const r = await sql<{ t: string; word: string }>`
    SELECT t, c.word FROM unnest(${words}::text[]) AS t,
      LATERAL (SELECT word FROM search_words WHERE word <> t ORDER BY word <-> t LIMIT 8) c`.execute(db);
  for (const x of r.rows) out.set(x.t, [...(out.get(x.t) ?? []), x.word]);
  return out;
}

/**
 * The words (of at least MIN_PREFIX letters) that begin some word of search_words: one index probe
 * each (the first word at or after it in C order starts with it, or none does).
 */
async function prefixesOfWords(db: Db, words: string[]): Promise<Set<string>> {
  const todo = [...new Set(words)].filter((w) => w.length >= MIN_PREFIX);
  if (!todo.length) return new Set();
  const r = await sql<{ t: string }>`
    SELECT t FROM unnest(${todo}::text[]) AS t,
      LATERAL (SELECT word FROM search_words WHERE word >= t COLLATE "C" ORDER BY word LIMIT 1) w
    WHERE starts_with(w.word, t)`.execute(db);
  return new Set(r.rows.map((x) => x.t));
}

/**
 * The closest candidate that products hold: fewest edits (at most 1 for short words, 2 else), then
 * most products. A short word (up to 4 letters) is never shortened: with one letter of three gone the
 * "correction" is a different word (`авт` → `вт` found 40-watt lamps, `led` → `le` nothing), while
 * a real typo in a short word is a wrong or swapped letter.
 */
async function correctTypos(db: Db, words: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const fixable = words.filter((w) => w.length >= 3 && !/^[0-9]+$/.test(w));
  if (!fixable.length) return out;
  const near = await nearestWords(db, fixable);
  const counts = await wordCounts(db, [...near.values()].flat());
  for (const w of fixable) {
    const max = w.length <= 4 ? 1 : 2;
    let best: { word: string; d: number; n: number } | undefined;
    for (const c of near.get(w) ?? []) {
      const d = editDistance(w, c, max);
      const n = counts.get(c)?.n ?? 0;
      if (d > max || n === 0 || (w.length <= 4 && c.length < w.length)) continue;
      if (!best || d < best.d || (d === best.d && (n > best.n || (n === best.n && c < best.word)))) best = { word: c, d, n };
    }
    if (best) out.set(w, best.word);
  }
  return out;
}

/** Synonym groups of the given words and phrases, by their stemmed keys. */
async function synonymsOf(db: Db, phrases: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (!phrases.length) return out;
  const r = await sql<{ phrase: string; words: string[] }>`
    SELECT x.phrase, s.term || s.synonyms AS words
    FROM unnest(${phrases}::text[]) AS x(phrase)
    JOIN synonyms s ON s.keys @> ARRAY[search_key(x.phrase)]
    WHERE search_key(x.phrase) <> ''`.execute(db);
  for (const x of r.rows) {
    const all = new Set([...(out.get(x.phrase) ?? []), ...x.words.map(normalize)]);
    all.delete(x.phrase);
    out.set(x.phrase, [...all]);
  }
  return out;
}

/** Completions of a prefix from search_words, shortest first. */
export async function completions(db: Db, prefix: string, limit: number): Promise<string[]> {
  const r = await sql<{ word: string }>`
    SELECT word FROM search_words WHERE word LIKE ${prefix.replace(/[\\%_]/g, '\\$&') + '%'}
    ORDER BY length(word), word LIMIT ${limit}`.execute(db);
  return r.rows.map((x) => x.word);
}

/**
 * Interprets a query. With `prefix`, the last word is being typed: it matches as a prefix when
 * search_words completes it (as typed, else on the other layout), else it is corrected like the others.
 */
export async function understand(db: Db, query: string, opts: { prefix?: boolean } = {}): Promise<Understood> {
  const typed = query.trim();
  const exact = normalize(typed);
  const chunks = query.trim().split(/\s+/).filter(Boolean).slice(0, MAX_WORDS);
  const plan = chunks.map((c) => ({ typed: tokens(c), switched: (() => { const s = switchLayout(c); return s === null ? [] : tokens(s); })() }));
  const lastChunk = plan.length - 1;
  const words: string[] = [];
  for (const p of plan) words.push(...p.typed, ...p.switched);
  const counts = await wordCounts(db, words);
  const n = (w: string) => counts.get(w)?.n ?? 0;
  const matchesAll = (ws: string[]) => ws.length > 0 && ws.every((w) => counts.get(w)?.stop || n(w) > 0);
  const weakest = (ws: string[]) => Math.min(...ws.map((w) => (counts.get(w)?.stop ? COUNT_CAP : n(w))));
  // A word no product holds whole may begin indexed words (`авт`, `автомат` → автоматический, `вык`):
  // what was typed is then what was meant, cut short; it is matched as a prefix and never corrected.
  const partial = await prefixesOfWords(db, words.filter((w) => !counts.get(w)?.stop && n(w) === 0));
  const foundAll = (ws: string[]) => ws.length > 0 && ws.every((w) => counts.get(w)?.stop || n(w) > 0 || partial.has(w));

  const terms: Term[] = [];
  const ignored: string[] = [];
  const needFix: Array<{ term: Term; word: string }> = [];
  for (let i = 0; i < plan.length; i++) {
    const { typed, switched } = plan[i]!;
    let ws = typed;
    let source: TermSource = 'typed';
    if (opts.prefix && i === lastChunk) {
      // The word being typed: a prefix of something in the word list, as typed or on the other layout.
      const last = typed[typed.length - 1];
      const lastSwitched = switched[switched.length - 1];
      if (last !== undefined && !(await completions(db, last, 1)).length && lastSwitched !== undefined
        && (await completions(db, lastSwitched, 1)).length && switched.slice(0, -1).every((w) => counts.get(w)?.stop || n(w) > 0)) {
        ws = switched;
        source = 'layout';
      }
      ws.forEach((w, j) => {
        const prefix = j === ws.length - 1;
        if (!prefix && counts.get(w)?.stop) return;
        const t: Term = { text: w, alternatives: [], source, prefix: prefix || undefined };
        terms.push(t);
        if (!prefix && n(w) === 0) needFix.push({ term: t, word: w });
      });
      if (ws.length && (await completions(db, ws[ws.length - 1]!, 1)).length === 0) {
        // Nothing starts like this: a typo in the word being typed; correct it as a whole word.
        const t = terms[terms.length - 1]!;
        t.prefix = undefined;
        if (n(t.text) === 0) needFix.push({ term: t, word: t.text });
      }
      continue;
    }
    // Another layout when the typed keys match nothing, not even as the beginning of words, and the
    // switched ones do (whole or as beginnings: `hjp` → роз), or when both match whole but the typed
    // keys far less.
    if (switched.length && ((!foundAll(typed) && foundAll(switched))
      || (matchesAll(typed) && matchesAll(switched) && weakest(switched) >= 10 * weakest(typed)))) {
      ws = switched;
      source = 'layout';
    }
    for (const w of ws) {
      if (counts.get(w)?.stop) continue;
      const t: Term = { text: w, alternatives: [], source };
      terms.push(t);
      if (n(w) === 0) needFix.push({ term: t, word: w });
    }
  }

  // A word no product holds may still be a synonym of one that products hold: not a typo.
  if (needFix.length) {
    const known = await synonymsOf(db, needFix.map((x) => x.word));
    for (let i = needFix.length - 1; i >= 0; i--) if (known.get(needFix[i]!.word)?.length) needFix.splice(i, 1);
  }
  // The beginning of indexed words: a prefix term (the rule above), not a typo.
  for (let i = needFix.length - 1; i >= 0; i--) {
    if (partial.has(needFix[i]!.word)) {
      needFix[i]!.term.prefix = true;
      needFix.splice(i, 1);
    }
  }
  if (needFix.length) {
    const fixes = await correctTypos(db, needFix.map((x) => x.word));
    for (const { term, word } of needFix) {
      const fix = fixes.get(word);
      if (fix) {
        term.text = fix;
        term.source = 'typo';
      } else {
        ignored.push(word);
        terms.splice(terms.indexOf(term), 1);
      }
    }
  }

  // Synonyms of each whole word, and of phrases of two and three words (a synonym may be a phrase).
  const texts = terms.map((t) => t.text);
  const phrases: string[] = [];
  for (let size = 1; size <= 3; size++) {
    for (let i = 0; i + size <= terms.length; i++) {
      if (terms.slice(i, i + size).some((t) => t.prefix)) continue;
      phrases.push(texts.slice(i, i + size).join(' '));
    }
  }
  // The word being typed may already be a whole synonym (`led` of светодиодный): its synonyms join
  // the prefix, else autocomplete shows nothing where search finds plenty.
  const typing = terms[terms.length - 1];
  if (typing?.prefix) phrases.push(typing.text);
  const syn = await synonymsOf(db, phrases);
  if (typing?.prefix) typing.alternatives = syn.get(typing.text) ?? [];
  // Longest phrases first: a phrase with synonyms becomes one term.
  for (let size = 3; size >= 1; size--) {
    for (let i = 0; i + size <= terms.length; i++) {
      const group = terms.slice(i, i + size);
      if (group.some((t) => t.prefix) || (size > 1 && group.some((t) => t.alternatives.length))) continue;
      const phrase = group.map((t) => t.text).join(' ');
      const alternatives = syn.get(phrase);
      if (!alternatives?.length) continue;
      const source: TermSource = group.some((t) => t.source === 'typo') ? 'typo' : group.some((t) => t.source === 'layout') ? 'layout' : 'typed';
      terms.splice(i, size, { text: phrase, alternatives, source });
    }
  }

  const interpreted = terms.map((t) => t.text).join(' ');
  const corrected = terms.some((t) => t.source !== 'typed') ? interpreted : null;
  return { typed, exact, terms, ignored, corrected };
}

/**
 * The tsquery of interpreted terms: every term must match, through its text or any synonym (each a
 * phrase whose words must all match); a prefix term matches words starting with it.
 */
export function tsquerySql(terms: Term[]): RawBuilder<unknown> | null {
  if (!terms.length) return null;
  const parts = terms.map((t) => {
    if (t.prefix) {
      // Only [0-9a-zа-я] reach here (tokens()), so the word is safe inside to_tsquery's syntax.
      const prefix = sql`to_tsquery('russian', ${`${t.text}:*`})`;
      if (!t.alternatives.length) return prefix;
      return sql`(${sql.join([prefix, ...t.alternatives.map((a) => sql`plainto_tsquery('russian', ${a})`)], sql` || `)})`;
    }
    const alts = [t.text, ...t.alternatives].map((a) => sql`plainto_tsquery('russian', ${a})`);
    return alts.length === 1 ? alts[0]! : sql`(${sql.join(alts, sql` || `)})`;
  });
  return sql`(${sql.join(parts, sql` && `)})`;
}
