// Authentication of /api/v1: the API key (Bearer mgk_… or X-Api-Key), the client or contact it acts
// for (X-Client-Id / X-Contact-Id by code), the city (?city= or X-City) and the pricing that
// follows, resolved in one prepared statement: one round trip, nothing cached, so a revoked key
// or a changed agreement counts from the next request.
import type { FastifyRequest, onRequestHookHandler } from 'fastify';
import { MagistralError } from '../../errors/index.ts';
import { hashKey, KEY_PREFIX } from '../../portal/keys.ts';
import { pricingJoinsSql, pricingOf, type PricingRow } from '../../portal/pricing.ts';
import { prepared, type Queryable } from '../../portal/query.ts';
import type { PortalContext } from './context.ts';

interface ContextRow extends PricingRow {
  key_id: number | null;
  scopes: string[] | null;
  key_client_id: number | null;
  rate_per_min: number | null;
  header_client_id: number | null;
  contact_id: number | null;
  contact_client_id: number | null;
  city_id: number | null;
}

export const DEFAULT_CITY_SETTING = 'default_city';

/**
 * Everything a request's context needs in one prepared statement: the key ($1 = its sha256), the
 * client ($2) and contact ($3) named by headers, the city ($4) else the client's else the default,
 * and the pricing of the client the request ends up acting for in that city.
 */
export const CONTEXT_SQL = (() => {
  const p = pricingJoinsSql('w.client_id', 'NULL::bigint', 'w.city_id');
  return `
    WITH k AS (SELECT id, scopes, client_id, rate_per_min FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL),
    cl AS (SELECT id FROM clients WHERE code = $2::text AND NOT placeholder ORDER BY id LIMIT 1),
    ct AS (SELECT id, client_id FROM contacts WHERE code = $3::text AND NOT placeholder AND NOT deleted ORDER BY id LIMIT 1),
    who AS (
      SELECT k.id AS key_id, k.scopes, k.client_id AS key_client_id, k.rate_per_min,
        (SELECT id FROM cl) AS header_client_id, (SELECT id FROM ct) AS contact_id, (SELECT client_id FROM ct) AS contact_client_id,
        coalesce((SELECT client_id FROM ct), (SELECT id FROM cl), k.client_id) AS client_id
      FROM (SELECT 1) one LEFT JOIN k ON true
    ),
    w AS (
      SELECT who.*, coalesce(
        (SELECT id FROM cities WHERE code = $4::text),
        CASE WHEN $4::text IS NULL THEN coalesce(
          (SELECT city_id FROM clients WHERE id = who.client_id),
          (SELECT c.id FROM portal_settings s JOIN cities c ON c.code = s.value WHERE s.key = '${DEFAULT_CITY_SETTING}')) END
      ) AS city_id
      FROM who
    )
    SELECT w.key_id, w.scopes, w.key_client_id, w.rate_per_min, w.header_client_id, w.contact_id, w.contact_client_id, w.city_id,
      ${p.select}
    FROM w ${p.joins}`;
})();

function presentedKey(request: FastifyRequest): string | undefined {
  const h = request.headers.authorization;
  if (h) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (m) return m[1];
  }
  const x = request.headers['x-api-key'];
  return typeof x === 'string' && x ? x.trim() : undefined;
}

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s && s.trim() ? s.trim() : undefined;
}

const notFound = (what: string) => new MagistralError('MAG_ERR_NOT_FOUND', what);

/**
 * The onRequest hook of /api/v1: 401 without a valid key, 404 for a client or contact the key may
 * not act for (never revealing whether it exists), 400 for an unknown city, 403 without the scope.
 */
export function portalAuth(q: Queryable): onRequestHookHandler {
  return async function authenticate(request, reply) {
    const key = presentedKey(request);
    if (!key || !key.startsWith(KEY_PREFIX)) {
      reply.header('www-authenticate', 'Bearer realm="magistral-portal"');
      throw new MagistralError('MAG_ERR_UNAUTHORIZED', key ? 'the API key is not a Magistral key (mgk_…)' : 'missing API key: send "Authorization: Bearer mgk_…" or "X-Api-Key: mgk_…"');
    }
    const clientCode = header(request, 'x-client-id');
    const contactCode = header(request, 'x-contact-id');
    const query = request.query as Record<string, unknown> | undefined;
    const cityFromQuery = typeof query?.city === 'string' && query.city ? query.city : undefined;
    const cityCode = cityFromQuery ?? header(request, 'x-city');

    const [row] = await prepared<ContextRow>(q, 'magistral_portal_context', CONTEXT_SQL, [hashKey(key), clientCode ?? null, contactCode ?? null, cityCode ?? null]);
    if (!row) throw new Error('the context query returned no row');
    if (row.key_id === null) {
      reply.header('www-authenticate', 'Bearer realm="magistral-portal"');
      throw new MagistralError('MAG_ERR_UNAUTHORIZED', 'the API key is unknown or revoked');
    }

    // A key bound to a client acts for it alone; a trusted frontend key acts for whom the headers name.
    let clientId: number | null = row.key_client_id;
    if (clientCode !== undefined) {
      if (row.header_client_id === null || (clientId !== null && row.header_client_id !== clientId)) throw notFound(`no client '${clientCode}'`);
      clientId = row.header_client_id;
    }
    let contactId: number | null = null;
    if (contactCode !== undefined) {
      if (row.contact_id === null || row.contact_client_id === null || (clientId !== null && row.contact_client_id !== clientId)) {
        throw notFound(`no contact '${contactCode}'${clientId !== null ? ' of this client' : ''}`);
      }
      contactId = row.contact_id;
      clientId = row.contact_client_id;
    }
    if (cityCode !== undefined && row.city_id === null) {
      const path = cityFromQuery !== undefined ? '/querystring/city' : '/headers/x-city';
      throw new MagistralError('MAG_ERR_BAD_REQUEST', `unknown city '${cityCode}'`, [{ path, rule: 'city', message: `'${cityCode}' is not a city code` }]);
    }

    const scopes = new Set(row.scopes ?? []);
    const scope = request.routeOptions.config.scope;
    const need = scope === undefined ? 'catalog:read' : scope;
    if (need !== null && !scopes.has(need)) throw new MagistralError('MAG_ERR_FORBIDDEN', `this API key lacks the scope '${need}'`);

    // The SQL resolved pricing for the client the headers lead to; anything else was refused above.
    const ctx: PortalContext = {
      keyId: row.key_id, scopes, clientId, contactId, cityId: row.city_id, cityPriceTypeId: row.city_pt_id,
      pricing: pricingOf(row), ratePerMin: row.rate_per_min ?? 1,
    };
    request.portal = ctx;
  };
}

/** The client a route needs: 403 when the request acts for nobody. */
export function requireClient(ctx: PortalContext): number {
  if (ctx.clientId === null) {
    throw new MagistralError('MAG_ERR_FORBIDDEN', 'this route acts for a client: send X-Client-Id or X-Contact-Id (or use a key bound to a client)');
  }
  return ctx.clientId;
}
