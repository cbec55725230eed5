// The SQL of search and autocomplete over product_search (a russian tsvector per product), limited
// to products on sale in the request's city and priced for its client. Exact article, barcode and
// SKU matches rank first; then the configured search priority, then relevance weighted by popularity.
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../../db/index.ts';
import { effectivePriceSql } from '../../portal/pricing.ts';
import { changeVersionSql } from '../../db/migrations/0008-change-versions.ts';
import { Kept } from '../../portal/kept.ts';
import { tsquerySql, type Term, type Understood } from '../../search/understand.ts';
import type { CatalogScope, ProductCardRow } from './catalog-query.ts';

type Db = Kysely<Database>;

export interface SearchRow extends ProductCardRow {
  id: number;
  exact: boolean;
}

/**
 * The effective price of a product row and the joins its columns (rowColumns) need after `products p`
 * and its city price row `os`: the client's price row, the shown price row `px`, unit and group.
 */
function pricing(scope: CatalogScope) {
  const sameType = scope.pricing.priceTypeId === scope.cityPriceTypeId;
  const priceType = sameType ? scope.cityPriceTypeId : scope.pricing.priceTypeId;
  return {
    price: effectivePriceSql(sameType ? 'os' : 'cp', scope.pricing),
    rowJoins: sql`${sameType ? sql`` : sql`LEFT JOIN prices cp ON cp.price_type_id = ${scope.pricing.priceTypeId} AND cp.product_id = p.id AND cp.value > 0`}
      LEFT JOIN prices px ON px.price_type_id = ${priceType} AND px.product_id = p.id
      LEFT JOIN units u ON u.id = p.unit_id
      LEFT JOIN groups g ON g.id = p.group_id`,
  };
}

/** Columns of a product row in answers (`p` products, `px` its price row, `price` the effective price). */
const rowColumns = (price: RawBuilder<unknown>) => sql`p.id, p.code AS sku, p.name, p.article, p.barcode, coalesce(px.unit, u.code) AS unit, p.image_url,
  g.code AS group_code, g.name AS group_name, (${price})::text AS price, CASE WHEN px.value IS NOT NULL THEN px.currency END AS currency`;

/** One page of search results and the number of products found (on sale in the city). */
export async function searchProducts(db: Db, scope: CatalogScope, u: Understood, page: { limit: number; offset: number }): Promise<{ total: number; rows: SearchRow[] }> {
  if (scope.cityPriceTypeId === null) return { total: 0, rows: [] };
  const tq = tsquerySql(u.terms);
  const pr = pricing(scope);
  const r = await sql<{ total: number; items: SearchRow[] | null }>`
    WITH matched AS (
      SELECT id, max(rank) AS rank, bool_or(exact) AS exact FROM (
        ${tq ? sql`SELECT ps.product_id AS id, ts_rank_cd(ps.doc, q.tq) AS rank, false AS exact
          FROM (SELECT ${tq} AS tq) q, product_search ps WHERE ps.doc @@ q.tq
          UNION ALL` : sql``}
        SELECT id, 1::real AS rank, true AS exact FROM products
        WHERE (lower(article) = ${u.exact} OR barcode = ${u.typed} OR code = ${u.typed}) AND NOT deleted AND NOT placeholder
      ) h GROUP BY id
    ),
    found AS MATERIALIZED (
      SELECT m.id, m.exact, coalesce(p.search_priority, 0) AS pri,
        m.rank * (1 + ln(1 + greatest(coalesce(p.popularity, 0), 0)) / 10) AS score
      FROM matched m JOIN products p ON p.id = m.id
      JOIN prices os ON os.price_type_id = ${scope.cityPriceTypeId} AND os.product_id = p.id AND os.value > 0
      WHERE NOT p.deleted AND NOT p.placeholder
    ),
    page AS (
      SELECT id, row_number() OVER (ORDER BY exact DESC, pri DESC, score DESC, id) AS ord FROM found
      ORDER BY exact DESC, pri DESC, score DESC, id LIMIT ${page.limit} OFFSET ${page.offset}
    )
    SELECT (SELECT count(*)::int FROM found) AS total,
      (SELECT json_agg(x ORDER BY x.ord) FROM (
        SELECT pg.ord, ${rowColumns(pr.price)}, f.exact
        FROM page pg JOIN found f ON f.id = pg.id JOIN products p ON p.id = pg.id
        JOIN prices os ON os.price_type_id = ${scope.cityPriceTypeId} AND os.product_id = p.id
        ${pr.rowJoins}
      ) x) AS items`.execute(db);
  const row = r.rows[0]!;
  return { total: row.total, rows: row.items ?? [] };
}

