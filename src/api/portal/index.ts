// The portal API: `/api/v1` behind API keys (scoped, revocable, rate-limited per key) acting for a
// client or contact, and its OpenAPI document at /api/docs (JSON at /api/docs/json). Routes live
// beside this file; catalog and search come from their own plugins.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import pg from 'pg';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { ServerDeps } from '../deps.ts';
import { portalAuth, warmContextStatement } from './auth.ts';
import { pricesRoutes, warmPriceStatement } from './prices-routes.ts';
import { stockRoutes } from './stock-routes.ts';
import { ordersRoutes } from './orders-routes.ts';
import { documentsRoutes } from './documents-routes.ts';
import { meRoutes } from './me-routes.ts';
import { catalogRoutes } from './catalog-routes.ts';
import { searchRoutes } from './search-routes.ts';
import { KNOWN_SCOPES } from '../../portal/keys.ts';
import { guardPoolClients } from '../../db/index.ts';
import type { Queryable as PortalQueryable } from '../../portal/query.ts';

export type { PortalContext, ApiDeps } from './context.ts';
export { effectivePriceSql, onSaleSql, resolvePricing, type Pricing } from './pricing.ts';

export interface PortalApiOptions {
  deps: ServerDeps;
}

export const API_PREFIX = '/api/v1';

/** Connections of the hot path's pool: a few more than cores, so a slow statement does not queue the others. */
const HOT_POOL_SIZE = 3;

export const portalApi: FastifyPluginAsync<PortalApiOptions> = async (app: FastifyInstance, opts) => {
  const { deps } = opts;
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Magistral portal API',
        version: '1.0.0',
        description: 'Catalog, prices for a client, stock by city, search and orders, read from the Magistral datastore. '
          + 'Every request carries an API key; requests on behalf of a client name it with X-Client-Id or X-Contact-Id. '
          + `Scopes: ${KNOWN_SCOPES.join(', ')}. Decimals are strings.`,
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer mgk_…' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/api/docs' });

  // The hot path (request context, one-product price) runs named statements on a small pool of its
  // own whose sessions always use generic plans: with a custom plan PostgreSQL re-plans the lookup
  // on the partitioned prices table at every request, which costs more than running it.
  // Its connections are opened and their statements prepared before the server listens, and kept
  // open: a connection opened under load costs its request ~5–10 ms to connect and as much again to
  // plan the context statement, which is what the slowest percent of price requests measured.
  let hot: PortalQueryable = { db: deps.db, pool: deps.pool };
  if (deps.pool) {
    const pool = new pg.Pool({
      ...deps.pool.options, max: HOT_POOL_SIZE, idleTimeoutMillis: 0, application_name: 'magistral-portal', options: '-c plan_cache_mode=force_generic_plan',
    });
    guardPoolClients(pool);
    app.addHook('onClose', async () => { await pool.end(); });
    hot = { db: deps.db, pool };
    app.addHook('onReady', async () => {
      const clients = await Promise.all(Array.from({ length: HOT_POOL_SIZE }, () => pool.connect()));
      try {
        await Promise.all(clients.map(async (c) => {
          const one = { db: deps.db, pool: c as unknown as pg.Pool };
          await warmContextStatement(one);
          await warmPriceStatement(one);
        }));
      } finally {
        for (const c of clients) c.release();
      }
    });
  }
  await app.register(async (v1) => {
    // Authentication, then the per-key rate limit (rate-limit.ts), before the body is read.
    const auth = portalAuth(hot, undefined, deps.logins);
    v1.addHook('onRequest', auth.hook);
    await meRoutes(v1, deps);
    await pricesRoutes(v1, deps, auth, hot);
    await stockRoutes(v1, deps);
    await ordersRoutes(v1, deps);
    await documentsRoutes(v1, deps);
    await v1.register(catalogRoutes, { deps });
    await v1.register(searchRoutes, { deps });
  }, { prefix: API_PREFIX });
};
