// The catalog's SQL: the group tree with per-city counts, and one statement per product page that
// builds the filtered set once (a MATERIALIZED CTE with one flag per filter) and answers the page,
// the total and every facet from it. Facets follow "exclude own facet": the count next to a value of
// property P applies every filter but P's own, which is what the list would show if it were chosen.
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../../db/index.ts';
import { effectivePriceSql, type Pricing } from '../../portal/pricing.ts';

type Db = Kysely<Database>;

/** What "on sale" and prices are decided by for one request. */
export interface CatalogScope {
  /** The city's own price type: a product is on sale when it has a price above zero there. */
  cityPriceTypeId: number | null;
  cityId: number | null;
  pricing: Pick<Pricing, 'priceTypeId' | 'discountPercent'>;
}

export type SortKey = 'price' | 'name' | 'popularity' | 'promotion';
export interface Sort {
  key: SortKey;
  desc: boolean;
}

export interface PropertyFilter {
  property: string;
  values: string[];
}

export interface ProductQuery {
  group?: string;
  props: PropertyFilter[];
  priceMin?: string;
  priceMax?: string;
  inStock?: boolean;
  sort: Sort;
  limit: number;
  /** Position after which the page starts: the sort key (as text) and the id of the last row seen. */
  after?: { key: string; id: number };
  facets: boolean;
  /** Values shown per property facet (the selected ones always are). */
  facetLimit: number;
}

/** The columns every product listing selects (catalog pages, search results). */
export interface ProductCardRow {
  sku: string;
  name: string;
  article: string | null;
  barcode: string | null;
  unit: string | null;
  image_url: string | null;
  group_code: string | null;
  group_name: string | null;
  price: string | null;
  currency: string | null;
}

export interface ProductRow extends ProductCardRow {
  id: number;
  stock: string;
  popularity: number;
  /** The promotion label (migration 0022), NULL when none. */
  promotion: string | null;
  sort_key: string;
}

export interface FacetValueRow {
  property: string;
  name: string;
  type: string;
  value: string;
  label: string;
  count: number;
}

export interface ProductPage {
  rows: ProductRow[];
  total: number;
  /** Property facets, one row per (property, value); absent when facets were not asked for. */
  facets?: FacetValueRow[];
  price?: { min: string | null; max: string | null };
  inStock?: number;
  /** Filters that named something the store does not know (a group or property code). */
  unknown: string[];
}

/**
 * Runs catalog and search reads in a read-only transaction tuned for them: they read tens of
 * thousands of rows once, where JIT compilation costs several times the query itself (measured:
 * 450 ms → 1.3 s on a whole-catalog page), parallel workers only compete with the other requests
 * for two cores, and sorts and hashes should stay in memory.
 */
export async function tunedRead<T>(db: Db, fn: (tx: Db) => Promise<T>, opts: { oneSnapshot?: boolean } = {}): Promise<T> {
  // oneSnapshot: every statement sees the same snapshot (repeatable read), for a result kept under
  // the change version one of them reads.
  const tx = opts.oneSnapshot ? db.transaction().setIsolationLevel('repeatable read') : db.transaction();
  return tx.setAccessMode('read only').execute(async (tx) => {
    await sql`SELECT set_config('jit', 'off', true), set_config('work_mem', '32MB', true), set_config('max_parallel_workers_per_gather', '0', true)`.execute(tx);
    return fn(tx);
  });
}

const PRICE_FLAG = -1;
const STOCK_FLAG = -2;

/**
 * What the request names, resolved in one round trip: the group's subtree, each property filter's
 * facet keys (see products.facets) and the city's warehouses.
 */