export interface SuggestCount {
  count: number;
  /** The count reached the sample cap: there are at least `count`. */
  more: boolean;
}

export interface SuggestResult {
  words: Array<{ text: string; count: number; priority: number; popularity: number }>;
  groups: Array<{ code: string; name: string; count: number; priority: number; popularity: number }>;
  values: Array<{ property: string; value: string; label: string; count: number; priority: number; popularity: number }>;
  products: SearchRow[];
  matched: SuggestCount;
  /** The catalog version the suggestions were computed under (see SuggestTopCache). */
  version: string;
}

/**
 * Autocomplete from one bounded sample: the on-sale products matching what was typed, best first by
 * priority and popularity, at most `cap` of them. The matches are ranked in product_search (which
 * keeps each product's priority and popularity), and only the best twice `cap` are checked against
 * products and the city's prices. Completions of the word being typed, groups and suggestible
 * property values (brands) are counted and ranked over the sample, so the cost does not grow with
 * the catalog; when the sample is full, counts are lower bounds ("at least").
 */
/**
 * The best matches of a query (by priority, popularity, id) as autocomplete ranks them, kept per
 * query with the `catalog` change version they were ranked under (migration 0008). The first
 * letters typed match thousands of products and ranking them is most of a keystroke's cost; a kept
 * ranking is used only while the version, read in the same statement, is unchanged. Bounded: the
 * oldest entries go first.
 */
export class SuggestTopCache extends Kept<{ version: string; ids: number[]; pri: number[]; pop: number[] }> {
  constructor(max = 500) {
    super(max);
  }

  static keyOf(u: Understood): string {
    return JSON.stringify(u.terms.map((t) => [t.text, t.prefix ?? false, t.alternatives]));
  }
}

const CATALOG_VERSION = sql.raw(changeVersionSql('catalog'));

/**
 * Autocomplete answers per query and city, with the catalog version they were computed under and
 * the products they show; a request reads those products again with its own pricing and the
 * current version in one statement (productRowsByIds), and uses the answer only if the version is
 * unchanged. The first letters typed repeat across visitors; bounded, the oldest go first.
 */
export class KeptAnswers<B> extends Kept<{ version: string; body: B; ids: number[]; exact: boolean[] }> {
  constructor(max = 2000) {
    super(max);
  }
}

