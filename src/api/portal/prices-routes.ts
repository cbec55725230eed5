// Prices for the client of the request: one product (a primary-key lookup on prices) or up to
// 1,000 SKUs in one call, each line answered or reported on its own.
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../deps.ts';
import { MagistralError } from '../../errors/index.ts';
import { effectivePriceText, pricingOf } from '../../portal/pricing.ts';
import { priceAtSql, tiersOutSql } from '../../portal/price-at.ts';
import { prepared, type Queryable } from '../../portal/query.ts';
import type { PortalContext } from './context.ts';
import { CONTEXT_SQL, CONTEXT_VERSION_SQL, ContextCache, contextParams, type ContextRow, type PortalAuth } from './auth.ts';
import { cityOnlyQuerystring, errorResponses, onBehalfHeaders, security, skuBatchBody, skuSchema } from './schemas.ts';

export const MAX_BATCH = 1000;

/** `city` as everywhere, and `at`: the instant to price at (validity periods), default now. */
const priceQuerystring = {
  type: 'object', additionalProperties: false,
  properties: {
    ...cityOnlyQuerystring.properties,
    at: { type: 'string', format: 'date-time', description: 'price as it holds at this instant (ISO date-time with offset); default now' },
  },
} as const;

const priceProps = {
  sku: { type: 'string' },
  name: { type: 'string' },
  price: { type: 'string', description: 'effective price for the client (after discount), 2 decimals' },
  basePrice: { type: 'string', description: 'the price type\'s price before the discount, exact' },
  discountPercent: { type: 'string', description: 'discount applied, percent' },
  currency: { type: 'string' },
  unit: { type: ['string', 'null'] },
  priceType: { type: 'string', description: 'code of the price type used' },
  source: { type: 'string', enum: ['agreement', 'city'], description: 'where the price type came from' },
  tiers: {
    type: ['array', 'null'],
    description: 'quantity tiers (scales): from minQuantity (in the price\'s unit) on, this price applies; null when the price has none',
    items: {
      type: 'object', required: ['minQuantity', 'price', 'basePrice'],
      properties: { minQuantity: { type: 'string' }, price: { type: 'string', description: 'after discount, 2 decimals' }, basePrice: { type: 'string' } },
    },
  },
  validFrom: { type: ['string', 'null'], format: 'date-time', description: 'since when this price holds (null: always)' },
  validUntil: { type: ['string', 'null'], format: 'date-time', description: 'when this price stops holding (exclusive; null: open-ended)' },
} as const;

const priceSchema = { type: 'object', required: ['sku', 'name', 'price', 'basePrice', 'discountPercent', 'currency', 'unit', 'priceType', 'source'], properties: priceProps } as const;

const batchItem = {
  type: 'object',
  required: ['line', 'sku'],
  properties: {
    line: { type: 'integer', description: 'position in the request, from 0' },
    ...priceProps,
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string', enum: ['unknown-sku', 'no-price'] }, message: { type: 'string' } },
    },
  },
} as const;

interface PriceRow {
  line: number;
  sku: string;
  product_id: number | null;
  name: string | null;
  unit: string | null;
  base_price: string | null;
  currency: string | null;
  price: string | null;
  tiers: Array<{ minQuantity: string; price: string; basePrice: string }> | null;
  valid_from: Date | null;
  valid_until: Date | null;
  /** Read with the price in force now only (periodsHint). */
  has_periods?: boolean;
}

/** Validity columns of price row `x` and its tiers under discount `d` (SQL), for every price statement. */
const extra = (d: string) => `${tiersOutSql('x', d)} AS tiers, x.valid_from, x.valid_until`;

/**
 * For a product without a price now in price type `pt`: whether it has validity periods (one may have
 * just begun, before the price roll). Probed only for such rows, in the same statement, so a plain
 * "no price" answer costs no second round trip.
 */
const periodsHint = (pt: string) => `CASE WHEN x.value IS NULL AND p.id IS NOT NULL
    THEN EXISTS (SELECT 1 FROM price_periods q WHERE q.price_type_id = ${pt} AND q.product_id = p.id) ELSE false END AS has_periods`;

