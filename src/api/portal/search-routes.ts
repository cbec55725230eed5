// Search and autocomplete of /api/v1 on PostgreSQL alone: russian morphology, typo and keyboard-layout
// correction, synonyms, exact article / barcode / SKU first; only products on sale in the request's
// city, priced for its client. Query understanding lives in src/search, the SQL in search-query.ts.
import type { FastifyPluginAsync } from 'fastify';
import { completions, understand, type Understood } from '../../search/understand.ts';
import type { ApiDeps } from './context.ts';
import { catalogScope, pricingOf, pricingSchema } from './catalog-routes.ts';
import { tunedRead } from './catalog-query.ts';
import { codeMatches, KeptAnswers, productRowsByIds, searchProducts, suggest, SuggestTopCache, type SearchRow } from './search-query.ts';
import { ensureOffers } from '../../portal/offers.ts';
import { cityQuery, errorResponses, onBehalfHeaders, productCardProperties, productCardRequired, security } from './schemas.ts';

const MAX_PAGE = 100;

const productItem = {
  type: 'object',
  required: [...productCardRequired],
  properties: {
    ...productCardProperties,
    exact: { type: 'boolean', description: 'the query is this product\'s article, barcode or SKU' },
  },
} as const;

const interpretation = {
  corrected: { type: ['string', 'null'], description: 'the query as understood, when it differs from what was typed (keyboard layout, typos)' },
  ignored: { type: 'array', items: { type: 'string' }, description: 'words that matched nothing and were left out' },
} as const;

