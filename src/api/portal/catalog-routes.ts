// The catalog of /api/v1 for the request's city and client: the group tree with counts of products
// on sale, and product pages (table-view data) with filters, facets, sorting and cursor pagination.
// The SQL lives in catalog-query.ts; this module parses requests and shapes answers.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { MagistralError } from '../../errors/index.ts';
import type { ApiDeps, PortalContext } from './context.ts';
import { ensureOffers } from '../../portal/offers.ts';
import { groupTree, productPage, tunedRead, type CatalogScope, type ProductQuery, type PropertyFilter, type Sort, type SortKey } from './catalog-query.ts';
import { cityQuery, decimalString, errorResponses, onBehalfHeaders, productCardProperties, productCardRequired, security } from './schemas.ts';

export const MAX_PAGE = 100;
const MAX_FILTER_VALUES = 100;
const SORTS = ['popularity', '-popularity', 'price', '-price', 'name', '-name', 'promotion', '-promotion'] as const;

const propFilterItem = {
  type: 'string', minLength: 3, maxLength: 1200, pattern: '^[^:]+:.+$',
  description: '`property:value` (the value\'s code for a reference property); repeat the parameter: values of one property are ORed, properties ANDed',
} as const;

export const catalogScope = (ctx: PortalContext): CatalogScope => ({
  cityPriceTypeId: ctx.cityPriceTypeId, cityId: ctx.cityId, pricing: ctx.pricing,
});

export const pricingSchema = {
  type: 'object',
  required: ['priceType', 'source', 'discountPercent', 'currency'],
  description: 'how the prices of this answer were resolved for the client',
  properties: {
    priceType: { type: ['string', 'null'] },
    source: { type: 'string', enum: ['agreement', 'city'] },
    discountPercent: { type: 'string' },
    currency: { type: ['string', 'null'] },
  },
} as const;

export const pricingOf = (ctx: PortalContext) => ({
  priceType: ctx.pricing.priceTypeCode, source: ctx.pricing.source, discountPercent: ctx.pricing.discountPercent, currency: ctx.pricing.currency,
});

const productItem = {
  type: 'object',
  required: [...productCardRequired, 'stock', 'inStock', 'popularity'],
  properties: {
    ...productCardProperties,
    stock: { type: 'string', description: 'total quantity in the warehouses of the request\'s city' },
    inStock: { type: 'boolean' },
    popularity: { type: 'integer' },
    promotion: { type: ['string', 'null'], description: 'promotion label, null when the product is not on promotion' },
  },
} as const;

const facetsSchema = {
  type: 'object',
  required: ['properties', 'price', 'inStock'],
  description: 'counts next to each value: what the list would hold if that value were chosen (the property\'s own filter left out)',
  properties: {
    properties: {
      type: 'array',
      items: {
        type: 'object',
        required: ['code', 'name', 'type', 'values'],
        properties: {
          code: { type: 'string' },
          name: { type: 'string' },
          type: { type: 'string', enum: ['string', 'number', 'boolean', 'reference'] },
          values: {
            type: 'array',
            items: {
              type: 'object', required: ['value', 'label', 'count', 'selected'],
              properties: { value: { type: 'string' }, label: { type: 'string' }, count: { type: 'integer' }, selected: { type: 'boolean' } },
            },
          },
        },
      },
    },
    price: {
      type: 'object', required: ['min', 'max'], description: 'range of effective prices with every filter but the price range',
      properties: { min: { type: ['string', 'null'] }, max: { type: ['string', 'null'] } },
    },
    inStock: { type: 'integer', description: 'products in stock in the city with every filter but in-stock' },
  },
} as const;

interface ProductsQuerystring {
  city?: string;
  group?: string;
  prop?: string | string[];
  /** `prop.<property code>=<value>`, repeatable: the same filters in another spelling. */
  [propDot: `prop.${string}`]: string | string[] | undefined;
  priceMin?: string;
  priceMax?: string;
  inStock?: boolean;
  sort?: (typeof SORTS)[number];
  limit?: number;
  cursor?: string;
  facets?: boolean;
  facetLimit?: number;
}

/**
 * `prop=brand:legrand` and `prop.brand=legrand` (each repeatable) → one filter per property, values in
 * the order given (duplicates dropped).
 */
