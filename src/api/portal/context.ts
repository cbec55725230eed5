// Who a portal request speaks for, resolved once by the auth hook (auth.ts): the API key, the client
// and contact it acts for, the city, and the pricing that applies. Routes read `request.portal`.
import type { Pricing } from '../../portal/pricing.ts';
import type { ServerDeps } from '../deps.ts';

/** What route plugins of /api/v1 (catalog, search) receive as `opts.deps`. */
export type ApiDeps = ServerDeps;

export interface PortalContext {
  keyId: number;
  scopes: Set<string>;
  clientId: number | null;
  contactId: number | null;
  cityId: number | null;
  /** The city's own price type: what "on sale in the city" is decided by (catalog, suggestions). */
  cityPriceTypeId: number | null;
  pricing: Pricing;
  /** Requests per minute the key may make. */
  ratePerMin: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    portal: PortalContext;
  }
  interface FastifyContextConfig {
    /** The scope an API key needs for a /api/v1 route; null: any valid key. Absent: `catalog:read`. */
    scope?: string | null;
  }
}

export { KNOWN_SCOPES as SCOPES } from '../../portal/keys.ts';
