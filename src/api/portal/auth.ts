// Authentication of /api/v1: the API key (Bearer mgk_… or X-Api-Key), the client or contact it acts
// for (X-Client-Id / X-Contact-Id by code), the city (?city= or X-City) and the pricing that
// follows, resolved in one prepared statement, so a revoked key or a changed agreement counts from
// the next request. Routes marked `inlineContext` (the one-product price, the hottest path) resolve
// it themselves in the same round trip as their data, keeping resolved contexts in a ContextCache
// that is checked against the context version (migration 0008) in the same snapshot as the data:
// still exact, and one small statement per request.
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { MagistralError } from '../../errors/index.ts';
import { hashKey, KEY_PREFIX } from '../../portal/keys.ts';
import { pricingJoinsSql, pricingOf, type PricingRow } from '../../portal/pricing.ts';
import { prepared, type Queryable } from '../../portal/query.ts';
import type { PortalContext } from './context.ts';
import { KeyRateLimiter } from './rate-limit.ts';
import type { LoginGuard } from '../../port/port.ts';
import { tooManyFailures } from '../admin-auth.ts';
import { Kept } from '../../portal/kept.ts';
import { changeVersionSql } from '../../db/migrations/0008-change-versions.ts';

export interface ContextRow extends PricingRow {
  key_id: number | null;
  scopes: string[] | null;
  key_client_id: number | null;
  rate_per_min: number | null;
  header_client_id: number | null;
  contact_id: number | null;
  contact_client_id: number | null;
  city_id: number | null;
  context_version: string;
}

export const DEFAULT_CITY_SETTING = 'default_city';

/**
 * The version of everything a context is resolved from (migration 0008): read in the same snapshot
 * as a route's data, it tells whether a context resolved earlier still holds.
 */