export function parsePropFilters(qs: Record<string, unknown>): PropertyFilter[] {
  const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);
  const items = list(qs.prop);
  for (const [k, v] of Object.entries(qs)) if (k.startsWith('prop.')) for (const x of list(v)) items.push(`${k.slice(5)}:${x}`);
  const byProp = new Map<string, string[]>();
  items.forEach((item, i) => {
    const at = item.indexOf(':');
    const property = item.slice(0, at).trim();
    const value = item.slice(at + 1).trim();
    if (!property || !value) {
      throw new MagistralError('MAG_ERR_BAD_REQUEST', `prop '${item}' is not property:value`, [{ path: `/querystring/prop/${i}`, message: 'must be property:value', rule: 'pattern' }]);
    }
    const values = byProp.get(property) ?? [];
    if (!values.includes(value)) values.push(value);
    if (values.length > MAX_FILTER_VALUES) {
      throw new MagistralError('MAG_ERR_BAD_REQUEST', `too many values for property '${property}'`, [{ path: `/querystring/prop/${i}`, message: `at most ${MAX_FILTER_VALUES} values per property`, rule: 'maxItems' }]);
    }
    byProp.set(property, values);
  });
  return [...byProp].map(([property, values]) => ({ property, values }));
}

export function parseSort(s: string | undefined): Sort {
  const v = s ?? '-popularity';
  return { key: v.replace(/^-/, '') as SortKey, desc: v.startsWith('-') };
}

/** Cursors carry the sort they were made for, the last row's sort key and id: keyset pagination. */
export function encodeCursor(sort: Sort, key: string, id: number): string {
  return Buffer.from(JSON.stringify({ s: `${sort.desc ? '-' : ''}${sort.key}`, k: key, i: id })).toString('base64url');
}

export function decodeCursor(cursor: string, sort: Sort): { key: string; id: number } {
  const bad = (message: string) => new MagistralError('MAG_ERR_BAD_REQUEST', `cursor: ${message}`, [{ path: '/querystring/cursor', message, rule: 'cursor' }]);
  let v: { s?: unknown; k?: unknown; i?: unknown };
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as typeof v;
  } catch {
    throw bad('is not a cursor this API issued');
  }
  if (typeof v !== 'object' || v === null || typeof v.k !== 'string' || typeof v.i !== 'number' || !Number.isSafeInteger(v.i)) throw bad('is not a cursor this API issued');
  const s = `${sort.desc ? '-' : ''}${sort.key}`;
  if (v.s !== s) throw bad(`was issued for sort '${String(v.s)}', not '${s}'`);
  // The key is compared as numeric (price, popularity): refuse anything else rather than fail in SQL.
  if (sort.key !== 'name' && !/^(-?[0-9]+(\.[0-9]+)?|-?Infinity)$/.test(v.k)) throw bad('is not a cursor this API issued');
  return { key: v.k, id: v.i };
}