/** The stored price, exact, with at least 2 decimals: `12.5` → `12.50`, `1.234567` stays. */
const BASE = `CASE WHEN scale(trim_scale(x.value)) < 2 THEN round(x.value, 2) ELSE trim_scale(x.value) END::text`;
const PRODUCT = `SELECT id, name, unit_id FROM products WHERE code = %s AND NOT deleted AND NOT placeholder ORDER BY id LIMIT 1`;

// One product: the product by its code (index), the price by the primary key (price type, product)
// under the pricing of a context resolved earlier, and the context version in the same snapshot: the
// price answers only if that version is still the one the context was resolved under (auth.ts).
// `%t` is the partition of prices holding the price type (PricePartitions), else prices itself.
const PRICE_SQL = `
  SELECT ${CONTEXT_VERSION_SQL} AS context_version, $1::text AS sku, p.id AS product_id, p.name, coalesce(x.unit, u.code) AS unit,
    ${BASE} AS base_price, x.currency, ${effectivePriceText('x', '$3')}::text AS price, ${extra('$3')}, ${periodsHint('$2')}
  FROM (SELECT 1) one
  LEFT JOIN LATERAL (${PRODUCT.replace('%s', '$1')}) p ON true
  LEFT JOIN units u ON u.id = p.unit_id
  LEFT JOIN %t x ON x.price_type_id = $2 AND x.product_id = p.id AND x.value > 0`;

// One product at an instant ($4): validity periods looked up (src/portal/price-at.ts). Asked for with
// `at=`, or when the price in force now has just started or ended and the price roll has not yet
// caught up with it.
const PRICE_AT_SQL = `
  SELECT $1::text AS sku, p.id AS product_id, p.name, coalesce(x.unit, u.code) AS unit,
    ${BASE} AS base_price, x.currency, ${effectivePriceText('x', '$3')}::text AS price, ${extra('$3')}
  FROM (SELECT 1) one
  LEFT JOIN LATERAL (${PRODUCT.replace('%s', '$1')}) p ON true
  LEFT JOIN units u ON u.id = p.unit_id
  LEFT JOIN LATERAL ${priceAtSql('$2::int', 'p.id', '$4::timestamptz')} x ON x.value > 0`;

/** The partitions of prices by hash of the price type, with their modulus and remainder. */
const PARTITIONS_SQL = `
  SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name,
    substring(pg_get_expr(c.relpartbound, c.oid) from 'modulus (\\d+)')::int AS modulus,
    substring(pg_get_expr(c.relpartbound, c.oid) from 'remainder (\\d+)')::int AS remainder
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_partitioned_table pt ON pt.partrelid = i.inhparent AND pt.partstrat = 'h'
  WHERE i.inhparent = 'prices'::regclass`;

const PARTITION_OF_SQL = `
  SELECT name FROM (${PARTITIONS_SQL}) x
  WHERE satisfies_hash_partition('prices'::regclass, x.modulus, x.remainder, $1::int) LIMIT 1`;

/**
 * The partition of prices holding a price type. A statement naming the partition locks and opens
 * one table and one index, where one naming prices (even pruned to one partition) locks all sixteen
 * of each: a third of the one-product lookup's cost in PostgreSQL (measured 178 → 110 µs a round
 * trip). Resolved once per price type and process (partitions change only by migrations, which run
 * before the API starts); one whose partition is not found reads prices itself.
 */
class PricePartitions {
  private readonly of = new Map<number, string>();

  async table(q: Queryable, priceTypeId: number | null): Promise<string> {
    if (priceTypeId === null) return 'prices';
    let t = this.of.get(priceTypeId);
    if (t === undefined) {
      const [r] = await prepared<{ name: string }>(q, 'magistral_price_partition', PARTITION_OF_SQL, [priceTypeId]);
      t = r?.name ?? 'prices';
      this.of.set(priceTypeId, t);
    }
    return t;
  }
}

const priceStatement = (table: string) => ({ name: `magistral_price_one:${table}`, text: PRICE_SQL.replace('%t', table) });

