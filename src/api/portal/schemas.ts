// JSON Schemas shared by the /api/v1 routes: request parts every route accepts (city), decimals as
// strings, the error body, and the security requirement the OpenAPI document shows.
import { errorBodySchema } from '../error-handler.ts';

export const decimalString = { type: 'string', pattern: '^-?[0-9]+(\\.[0-9]+)?$', description: 'exact decimal number as a string' } as const;
export const nullableDecimal = { type: ['string', 'null'], description: 'exact decimal number as a string, or null' } as const;
export const skuSchema = { type: 'string', minLength: 1, maxLength: 150, description: 'product code (SKU)' } as const;

/** `?city=` (a city code): every /api/v1 route takes it; default: the client's city, else the configured default. */
export const cityQuery = { type: 'string', minLength: 1, maxLength: 150, description: 'city code; default: the client\'s city, else the default city' } as const;

/** The querystring of routes whose only parameter is the city. */
export const cityOnlyQuerystring = { type: 'object', additionalProperties: false, properties: { city: cityQuery } } as const;

/** Body of a batch call: up to `max` SKUs, answered line by line in request order. */
export function skuBatchBody(max: number) {
  return {
    type: 'object', required: ['skus'], additionalProperties: false,
    properties: { skus: { type: 'array', minItems: 1, maxItems: max, items: skuSchema } },
  } as const;
}

export const errorResponses = {
  400: { description: 'Malformed request: each problem names its path and rule', ...errorBodySchema },
  401: { description: 'Missing, unknown or revoked API key', ...errorBodySchema },
  403: { description: 'The key lacks the scope, or the route needs a client', ...errorBodySchema },
  404: { description: 'Not found, or not visible to this client', ...errorBodySchema },
  429: { description: 'Rate limit of the key exceeded; see Retry-After', ...errorBodySchema },
} as const;

export const security: Array<Record<string, string[]>> = [{ apiKey: [] }, { bearer: [] }];

export const onBehalfHeaders = {
  type: 'object',
  properties: {
    'x-client-id': { type: 'string', description: 'code of the client the request acts for (trusted frontend keys)' },
    'x-contact-id': { type: 'string', description: 'code of the contact person the request acts for; must belong to the client' },
    'x-city': { type: 'string', description: 'city code (the `city` query parameter wins)' },
  },
} as const;

/** What every product row of a listing shows (catalog pages, search results); routes add their own fields. */
export const productCardRequired = ['sku', 'name', 'article', 'barcode', 'unit', 'imageUrl', 'group', 'price', 'currency'] as const;
export const productCardProperties = {
  sku: { type: 'string' },
  name: { type: 'string' },
  article: { type: ['string', 'null'] },
  barcode: { type: ['string', 'null'] },
  unit: { type: ['string', 'null'] },
  imageUrl: { type: ['string', 'null'] },
  group: { type: ['object', 'null'], required: ['code', 'name'], properties: { code: { type: 'string' }, name: { type: 'string' } } },
  price: { type: ['string', 'null'], description: 'effective price for the client, 2 decimals; null when the client\'s price type has no price' },
  currency: { type: ['string', 'null'] },
} as const;