const queryString = { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S', description: 'what was typed' } as const;

function productView(r: SearchRow, withExact: boolean) {
  return {
    sku: r.sku, name: r.name, article: r.article, barcode: r.barcode, unit: r.unit, imageUrl: r.image_url,
    group: r.group_code !== null ? { code: r.group_code, name: r.group_name as string } : null,
    price: r.price, currency: r.currency, ...(withExact ? { exact: r.exact } : {}),
  };
}

const understood = (u: Understood) => ({ corrected: u.corrected, ignored: u.ignored });

/** An autocomplete answer without its products' rows and pricing, which are read per request. */
interface SuggestBody {
  query: string;
  corrected: string | null;
  ignored: string[];
  suggestions: Array<Record<string, unknown>>;
}

export const searchRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, opts) => {
  // Autocomplete's ranked matches per query, and its answers per query and city, kept while the
  // catalog version holds (search-query.ts).
  const tops = new SuggestTopCache();
  const answers = new KeptAnswers<SuggestBody>();
  const { deps } = opts;

  app.get<{ Querystring: { q: string; city?: string; limit?: number; offset?: number } }>('/search', {
    schema: {
      tags: ['search'],
      summary: 'Search products on sale in the city',
      description: 'Russian morphology, typo and keyboard-layout correction (`ghjdjl` finds «провод»), synonyms; an exact article, '
        + 'barcode or SKU ranks first, then the configured search priority, then relevance weighted by popularity.',
      security,
      headers: onBehalfHeaders,
      querystring: {
        type: 'object', additionalProperties: false, required: ['q'],
        properties: {
          q: queryString,
          city: cityQuery,
          limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 20 },
          offset: { type: 'integer', minimum: 0, maximum: 10_000, default: 0 },
        },
      },
      response: {
        200: {
          type: 'object', required: ['query', 'corrected', 'ignored', 'total', 'items', 'nextOffset', 'pricing'],
          properties: {
            query: { type: 'string' },
            ...interpretation,
            total: { type: 'integer' },
            items: { type: 'array', items: productItem },
            nextOffset: { type: ['integer', 'null'] },
            pricing: pricingSchema,
          },
        },
        ...errorResponses,
      },
    },
  }, async (request) => {
    const { q } = request.query;
    const limit = request.query.limit ?? 20;
    const offset = request.query.offset ?? 0;
    const { u, found } = await tunedRead(deps.db, async (tx) => {
      const scope = catalogScope(request.portal);
      const u = await understand(tx, q);
      // A code (one word with a digit) that is some product's article, barcode or SKU answers with those
      // products alone: its pieces ('art', '00037') would match half the catalog as text.
      if (!/\s/.test(q.trim()) && /[0-9]/.test(q)) {
        const exact = await searchProducts(tx, scope, { ...u, terms: [] }, { limit, offset });
        if (exact.total > 0) return { u: { ...u, terms: [], ignored: [], corrected: null }, found: exact };
      }
      return { u, found: await searchProducts(tx, scope, u, { limit, offset }) };
    });
    return {
      query: q, ...understood(u), total: found.total, items: found.rows.map((r) => productView(r, true)),
      nextOffset: offset + found.rows.length < found.total ? offset + found.rows.length : null,
      pricing: pricingOf(request.portal),
    };
  });

  app.get<{ Querystring: { q: string; city?: string; limit?: number; products?: number } }>('/search/suggest', {
    schema: {
      tags: ['search'],
      summary: 'Autocomplete: suggestions and top products for what is being typed',
      description: 'Completions of the query, brands (properties marked for autocomplete) and groups, each with the number of products '
        + 'it leads to, ranked by search priority, then popularity; and the top products with the client\'s price and image. '
        + 'Only products on sale in the city count or show. Counts come from the best `sample` matching products: at the cap, `more` is true.',
      security,
      headers: onBehalfHeaders,
      querystring: {
        type: 'object', additionalProperties: false, required: ['q'],
        properties: {
          q: queryString,
          city: cityQuery,
          limit: { type: 'integer', minimum: 1, maximum: 20, default: 5, description: 'suggestions of each kind' },
          products: { type: 'integer', minimum: 0, maximum: 20, default: 5 },
        },
      },
      response: {
        200: {
          type: 'object', required: ['query', 'corrected', 'ignored', 'suggestions', 'products', 'pricing'],
          properties: {
            query: { type: 'string' },
            ...interpretation,
            suggestions: {
              type: 'array',
              items: {
                type: 'object', required: ['kind', 'text', 'count', 'more'],
                properties: {
                  kind: { type: 'string', enum: ['query', 'value', 'group'] },
                  text: { type: 'string', description: 'what to show (and, for a query, what to search)' },
                  count: { type: 'integer', description: 'products on sale it leads to' },
                  more: { type: 'boolean', description: 'the count reached the sample cap: at least this many' },
                  group: { type: 'string', description: 'group code (kind group)' },
                  property: { type: 'string', description: 'property code (kind value)' },
                  value: { type: 'string', description: 'value code (kind value): a catalog filter prop=property:value' },
                },
              },
            },
            products: { type: 'array', items: productItem },
            pricing: pricingSchema,
          },
        },
        ...errorResponses,
      },
    },
  }, async (request) => {
    const { q } = request.query;
    const limit = request.query.limit ?? 5;
    const productsWanted = request.query.products ?? 5;
    const scope = catalogScope(request.portal);
    // A kept answer for this query and city: only its products are read again, priced for this
    // request, in a statement that also tells whether the catalog changed since.
    const key = JSON.stringify([q, limit, productsWanted, scope.cityId, scope.cityPriceTypeId]);
    const kept = answers.get(key);
    if (kept) {
      const { version, rows } = await productRowsByIds(deps.db, scope, kept.ids, kept.exact);
      if (version === kept.version) return { ...kept.body, products: rows.map((r) => productView(r, true)), pricing: pricingOf(request.portal) };
    }
    await ensureOffers(deps.db, request.portal.cityId);
    const { u, s, codes } = await tunedRead(deps.db, async (tx) => {
      const u = await understand(tx, q, { prefix: true });
      const typing = u.terms[u.terms.length - 1];
      const words = typing?.prefix ? await completions(tx, typing.text, 10) : [];
      const codes = await codeMatches(tx, scope, u, productsWanted);
      const s = await suggest(tx, scope, u, { completions: words, products: productsWanted, cap: SUGGEST_SAMPLE, limit, tops });
      return { u, s, codes };
    }, { oneSnapshot: true });
    // Products whose code starts with the query first, then the best matches of the text.
    const seen = new Set(codes.map((c) => c.sku));
    const products = [...codes, ...s.products.filter((p) => !seen.has(p.sku))].slice(0, productsWanted);
    // The words before the one being typed, prefixes among them (`авт выкл` → «авт выключатель»).
    const before = (u.terms[u.terms.length - 1]?.prefix ? u.terms.slice(0, -1) : u.terms).map((t) => t.text);
    const more = s.matched.more;
    const body = {
      query: q, ...understood(u),
      suggestions: [
        ...s.words.map((w) => ({ kind: 'query' as const, text: [...before, w.text].join(' '), count: w.count, more })),
        ...s.values.map((v) => ({ kind: 'value' as const, text: v.label, property: v.property, value: v.value, count: v.count, more })),
        ...s.groups.map((g) => ({ kind: 'group' as const, text: g.name, group: g.code, count: g.count, more })),
      ],
    };
    if (s.version) answers.set(key, { version: s.version, body, ids: products.map((p) => Number(p.id)), exact: products.map((p) => p.exact) });
    return { ...body, products: products.map((r) => productView(r, true)), pricing: pricingOf(request.portal) };
  });
};

/**
 * How many of the best matching products (by priority, then popularity) autocomplete counts its
 * suggestions over: bounded work per keystroke whatever the catalog size (measured at 50,000
 * products: ~30 ms at 300, ~60 ms at 1,000 for a two-letter prefix matching 5,000 products).
 */
export const SUGGEST_SAMPLE = 300;