// The same with the request's context resolved in the statement ($1–$4, product $5), for a request
// with no context yet or an outdated one: the pricing the context resolves (the agreement's price
// type else the city's, and the agreement's discount) applies to the price at once. Its columns are
// only answered once `settleContext` accepted the row.
const CONTEXT_PRICE_SQL = `
  SELECT ctx.*, $5::text AS sku, p.id AS product_id, p.name, coalesce(x.unit, u.code) AS unit,
    ${BASE} AS base_price, x.currency, ${effectivePriceText('x', 'coalesce(ctx.discount_percent, \'0\')')}::text AS price,
    ${extra('coalesce(ctx.discount_percent, \'0\')')}, ${periodsHint('coalesce(ctx.agreement_pt_id, ctx.city_pt_id)')}
  FROM (${CONTEXT_SQL}) ctx
  LEFT JOIN LATERAL (${PRODUCT.replace('%s', '$5')}) p ON true
  LEFT JOIN units u ON u.id = p.unit_id
  LEFT JOIN prices x ON x.price_type_id = coalesce(ctx.agreement_pt_id, ctx.city_pt_id) AND x.product_id = p.id AND x.value > 0`;

/**
 * Up to MAX_BATCH SKUs ($1) under price type $2 and discount $3; `price` joins the price row as `x`;
 * `more`: further columns.
 */
const batchSql = (price: string, more = '') => `
  SELECT (r.n - 1)::int AS line, r.sku, p.id AS product_id, p.name, coalesce(x.unit, u.code) AS unit,
    ${BASE} AS base_price, x.currency, ${effectivePriceText('x', '$3')}::text AS price, ${extra('$3')}${more}
  FROM unnest($1::text[]) WITH ORDINALITY AS r(sku, n)
  LEFT JOIN LATERAL (${PRODUCT.replace('%s', 'r.sku')}) p ON true
  LEFT JOIN units u ON u.id = p.unit_id
  ${price}
  ORDER BY r.n`;

const BATCH_SQL = batchSql('LEFT JOIN prices x ON x.price_type_id = $2 AND x.product_id = p.id AND x.value > 0', `, ${periodsHint('$2')}`);
/** The same at an instant ($4), validity periods looked up. */
const BATCH_AT_SQL = batchSql(`LEFT JOIN LATERAL ${priceAtSql('$2::int', 'p.id', '$4::timestamptz')} x ON x.value > 0`);

/**
 * Whether a row read from `prices` may be out of date at `now` (ms): its period ended or has not begun
 * (the roll runs every MAGISTRAL_PRICE_ROLL_MS), or there is no price though the key has periods (one may just have begun).
 */
function mayBeStale(r: PriceRow, now: number): boolean {
  if (r.product_id === null) return false;
  if (r.price === null) return r.has_periods === true;
  return (r.valid_until !== null && r.valid_until.getTime() <= now) || (r.valid_from !== null && r.valid_from.getTime() > now);
}

/** Prepares the one-product statement on a connection of the hot pool (see index.ts), with arguments that match nothing. */
export async function warmPriceStatement(q: Queryable): Promise<void> {
  const parts = await prepared<{ name: string }>(q, 'magistral_price_partitions', PARTITIONS_SQL, []);
  for (const table of ['prices', ...parts.map((p) => p.name)]) {
    const st = priceStatement(table);
    await prepared(q, st.name, st.text, ['', null, '0']);
  }
  await prepared(q, 'magistral_price_ctx', CONTEXT_PRICE_SQL, ['', null, null, null, '']);
}

/**
 * Prices of the given SKUs (in order) under the request's pricing, now or at `at`; one prepared statement
 * whatever the count (a second one, with validity looked up, only when a line may be stale).
 */
async function priceLines(deps: ServerDeps, ctx: PortalContext, skus: string[], at: Date | undefined): Promise<PriceRow[]> {
  const { priceTypeId, discountPercent } = ctx.pricing;
  if (at === undefined) {
    const rows = await prepared<PriceRow>(deps, 'magistral_price_batch', BATCH_SQL, [skus, priceTypeId, discountPercent]);
    const now = Date.now();
    if (!rows.some((r) => mayBeStale(r, now))) return rows;
    at = new Date(now);
  }
  return prepared<PriceRow>(deps, 'magistral_price_batch_at', BATCH_AT_SQL, [skus, priceTypeId, discountPercent, at]);
}

function present(ctx: PortalContext, r: PriceRow) {
  return {
    sku: r.sku, name: r.name as string, price: r.price as string, basePrice: r.base_price as string, discountPercent: ctx.pricing.discountPercent,
    currency: r.currency as string, unit: r.unit, priceType: ctx.pricing.priceTypeCode as string, source: ctx.pricing.source,
    tiers: r.tiers, validFrom: r.valid_from?.toISOString() ?? null, validUntil: r.valid_until?.toISOString() ?? null,
  };
}