export const CONTEXT_VERSION_SQL = changeVersionSql('portal_context');

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
      ${CONTEXT_VERSION_SQL} AS context_version,
      ${p.select}
    FROM w ${p.joins}`;
})();

/** Prepares the context statement on a connection of the hot pool (see index.ts), with a key that matches nothing. */
export function warmContextStatement(q: Queryable): Promise<unknown> {
  return prepared<ContextRow>(q, 'magistral_portal_context', CONTEXT_SQL, ['', null, null, null]);
}

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

/** What a request presents: its key's hash, the client, contact and city codes it names. */
export interface ContextAsk {
  keyHash: string;
  clientCode: string | undefined;
  contactCode: string | undefined;
  cityCode: string | undefined;
  cityFromQuery: boolean;
}

/** The parameters of CONTEXT_SQL ($1–$4) for an ask. */
export const contextParams = (a: ContextAsk): unknown[] => [a.keyHash, a.clientCode ?? null, a.contactCode ?? null, a.cityCode ?? null];

function unauthorized(reply: FastifyReply, message: string): MagistralError {
  reply.header('www-authenticate', 'Bearer realm="magistral-portal"');
  return new MagistralError('MAG_ERR_UNAUTHORIZED', message);
}

/** The key and names a request presents; 401 without a Magistral key (nothing is queried then). */
function askOf(request: FastifyRequest, reply: FastifyReply, logins: LoginGuard | undefined): ContextAsk {
  const key = presentedKey(request);
  if (key && logins) {
    const wait = logins.retryAfterSeconds('portal', request.ip);
    if (wait > 0) throw tooManyFailures(reply, wait);
  }
  if (!key || !key.startsWith(KEY_PREFIX)) {
    if (key) logins?.failed('portal', request.ip);
    throw unauthorized(reply, key ? 'the API key is not a Magistral key (mgk_…)' : 'missing API key: send "Authorization: Bearer mgk_…" or "X-Api-Key: mgk_…"');
  }
  const query = request.query as Record<string, unknown> | undefined;
  const cityFromQuery = typeof query?.city === 'string' && query.city ? query.city : undefined;
  return {
    keyHash: hashKey(key), clientCode: header(request, 'x-client-id'), contactCode: header(request, 'x-contact-id'),
    cityCode: cityFromQuery ?? header(request, 'x-city'), cityFromQuery: cityFromQuery !== undefined,
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the hook on `inlineContext` routes: what their own statement resolves. */
    portalAsk?: ContextAsk;
    /** The request's unknown key was counted as a failed login already. */
    portalKeyCounted?: boolean;
  }
  interface FastifyContextConfig {
    /** The route runs CONTEXT_SQL inside its own statement and calls `settleContext` with the row. */
    inlineContext?: boolean;
  }
}

/**
 * Checks the context row of a request and sets `request.portal`: 401 without a valid key, 404 for a
 * client or contact the key may not act for (never revealing whether it exists), 400 for an unknown
 * city, 403 without the route's scope, 429 over the key's rate.
 */
function settle(request: FastifyRequest, reply: FastifyReply, ask: ContextAsk, row: ContextRow | undefined, limiter: KeyRateLimiter, logins: LoginGuard | undefined, q: Queryable): PortalContext {
  if (!row) throw new Error('the context query returned no row');
  if (row.key_id === null) {
    // Counted by the caller (the hook awaits it; an inline route's request counts it meanwhile).
    if (logins && !request.portalKeyCounted) void countUnknownKey(request, ask, logins, q);
    throw unauthorized(reply, 'the API key is unknown or revoked');
  }
  logins?.succeeded('portal', request.ip);

  // A key bound to a client acts for it alone; a trusted frontend key acts for whom the headers name.
  const { clientCode, contactCode, cityCode } = ask;
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
    const path = ask.cityFromQuery ? '/querystring/city' : '/headers/x-city';
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
  limiter.take(ctx.keyId, ctx.ratePerMin, reply);
  request.portal = ctx;
  return ctx;
}

/**
 * Context rows resolved earlier, by what the request presented (key hash, client, contact, city),
 * with the context version they were resolved under. A route that reads CONTEXT_VERSION_SQL with its
 * own data may use a cached row only while the version is unchanged: a revoked key, a new agreement
 * or a moved client shows from the next request. Bounded: the oldest entries go first.
 */
export class ContextCache {
  private readonly rows = new Kept<ContextRow>(10_000);

  static keyOf(a: ContextAsk): string {
    return `${a.keyHash}\u0000${a.clientCode ?? ''}\u0001${a.contactCode ?? ''}\u0002${a.cityCode ?? ''}\u0003${a.cityFromQuery ? 'q' : 'h'}`;
  }

  get(a: ContextAsk): ContextRow | undefined {
    return this.rows.get(ContextCache.keyOf(a));
  }

  set(a: ContextAsk, row: ContextRow): void {
    this.rows.set(ContextCache.keyOf(a), row);
  }
}

export interface PortalAuth {
  /** The onRequest hook of /api/v1. */
  hook: onRequestAsyncHookHandler;
  /** For `inlineContext` routes: checks the context columns of their own row (see `settle`). */
  settleContext: (request: FastifyRequest, reply: FastifyReply, row: ContextRow | undefined) => PortalContext;
}

/**
 * A key the context did not resolve is a failed login unless it is a revoked key (a frontend not yet
 * given its new key after a rotation is not a guesser, and locking its address would lock out every
 * other frontend behind it). Asked on failures only: one indexed read.
 */
async function countUnknownKey(request: FastifyRequest, ask: ContextAsk, logins: LoginGuard, q: Queryable): Promise<void> {
  request.portalKeyCounted = true;
  const revoked = await prepared<{ one: number }>(q, 'magistral_portal_key_revoked', 'SELECT 1 AS one FROM api_keys WHERE key_hash = $1 LIMIT 1', [ask.keyHash]).catch(() => []);
  if (!revoked.length) logins.failed('portal', request.ip);
}

export function portalAuth(q: Queryable, limiter = new KeyRateLimiter(), logins?: LoginGuard): PortalAuth {
  return {
    hook: async function authenticate(request, reply) {
      const ask = askOf(request, reply, logins);
      if (request.routeOptions.config.inlineContext) {
        request.portalAsk = ask;
        return;
      }
      const [row] = await prepared<ContextRow>(q, 'magistral_portal_context', CONTEXT_SQL, contextParams(ask));
      if (row?.key_id === null && logins) await countUnknownKey(request, ask, logins, q);
      settle(request, reply, ask, row, limiter, logins, q);
    },
    settleContext(request, reply, row) {
      if (!request.portalAsk) throw new Error('settleContext on a route without inlineContext');
      return settle(request, reply, request.portalAsk, row, limiter, logins, q);
    },
  };
}

/** The client a route needs: 403 when the request acts for nobody. */
export function requireClient(ctx: PortalContext): number {
  if (ctx.clientId === null) {
    throw new MagistralError('MAG_ERR_FORBIDDEN', 'this route acts for a client: send X-Client-Id or X-Contact-Id (or use a key bound to a client)');
  }
  return ctx.clientId;
}