async function resolveNames(db: Db, scope: CatalogScope, q: ProductQuery) {
  const codes = q.props.map((p) => p.property);
  const values = [...new Set(q.props.flatMap((p) => p.values))];
  const r = await sql<{ group_ids: number[] | null; props: Array<{ code: string; id: number }> | null; keys: Array<{ code: string; value: string; key: string }> | null; warehouses: number[] | null }>`
    WITH RECURSIVE root AS (
      SELECT id FROM groups WHERE code = ${q.group ?? null}::text AND NOT deleted ORDER BY placeholder, id LIMIT 1
    ), sub(id, path) AS (
      SELECT id, ARRAY[id] FROM root
      UNION ALL
      SELECT g.id, s.path || g.id FROM groups g JOIN sub s ON g.parent_id = s.id WHERE NOT g.deleted AND NOT g.id = ANY(s.path)
    ), props AS (
      SELECT DISTINCT ON (code) code, id FROM properties WHERE code = ANY(${codes}::text[]) ORDER BY code, placeholder, id
    )
    SELECT
      (SELECT array_agg(id) FROM sub) AS group_ids,
      (SELECT json_agg(json_build_object('code', code, 'id', id)) FROM props) AS props,
      (SELECT json_agg(json_build_object('code', p.code, 'value', fk.value, 'key', fk.key::text))
         FROM props p JOIN facet_keys fk ON fk.property_id = p.id AND fk.value = ANY(${values}::text[])) AS keys,
      (SELECT array_agg(id ORDER BY id) FROM warehouses WHERE city_id = ${scope.cityId}) AS warehouses`.execute(db);
  const row = r.rows[0]!;
  const keys = new Map<string, string>();
  for (const k of row.keys ?? []) keys.set(`${k.code}\u0000${k.value}`, k.key);
  return {
    groupIds: row.group_ids === null ? null : row.group_ids.map(Number),
    propIds: new Map((row.props ?? []).map((p) => [p.code, Number(p.id)])),
    /** Facet keys of a filter's values (a value no product has gets none: it matches nothing). */
    keysOf: (f: PropertyFilter) => f.values.flatMap((v) => keys.get(`${f.property}\u0000${v}`) ?? []),
    warehouses: (row.warehouses ?? []).map(Number),
  };
}

/** The sort key of a base row as an SQL expression: NULL prices sort last in both directions. */
function sortKeySql(sort: Sort): RawBuilder<unknown> {
  switch (sort.key) {
    case 'price':
      return sort.desc ? sql`coalesce(b.price, '-Infinity'::numeric)` : sql`coalesce(b.price, 'Infinity'::numeric)`;
    case 'name':
      return sql`b.name COLLATE "ru-x-icu"`;
    case 'popularity':
      return sql`b.popularity`;
    case 'promotion':
      // Promoted first, then by popularity, as one bigint so the keyset cursor stays one value:
      // popularity has at most 15 digits (canonical product schema), below 10^15.
      return sql`(b.promoted::int * ${PROMOTED_RANK}::bigint + b.popularity)`;
  }
}

const PROMOTED_RANK = '1000000000000000';

function cursorValueSql(sort: Sort, key: string): RawBuilder<unknown> {
  switch (sort.key) {
    case 'price':
      return sql`${key}::numeric`;
    case 'name':
      return sql`${key}::text COLLATE "ru-x-icu"`;
    case 'popularity':
    case 'promotion':
      return sql`${key}::bigint`;
  }
}

/**
 * One page of products on sale in the scope's city, with the total and (optionally) the facets.
 * Every filter is a boolean column of the base; `nfail` counts the filters a row fails and `failp`
 * names the one when it fails exactly one. Unnesting the base rows' facet keys then counts every
 * facet in one pass: rows failing nothing count for every property, rows failing only P count for P.
 */