const problemOf = (r: PriceRow) => (r.product_id === null
  ? { code: 'unknown-sku' as const, message: `no product with SKU '${r.sku}'` }
  : { code: 'no-price' as const, message: `SKU '${r.sku}' has no price for you: it is not on sale` });

/**
 * `hot`: where the one-product lookup runs (a pool with generic plans, see index.ts); `auth` checks
 * the context that lookup resolves.
 */
export async function pricesRoutes(app: FastifyInstance, deps: ServerDeps, auth: Pick<PortalAuth, 'settleContext'>, hot: Queryable = deps): Promise<void> {
  const contexts = new ContextCache();
  const partitions = new PricePartitions();
  app.get<{ Params: { sku: string }; Querystring: { city?: string; at?: string } }>('/prices/:sku', {
    config: { scope: 'prices:read', inlineContext: true },
    schema: {
      tags: ['prices'],
      summary: 'Effective price of one product for the client of the request',
      description: 'The client agreement\'s price type and discount where there is one, else the city\'s price type.',
      security,
      headers: onBehalfHeaders,
      params: { type: 'object', required: ['sku'], properties: { sku: skuSchema } },
      querystring: priceQuerystring,
      response: { 200: priceSchema, ...errorResponses },
    },
  }, async (request, reply) => {
    // One round trip: the price under the context resolved for the same key, client and city before
    // if it still holds, else the context and the price together.
    const ask = request.portalAsk!;
    const { sku } = request.params;
    let context = contexts.get(ask);
    let row: (PriceRow & { context_version: string }) | undefined;
    if (context) {
      const { priceTypeId, discountPercent } = pricingOf(context);
      const st = priceStatement(await partitions.table(hot, priceTypeId));
      [row] = await prepared<PriceRow & { context_version: string }>(hot, st.name, st.text, [sku, priceTypeId, discountPercent]);
      if (!row || row.context_version !== context.context_version) context = undefined;
    }
    if (!context) {
      const [both] = await prepared<PriceRow & ContextRow>(hot, 'magistral_price_ctx', CONTEXT_PRICE_SQL, [...contextParams(ask), sku]);
      if (both) contexts.set(ask, both);
      context = both;
      row = both;
    }
    auth.settleContext(request, reply, context);
    const at = request.query.at === undefined ? undefined : new Date(request.query.at);
    if (row && (at !== undefined || mayBeStale(row, Date.now()))) {
      const { priceTypeId, discountPercent } = request.portal.pricing;
      [row] = await prepared<PriceRow & { context_version: string }>(hot, 'magistral_price_at', PRICE_AT_SQL, [sku, priceTypeId, discountPercent, at ?? new Date()]);
    }
    if (!row || row.price === null) throw new MagistralError('MAG_ERR_NOT_FOUND', row ? problemOf(row).message : `no product with SKU '${request.params.sku}'`);
    return present(request.portal, row);
  });

  app.post<{ Body: { skus: string[] }; Querystring: { city?: string; at?: string } }>('/prices/batch', {
    config: { scope: 'prices:read' },
    schema: {
      tags: ['prices'],
      summary: `Effective prices of up to ${MAX_BATCH} products in one call`,
      description: 'Answers every line in request order: a price, or an error (unknown SKU, no price) for that line alone.',
      security,
      headers: onBehalfHeaders,
      querystring: priceQuerystring,
      body: skuBatchBody(MAX_BATCH),
      response: {
        200: {
          type: 'object', required: ['items', 'found', 'missing'],
          properties: { items: { type: 'array', items: batchItem }, found: { type: 'integer' }, missing: { type: 'integer' } },
        },
        ...errorResponses,
      },
    },
  }, async (request) => {
    const ctx = request.portal;
    const rows = await priceLines(deps, ctx, request.body.skus, request.query.at === undefined ? undefined : new Date(request.query.at));
    let found = 0;
    const items = rows.map((r) => {
      if (r.price === null) return { line: r.line, sku: r.sku, error: problemOf(r) };
      found++;
      return { line: r.line, ...present(ctx, r) };
    });
    return { items, found, missing: items.length - found };
  });
}
