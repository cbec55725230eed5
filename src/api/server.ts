// The HTTP server: fastify with the process logger, request ids, one error format, schema-validated
// routes, health and metrics, and (in full mode) the admin API and the queue dashboard. Listening is the caller's job.
import Fastify, { type FastifyInstance } from 'fastify';
import type { ServerDeps } from './deps.ts';
import { errorHandler, notFoundHandler } from './error-handler.ts';
import { requestId, serializeRequest } from './request-logging.ts';
import { healthRoutes } from './health-routes.ts';
import { metricsRoutes } from './metrics-routes.ts';
import { adminAuth } from './admin-auth.ts';
import { LoginThrottle } from '../security/login-throttle.ts';
import { flowsRoutes } from './flows-routes.ts';
import { runsRoutes } from './runs-routes.ts';
import { orderExportsRoutes } from './order-exports-routes.ts';
import { payloadUploadRoute } from './payload-upload-route.ts';
import { queueDashboard } from './queue-dashboard.ts';
import { portalApi } from './portal/index.ts';
import { portalAdminRoutes } from './portal/admin-routes.ts';
import { pipelineDeps } from './run-views.ts';
import { createConnectorPort } from '../pipeline/connector-port.ts';
import { cabinetPlugin } from '../web/cabinet/index.ts';
import { managerPlugin } from '../web/manager/index.ts';
import { consolePlugin } from '../web/console/index.ts';
import { mailAdminRoutes } from './mail-admin-routes.ts';
import { cabinetAdminRoutes } from './cabinet-admin-routes.ts';
import { documentsAdminRoutes } from './documents-admin-routes.ts';
import { lineageRoutes } from './lineage-routes.ts';
import { actRequestsRoutes } from './act-requests-routes.ts';

export type { ServerDeps } from './deps.ts';

export interface RouteEntry {
  method: string;
  url: string;
}

const ROUTES = new WeakMap<FastifyInstance, RouteEntry[]>();

/** The routes a server built by buildServer registered, in order (HEAD routes fastify adds for GET included). */
export function registeredRoutes(app: FastifyInstance): readonly RouteEntry[] {
  return ROUTES.get(app) ?? [];
}

export async function buildServer(given: ServerDeps): Promise<FastifyInstance> {
  // One throttle for every surface of the process: the admin token, portal keys and the exchanges.
  const deps: ServerDeps = { ...given, logins: given.logins ?? new LoginThrottle({ registry: given.metrics.registry }) };
  const log = deps.log.child({ component: 'http' }, { serializers: { req: serializeRequest } });
  const app = Fastify({
    loggerInstance: log,
    genReqId: requestId,
    requestIdHeader: false,
    routerOptions: { ignoreTrailingSlash: true },
    ajv: {
      // Report every violation, refuse unknown properties instead of silently dropping them, and coerce
      // query strings to numbers but never a scalar body into an array.
      customOptions: { allErrors: true, allowUnionTypes: true, removeAdditional: false, coerceTypes: true, useDefaults: true },
    },
  }) as unknown as FastifyInstance;

  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  // Every route as registered (the authorization matrix test checks each one has its row).
  const routes: RouteEntry[] = [];
  ROUTES.set(app, routes);
  app.addHook('onRoute', (r) => {
    for (const method of Array.isArray(r.method) ? r.method : [r.method]) routes.push({ method: String(method), url: r.url });
  });

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, never the raw URL: label values must stay few.
    const route = request.routeOptions.url ?? 'unmatched';
    deps.metrics.httpDuration.observe({ route, method: request.method, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  await app.register(async (scope) => {
    await healthRoutes(scope, deps);
    await metricsRoutes(scope, deps);
  });

  if ((deps.mode ?? 'full') === 'full') {
    await app.register(async (admin) => {
      admin.addHook('onRequest', adminAuth(deps.config.MAGISTRAL_ADMIN_TOKEN, { logins: deps.logins }));
      await admin.register(async (s) => flowsRoutes(s, deps), { prefix: '/flows' });
      await admin.register(async (s) => payloadUploadRoute(s, deps), { prefix: '/flows' });
      await admin.register(async (s) => runsRoutes(s, deps), { prefix: '/runs' });
      await admin.register(async (s) => orderExportsRoutes(s, deps), { prefix: '/orders' });
      await admin.register(async (s) => portalAdminRoutes(s, deps));
      await admin.register(async (s) => cabinetAdminRoutes(s, deps), { prefix: '/cabinet' });
      await admin.register(async (s) => mailAdminRoutes(s, deps), { prefix: '/mail' });
      await admin.register(async (s) => documentsAdminRoutes(s, deps), { prefix: '/documents' });
      await admin.register(async (s) => actRequestsRoutes(s, deps), { prefix: '/act-requests' });
      await admin.register(async (s) => lineageRoutes(s, deps), { prefix: '/lineage' });
    }, { prefix: '/admin/api' });
    await queueDashboard(app, deps);
    // The portal API (/api/v1) and its OpenAPI document (/api/docs).
    await app.register(portalApi, { deps });
    // The client cabinet (Russian pages on the same services, src/web/cabinet).
    await app.register(cabinetPlugin, { prefix: '/cabinet', deps });
    await app.register(managerPlugin, { prefix: '/manager', deps });
    await app.register(consolePlugin, { prefix: '/console', deps });
    // Endpoints connectors serve to their systems (1C exchange, webhooks), mounted without importing them.
    if (deps.pool) {
      const port = createConnectorPort(pipelineDeps(deps), process.env, deps.logins);
      for (const e of deps.registry.exchanges()) await app.register(async (scope) => e.plugin(scope, port), { prefix: e.prefix });
    }
  }

  return app;
}