export const catalogRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, opts) => {
  const { deps } = opts;

  app.get<{ Querystring: { city?: string; root?: string } }>('/catalog/groups', {
    schema: {
      tags: ['catalog'],
      summary: 'Catalog groups with the number of products on sale in the city',
      description: 'Depth-first by name, each with its parent and level; counts include subgroups. A group with nothing on sale in the city is left out.',
      security,
      headers: onBehalfHeaders,
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { city: cityQuery, root: { type: 'string', minLength: 1, maxLength: 150, description: 'code of a group: only its subtree' } },
      },
      response: {
        200: {
          type: 'object', required: ['items'],
          properties: {
            items: {
              type: 'array',
              items: {
                type: 'object', required: ['code', 'name', 'parent', 'level', 'count'],
                properties: { code: { type: 'string' }, name: { type: 'string' }, parent: { type: ['string', 'null'] }, level: { type: 'integer' }, count: { type: 'integer' } },
              },
            },
          },
        },
        ...errorResponses,
      },
    },
  }, async (request) => {
    await ensureOffers(deps.db, request.portal.cityId);
    const items = await tunedRead(deps.db, (tx) => groupTree(tx, catalogScope(request.portal), request.query.root));
    if (items === null) throw new MagistralError('MAG_ERR_NOT_FOUND', `no group '${request.query.root}'`);
    return { items };
  });

  app.get<{ Querystring: ProductsQuerystring }>('/catalog/products', {
    schema: {
      tags: ['catalog'],
      summary: 'A page of products on sale in the city, with the client\'s prices, filters and facets',
      description: 'Filters: group (with subgroups), property values (`prop=brand:legrand&prop=brand:abb&prop=color:white`: '
        + 'values of one property ORed, properties ANDed), effective price range, in stock in the city. Sorting by price, name, popularity or promotion (promoted first, then popularity) '
        + '(`-` for descending). Pages follow `nextCursor`. Facets count, next to each value, what the list would hold if that value were chosen.',
      security,
      headers: onBehalfHeaders,
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          city: cityQuery,
          group: { type: 'string', minLength: 1, maxLength: 150, description: 'group code; its subgroups are included' },
          prop: { anyOf: [propFilterItem, { type: 'array', maxItems: 200, items: propFilterItem }] },
          priceMin: decimalString,
          priceMax: decimalString,
          inStock: { type: 'boolean', description: 'only products in stock in the city' },
          sort: { type: 'string', enum: [...SORTS], default: '-popularity' },
          limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 24 },
          cursor: { type: 'string', minLength: 1, maxLength: 2000, description: '`nextCursor` of the previous page' },
          facets: { type: 'boolean', default: true, description: 'compute facets (false for the following pages)' },
          facetLimit: { type: 'integer', minimum: 1, maximum: 1000, default: 50, description: 'values per property facet, most frequent first (chosen values always shown)' },
        },
        patternProperties: {
          '^prop\\.[^:]+$': {
            description: '`prop.<property>=<value>`: the same filter as `prop=<property>:<value>`',
            anyOf: [{ type: 'string', minLength: 1, maxLength: 1000 }, { type: 'array', maxItems: 200, items: { type: 'string', minLength: 1, maxLength: 1000 } }],
          },
        },
      },
      response: {
        200: {
          type: 'object', required: ['items', 'total', 'nextCursor', 'pricing'],
          properties: {
            items: { type: 'array', items: productItem },
            total: { type: 'integer', description: 'products matching every filter' },
            nextCursor: { type: ['string', 'null'] },
            pricing: pricingSchema,
            facets: facetsSchema,
          },
        },
        ...errorResponses,
      },
    },
  }, async (request: FastifyRequest<{ Querystring: ProductsQuerystring }>) => {
    const qs = request.query;
    const sort = parseSort(qs.sort);
    const q: ProductQuery = {
      group: qs.group, props: parsePropFilters(qs as Record<string, unknown>), priceMin: qs.priceMin, priceMax: qs.priceMax, inStock: qs.inStock,
      sort, limit: qs.limit ?? 24, after: qs.cursor !== undefined ? decodeCursor(qs.cursor, sort) : undefined,
      facets: qs.facets ?? true, facetLimit: qs.facetLimit ?? 50,
    };
    await ensureOffers(deps.db, request.portal.cityId);
    const page = await tunedRead(deps.db, (tx) => productPage(tx, catalogScope(request.portal), q));
    if (page.unknown.length) {
      const group = page.unknown.find((u) => u.startsWith('group'));
      if (group) throw new MagistralError('MAG_ERR_NOT_FOUND', `no ${group}`);
      throw new MagistralError('MAG_ERR_BAD_REQUEST', `unknown ${page.unknown.join(', ')}`,
        page.unknown.map((u) => ({ path: '/querystring/prop', message: `names an unknown ${u}`, rule: 'reference' })));
    }
    const more = page.rows.length > q.limit;
    const rows = more ? page.rows.slice(0, q.limit) : page.rows;
    const last = rows[rows.length - 1];
    return {
      items: rows.map((r) => ({
        sku: r.sku, name: r.name, article: r.article, barcode: r.barcode, unit: r.unit, imageUrl: r.image_url,
        group: r.group_code !== null ? { code: r.group_code, name: r.group_name as string } : null,
        price: r.price, currency: r.price !== null ? r.currency : null, stock: r.stock, inStock: Number(r.stock) > 0, popularity: r.popularity, promotion: r.promotion,
      })),
      total: page.total,
      nextCursor: more && last ? encodeCursor(sort, last.sort_key, last.id) : null,
      pricing: pricingOf(request.portal),
      ...(page.facets ? { facets: shapeFacets(page, q) } : {}),
    };
  });
};

/** Facet rows into properties with their values: the most frequent first, chosen values always kept. */
export function shapeFacets(page: Awaited<ReturnType<typeof productPage>>, q: ProductQuery) {
  const chosen = new Map(q.props.map((p) => [p.property, new Set(p.values)]));
  const props = new Map<string, { code: string; name: string; type: string; values: Array<{ value: string; label: string; count: number; selected: boolean }> }>();
  for (const f of page.facets ?? []) {
    let p = props.get(f.property);
    if (!p) props.set(f.property, p = { code: f.property, name: f.name, type: f.type, values: [] });
    p.values.push({ value: f.value, label: f.label, count: f.count, selected: chosen.get(f.property)?.has(f.value) ?? false });
  }
  // A chosen value no remaining product has still shows, with 0.
  for (const [code, values] of chosen) {
    const p = props.get(code);
    if (!p) continue;
    for (const v of values) if (!p.values.some((x) => x.value === v)) p.values.push({ value: v, label: v, count: 0, selected: true });
  }
  const numeric = (t: string) => t === 'number';
  const properties = [...props.values()].sort((a, b) => a.name.localeCompare(b.name, 'ru')).map((p) => {
    p.values.sort((a, b) => b.count - a.count || (numeric(p.type) ? Number(a.value) - Number(b.value) : a.label.localeCompare(b.label, 'ru')));
    const top = p.values.slice(0, q.facetLimit);
    for (const v of p.values.slice(q.facetLimit)) if (v.selected) top.push(v);
    return { ...p, values: top };
  });
  return { properties, price: page.price ?? { min: null, max: null }, inStock: page.inStock ?? 0 };
}