export async function productPage(db: Db, scope: CatalogScope, q: ProductQuery): Promise<ProductPage> {
  const names = await resolveNames(db, scope, q);
  const unknown: string[] = [];
  if (q.group !== undefined && names.groupIds === null) unknown.push(`group '${q.group}'`);
  for (const p of q.props) if (!names.propIds.has(p.property)) unknown.push(`property '${p.property}'`);
  if (scope.cityPriceTypeId === null || unknown.length) {
    // Nothing is on sale without a city price type; an unknown group or property matches nothing.
    return { rows: [], total: 0, unknown, ...(q.facets ? { facets: [], price: { min: null, max: null }, inStock: 0 } : {}) };
  }

  // Rows come from the city's catalog offers (src/portal/offers.ts): on sale there, with the city
  // price and in-stock flag precomputed.
  const sameType = scope.pricing.priceTypeId === scope.cityPriceTypeId;
  const hasPriceFilter = q.priceMin !== undefined || q.priceMax !== undefined;
  const useCombos = !hasPriceFilter;

  // One flag per filter other than price, over the columns of `flagged` (each value computed once per
  // row): property filters by overlap with the product's facet keys, then stock.
  const flags: Array<{ expr: RawBuilder<unknown>; id: number }> = q.props.map((f) => ({
    expr: sql`all_facets && ${names.keysOf(f)}::bigint[]`, id: names.propIds.get(f.property)!,
  }));
  if (q.inStock === true) flags.push({ expr: sql`in_stock`, id: STOCK_FLAG });
  const flagCols = flags.map((f, i) => sql`${f.expr} AS ${sql.raw(`f${i}`)}`);
  const nfail = flags.length ? sql.join(flags.map((_, i) => sql`(NOT ${sql.raw(`f${i}`)})::int`), sql` + `) : sql`0`;
  const failp = flags.length
    ? sql`CASE ${sql.join(flags.map((f, i) => sql`WHEN NOT ${sql.raw(`f${i}`)} THEN ${sql.lit(f.id)}`), sql` `)} END`
    : sql`NULL::bigint`;

  // The price of a row `x` (its offer's city price in `x.value`): the offer's for the city's own price
  // type, else the client's price type read from prices.
  const priceOf = sameType ? effectivePriceSql('x', scope.pricing)
    : sql`(SELECT ${effectivePriceSql('cp', scope.pricing)} FROM prices cp
        WHERE cp.price_type_id = ${scope.pricing.priceTypeId} AND cp.product_id = x.id AND cp.value > 0)`;
  // With a price filter (rowsBase) every offer of the group is checked, and a client's price is read
  // only for rows whose price can decide: a row failing two other filters counts nowhere.
  const price = sameType ? priceOf : sql`CASE WHEN x.nfail_np <= 1 THEN ${priceOf} END`;
  const lo = q.priceMin !== undefined ? sql`price >= ${q.priceMin}::numeric` : sql`true`;
  const hi = q.priceMax !== undefined ? sql`price <= ${q.priceMax}::numeric` : sql`true`;
  const priceFails = sql`NOT coalesce(${lo} AND ${hi}, false)`;
  const groupWhere = names.groupIds !== null ? sql`AND o.group_id = ANY(${names.groupIds}::bigint[])` : sql``;
  // A row counts for the list or a facet only when it fails at most one filter. With two or more
  // property filters it then matches at least one of any two: narrow the base to the two with the
  // fewest values (through the GIN index on facets) — exact, and often a fraction of the catalog.
  const narrowBy = [...q.props].sort((a, b) => a.values.length - b.values.length).slice(0, 2);
  const narrow = q.props.length >= 2 ? sql`AND o.facets && ${narrowBy.flatMap((f) => names.keysOf(f))}::bigint[]` : sql``;
  const key = sortKeySql(q.sort);
  const dir = q.sort.desc ? sql`DESC` : sql`ASC`;
  const after = q.after
    ? (q.sort.desc ? sql`AND (${key}, b.id) < (${cursorValueSql(q.sort, q.after.key)}, ${q.after.id}::bigint)`
      : sql`AND (${key}, b.id) > (${cursorValueSql(q.sort, q.after.key)}, ${q.after.id}::bigint)`)
    : sql``;

  const facetSql = q.facets
    ? sql`,
      (SELECT json_agg(f) FROM (
        SELECT pr.code AS property, pr.name, pr.value_type AS type, fk.value, coalesce(pv.value, fk.value) AS label, c.n AS count
        FROM (
          -- Rows failing two filters count nowhere: skipped before their keys are unnested.
          SELECT k, ${useCombos ? sql`sum(u.n)` : sql`count(*)`}::int AS n
          FROM (SELECT unnest(b.facets) AS k, b.nfail, b.failp${useCombos ? sql`, b.n` : sql``} FROM ${useCombos ? sql`cb` : sql`base`} b WHERE b.nfail <= 1) u
          WHERE u.nfail = 0 OR (u.k >> 32) = u.failp
          GROUP BY k
        ) c
        JOIN facet_keys fk ON fk.key = c.k
        JOIN properties pr ON pr.id = fk.property_id
        LEFT JOIN property_values pv ON pv.property_id = fk.property_id AND pv.code = fk.value
      ) f) AS facets,
      (SELECT json_build_object('min', pmin::text, 'max', pmax::text) FROM sums) AS price_range,
      (SELECT in_stock FROM sums) AS in_stock`
    : sql``;
  // The total, the price range and the in-stock count in one pass over the base; with combos, the
  // counts over the combos and the price range over the matching rows.
  const sums = useCombos
    ? sql`sums AS (
      SELECT c.total, c.in_stock, m.pmin, m.pmax FROM
        (SELECT coalesce(sum(n) FILTER (WHERE nfail = 0), 0)::int AS total,
           coalesce(sum(n) FILTER (WHERE in_stock AND (nfail = 0 OR (nfail = 1 AND failp = ${STOCK_FLAG}))), 0)::int AS in_stock
         FROM cb WHERE nfail <= 1) c,
        ${q.facets ? sql`(SELECT min(price) AS pmin, max(price) AS pmax FROM base) m` : sql`(SELECT NULL::numeric AS pmin, NULL::numeric AS pmax) m`}
    )`
    : sql`sums AS (
      SELECT count(*) FILTER (WHERE nfail = 0)::int AS total,
        ${q.facets ? sql`min(price) FILTER (WHERE nfail = 0 OR (nfail = 1 AND failp = ${PRICE_FLAG})) AS pmin,
        max(price) FILTER (WHERE nfail = 0 OR (nfail = 1 AND failp = ${PRICE_FLAG})) AS pmax,
        count(*) FILTER (WHERE in_stock AND (nfail = 0 OR (nfail = 1 AND failp = ${STOCK_FLAG})))::int AS in_stock` : sql`NULL AS pmin`}
      FROM base WHERE nfail <= 1
    )`;

  // Without a price filter, counts come from the city's combos (offers alike collapsed, weighted by
  // n) and the page from the offers matching every filter (the GIN index on facets finds them); a
  // price filter needs every row's price, so then each offer of the group is checked.
  // Within a group the group's rows are read and checked: a facet key's index entries span every
  // city (a brand: tens of thousands), costlier than the group's rows. `IS TRUE` keeps the planner
  // off that index; without a group it is the way in.
  const matchAll = [
    ...q.props.map((f) => (names.groupIds !== null ? sql`AND (o.facets && ${names.keysOf(f)}::bigint[]) IS TRUE` : sql`AND o.facets && ${names.keysOf(f)}::bigint[]`)),
    ...(q.inStock === true ? [sql`AND o.in_stock`] : []),
  ];
  const combosBase = sql`cb AS MATERIALIZED (
      SELECT n, facets, in_stock, ${nfail} AS nfail, ${failp} AS failp
      FROM (
        SELECT n, ${q.facets ? sql`all_facets` : sql`NULL::bigint[]`} AS facets, in_stock
          ${flagCols.length ? sql`, ${sql.join(flagCols, sql`, `)}` : sql``}
        FROM (SELECT o.n, o.facets AS all_facets, o.in_stock FROM catalog_combos o
              WHERE o.city_id = ${scope.cityId} ${groupWhere} ${narrow}) z
        OFFSET 0
      ) y
    ),
    base AS MATERIALIZED (
      SELECT x.id, x.name, x.popularity, x.promoted, ${sameType ? priceOf : effectivePriceSql('cp', scope.pricing)} AS price,
        0 AS nfail
      FROM (
        SELECT o.product_id AS id, ${q.sort.key === 'name' ? sql`o.name` : sql`NULL::text`} AS name, o.popularity, o.promoted, o.price AS value
        FROM catalog_offers o
        WHERE o.city_id = ${scope.cityId} ${groupWhere} ${sql.join(matchAll, sql` `)}
      ) x
      -- A client priced by another price type: its prices of the group's offers in one join (a hash
      -- join over the price type's partition) rather than a probe per offer — measured on the
      -- bench:api store (6,250 offers of a section): 29 ms of probes, 20 ms joined (the partition scan included).
      ${sameType ? sql`` : sql`LEFT JOIN prices cp ON cp.price_type_id = ${scope.pricing.priceTypeId} AND cp.product_id = x.id AND cp.value > 0`}
    ),`;
  const rowsBase = sql`flagged AS (
      SELECT o.product_id AS id, ${q.sort.key === 'name' ? sql`o.name` : sql`NULL::text`} AS name, o.popularity, o.promoted,
        o.price AS value, o.facets AS all_facets, o.in_stock
      FROM catalog_offers o
      WHERE o.city_id = ${scope.cityId} ${groupWhere} ${narrow}
    ),
    checked AS (
      SELECT id, name, popularity, promoted, value, facets, in_stock, ${nfail} AS nfail_np, ${failp} AS failp_np
      FROM (
        SELECT id, name, popularity, promoted, value, ${q.facets ? sql`all_facets` : sql`NULL::bigint[]`} AS facets, in_stock
          ${flagCols.length ? sql`, ${sql.join(flagCols, sql`, `)}` : sql``}
        FROM flagged
        OFFSET 0 -- computed once per row: the sums below read these columns, not their expressions
      ) y
    ),
    priced AS (
      SELECT x.*, ${price} AS price FROM checked x
      OFFSET 0
    ),
    base AS MATERIALIZED (
      SELECT id, name, popularity, promoted, price, facets, in_stock,
        nfail_np + (${priceFails})::int AS nfail,
        CASE WHEN nfail_np = 0 THEN CASE WHEN ${priceFails} THEN ${sql.lit(PRICE_FLAG)} END ELSE failp_np END AS failp
      FROM priced
      -- A row failing two filters counts nowhere (not listed, in no facet): it is not kept.
      WHERE nfail_np + (${priceFails})::int <= 1
    ),`;

  const r = await sql<{ total: number; items: ProductRow[] | null; facets?: FacetValueRow[] | null; price_range?: { min: string | null; max: string | null }; in_stock?: number }>`
    WITH ${useCombos ? combosBase : rowsBase}
    page AS (
      SELECT b.id, b.price, (${key})::text AS sort_key, row_number() OVER (ORDER BY ${key} ${dir}, b.id ${dir}) AS ord FROM base b
      WHERE b.nfail = 0 ${after}
      ORDER BY ${key} ${dir}, b.id ${dir}
      LIMIT ${q.limit + 1}
    ),
    ${sums}
    SELECT
      (SELECT total FROM sums) AS total,
      (SELECT json_agg(x ORDER BY x.ord) FROM (
        SELECT pg.ord, p.id, p.code AS sku, p.name, p.article, p.barcode, coalesce(px.unit, u.code) AS unit,
          p.image_url, g.code AS group_code, g.name AS group_name, pg.price::text AS price, px.currency,
          trim_scale(coalesce((SELECT sum(s.quantity) FROM stock s WHERE s.product_id = p.id AND s.warehouse_id = ANY(${names.warehouses}::int[])), 0))::text AS stock,
          coalesce(p.popularity, 0) AS popularity, p.promotion, pg.sort_key
        FROM page pg JOIN products p ON p.id = pg.id
        LEFT JOIN prices px ON px.price_type_id = ${sameType ? scope.cityPriceTypeId : scope.pricing.priceTypeId} AND px.product_id = p.id
        LEFT JOIN units u ON u.id = p.unit_id
        LEFT JOIN groups g ON g.id = p.group_id
      ) x) AS items
      ${facetSql}`.execute(db);
  const row = r.rows[0]!;
  // The page's order travels as its ordinal: the joins above may reorder rows.
  const rows = (row.items ?? []).map((x) => ({ ...x, id: Number(x.id) }));
  const page: ProductPage = { rows, total: row.total, unknown };
  if (q.facets) {
    page.facets = row.facets ?? [];
    page.price = row.price_range ?? { min: null, max: null };
    page.inStock = row.in_stock ?? 0;
  }
  return page;
}