export async function suggest(db: Db, scope: CatalogScope, u: Understood, opts: { completions: string[]; products: number; cap: number; limit: number; tops?: SuggestTopCache }): Promise<SuggestResult> {
  const empty = { words: [], groups: [], values: [], products: [], matched: { count: 0, more: false }, version: '' };
  const tq = tsquerySql(u.terms);
  if (scope.cityPriceTypeId === null || !tq) return empty;
  const pr = pricing(scope);
  const typing = u.terms[u.terms.length - 1];
  // The completed queries: the terms before the word being typed, and each completion of it.
  const before: Term[] = typing?.prefix ? u.terms.slice(0, -1) : u.terms;
  const beforeTq = tsquerySql(before);
  const words = typing?.prefix ? opts.completions : [];
  const prefix = typing?.prefix ? typing.text : null;
  // The ranked matches: kept ones while the catalog version holds (the scan below is then skipped:
  // its condition is decided once, before it runs), else ranked again and handed back to keep.
  const key = SuggestTopCache.keyOf(u);
  const kept = opts.tops?.get(key);
  const r = await sql<{ n: number; top_n: number; products: SearchRow[] | null; words: SuggestResult['words'] | null; groups: SuggestResult['groups'] | null; vals: SuggestResult['values'] | null; version: string; ranked: { ids: number[]; pri: number[]; pop: number[] } | null }>`
    WITH ver AS MATERIALIZED (SELECT ${CATALOG_VERSION} AS v),
    top AS MATERIALIZED (
      SELECT k.id, k.pri, k.pop FROM unnest(${kept?.ids ?? []}::bigint[], ${kept?.pri ?? []}::int[], ${kept?.pop ?? []}::bigint[]) AS k(id, pri, pop)
      WHERE ${kept?.version ?? null}::text = (SELECT v FROM ver)
      UNION ALL
      (SELECT ps.product_id AS id, ps.pri, ps.pop FROM product_search ps
       WHERE ${kept?.version ?? null}::text IS DISTINCT FROM (SELECT v FROM ver) AND ps.doc @@ ${tq}
       ORDER BY ps.pri DESC, ps.pop DESC, ps.product_id LIMIT ${opts.cap * 2})
    ),
    cand AS MATERIALIZED (
      -- On sale in the city: its catalog offers (src/portal/offers.ts), one primary-key probe per match.
      SELECT t.id, t.pri, t.pop, o.group_id, o.facets
      FROM top t JOIN catalog_offers o ON o.city_id = ${scope.cityId} AND o.product_id = t.id
      ORDER BY t.pri DESC, t.pop DESC, t.id
      LIMIT ${opts.cap}
    )
    SELECT (SELECT count(*)::int FROM cand) AS n, (SELECT count(*)::int FROM top) AS top_n,
      (SELECT v FROM ver) AS version,
      CASE WHEN ${kept?.version ?? null}::text IS DISTINCT FROM (SELECT v FROM ver) THEN (
        SELECT json_build_object('ids', coalesce(array_agg(id ORDER BY pri DESC, pop DESC, id), '{}'),
          'pri', coalesce(array_agg(pri ORDER BY pri DESC, pop DESC, id), '{}'), 'pop', coalesce(array_agg(pop ORDER BY pri DESC, pop DESC, id), '{}'))
        FROM top) END AS ranked,
      (SELECT json_agg(x ORDER BY x.ord) FROM (
        SELECT c.ord, ${rowColumns(pr.price)}, false AS exact
        FROM (SELECT id, row_number() OVER (ORDER BY pri DESC, pop DESC, id) AS ord FROM cand ORDER BY pri DESC, pop DESC, id LIMIT ${opts.products}) c
        JOIN products p ON p.id = c.id
        JOIN prices os ON os.price_type_id = ${scope.cityPriceTypeId} AND os.product_id = p.id
        ${pr.rowJoins}
      ) x) AS products,
      ${words.length ? sql`(SELECT json_agg(x) FROM (
        SELECT w.text, count(*)::int AS count, max(c.pri)::int AS priority, sum(c.pop)::bigint AS popularity
        FROM (SELECT c.*, ps.doc FROM cand c JOIN product_search ps ON ps.product_id = c.id) c
        JOIN unnest(${words}::text[]) AS w(text) ON c.doc @@ (${beforeTq ?? sql`''::tsquery`} && plainto_tsquery('russian', w.text))
        GROUP BY w.text ORDER BY priority DESC, popularity DESC, count DESC, w.text LIMIT ${opts.limit}
      ) x)` : sql`NULL::json`} AS words,
      (SELECT json_agg(x) FROM (
        SELECT g.code, g.name, count(*)::int AS count, max(c.pri)::int AS priority, sum(c.pop)::bigint AS popularity
        FROM cand c JOIN groups g ON g.id = c.group_id
        GROUP BY g.id ORDER BY priority DESC, popularity DESC, count DESC, g.id LIMIT ${opts.limit}
      ) x) AS groups,
      ${prefix !== null ? sql`(SELECT json_agg(x) FROM (
        SELECT pr.code AS property, fk.value, coalesce(pv.value, fk.value) AS label, a.count, a.priority, a.popularity
        FROM (
          SELECT k, count(*)::int AS count, max(c.pri)::int AS priority, sum(c.pop)::bigint AS popularity
          FROM cand c, unnest(c.facets) AS k
          WHERE (k >> 32) = ANY(ARRAY(SELECT id FROM properties WHERE suggest))
          GROUP BY k
        ) a
        JOIN facet_keys fk ON fk.key = a.k
        JOIN properties pr ON pr.id = fk.property_id
        LEFT JOIN property_values pv ON pv.property_id = fk.property_id AND pv.code = fk.value
        WHERE ' ' || regexp_replace(search_norm(coalesce(pv.value, fk.value)), '[^0-9a-zа-я]+', ' ', 'g') LIKE ${`% ${prefix.replace(/[\\%_]/g, '\\$&')}%`}
        ORDER BY a.priority DESC, a.popularity DESC, a.count DESC, label LIMIT ${opts.limit}
      ) x)` : sql`NULL::json`} AS vals`.execute(db);
  const row = r.rows[0]!;
  if (row.ranked && opts.tops) {
    opts.tops.set(key, { version: row.version, ids: row.ranked.ids.map(Number), pri: row.ranked.pri.map(Number), pop: row.ranked.pop.map(Number) });
  }
  const num = <T extends { popularity: number | string }>(xs: T[] | null) => (xs ?? []).map((x) => ({ ...x, popularity: Number(x.popularity) }));
  return {
    words: num(row.words), groups: num(row.groups), values: num(row.vals), products: row.products ?? [], version: row.version,
    matched: { count: row.n, more: row.n >= opts.cap || row.top_n >= opts.cap * 2 },
  };
}