export interface GroupRow {
  code: string;
  name: string;
  parent: string | null;
  level: number;
  count: number;
}

/**
 * The group tree with the number of products on sale in the city in each group and its subgroups,
 * depth-first by name. A group with nothing on sale is left out (and so are its empty subgroups).
 */
export async function groupTree(db: Db, scope: CatalogScope, root?: string): Promise<GroupRow[] | null> {
  if (scope.cityPriceTypeId === null) return [];
  let rootId: number | null = null;
  if (root !== undefined) {
    const g = await sql<{ id: number }>`SELECT id FROM groups WHERE code = ${root} AND NOT deleted ORDER BY placeholder, id LIMIT 1`.execute(db);
    if (!g.rows[0]) return null;
    rootId = Number(g.rows[0].id);
  }
  const start = rootId !== null ? sql`id = ${rootId}` : sql`parent_id IS NULL`;
  const r = await sql<GroupRow & { sort: string[] }>`
    WITH RECURSIVE tree AS (
      SELECT id, parent_id, code, name, 0 AS level, ARRAY[id] AS path, ARRAY[name COLLATE "ru-x-icu"] AS sort
      FROM groups WHERE ${start} AND NOT deleted
      UNION ALL
      SELECT g.id, g.parent_id, g.code, g.name, t.level + 1, t.path || g.id, t.sort || (g.name COLLATE "ru-x-icu")
      FROM groups g JOIN tree t ON g.parent_id = t.id
      WHERE NOT g.deleted AND NOT g.id = ANY(t.path)
    ),
    direct AS (
      SELECT group_id, count(*)::int AS n FROM catalog_offers
      WHERE city_id = ${scope.cityId} AND group_id IS NOT NULL
      GROUP BY group_id
    ),
    counted AS (
      SELECT a.id, sum(d.n)::int AS count
      FROM tree t JOIN direct d ON d.group_id = t.id, unnest(t.path) AS a(id)
      GROUP BY a.id
    )
    SELECT t.code, t.name, (SELECT pg.code FROM groups pg WHERE pg.id = t.parent_id) AS parent, t.level, c.count
    FROM tree t JOIN counted c ON c.id = t.id
    ORDER BY t.sort, t.id`.execute(db);
  return r.rows.map((x) => ({ code: x.code, name: x.name, parent: x.parent, level: x.level, count: x.count }));
}