/**
 * Products whose article, barcode or SKU starts with what was typed (a code being typed in the
 * search box), on sale in the city: autocomplete shows them before the others.
 */
export async function codeMatches(db: Db, scope: CatalogScope, u: Understood, limit: number): Promise<SearchRow[]> {
  if (scope.cityPriceTypeId === null || limit === 0 || u.typed.length < 3 || !/[0-9]/.test(u.typed)) return [];
  const pr = pricing(scope);
  const like = (v: string) => `${v.replace(/[\\%_]/g, '\\$&')}%`;
  const r = await sql<SearchRow>`
    SELECT ${rowColumns(pr.price)}, true AS exact
    FROM (
      SELECT id FROM products WHERE lower(article) LIKE ${like(u.exact)} AND NOT deleted AND NOT placeholder
      UNION SELECT id FROM products WHERE barcode LIKE ${like(u.typed)} AND NOT deleted AND NOT placeholder
      UNION SELECT id FROM products WHERE code = ${u.typed} AND NOT deleted AND NOT placeholder
      LIMIT 100
    ) m
    JOIN products p ON p.id = m.id
    JOIN prices os ON os.price_type_id = ${scope.cityPriceTypeId} AND os.product_id = p.id AND os.value > 0
    ${pr.rowJoins}
    ORDER BY coalesce(p.search_priority, 0) DESC, coalesce(p.popularity, 0) DESC, p.id
    LIMIT ${limit}`.execute(db);
  return r.rows;
}

/**
 * Product rows of the given products, in that order, priced for the request, with the catalog
 * version read in the same statement: what a kept autocomplete answer needs per request (its
 * products were on sale in the city under that version; the caller checks it is unchanged).
 */
export async function productRowsByIds(db: Db, scope: CatalogScope, ids: number[], exact: boolean[]): Promise<{ version: string; rows: SearchRow[] }> {
  if (scope.cityPriceTypeId === null) return { version: '', rows: [] };
  const pr = pricing(scope);
  const r = await sql<{ version: string; rows: SearchRow[] | null }>`
    SELECT ${CATALOG_VERSION} AS version, (SELECT json_agg(x ORDER BY x.ord) FROM (
      SELECT k.ord, ${rowColumns(pr.price)}, k.exact
      FROM unnest(${ids}::bigint[], ${exact}::boolean[]) WITH ORDINALITY AS k(id, exact, ord)
      JOIN products p ON p.id = k.id
      JOIN prices os ON os.price_type_id = ${scope.cityPriceTypeId} AND os.product_id = p.id
      ${pr.rowJoins}
    ) x) AS rows`.execute(db);
  return { version: r.rows[0]!.version, rows: r.rows[0]!.rows ?? [] };
}
