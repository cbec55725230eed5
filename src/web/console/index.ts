// The operations console (/console): one fastify plugin with its own cookie (mg_con), form parsing, the
// console user's session on every request, CSRF checks on every non-GET request, the role guard of each
// route (config.consoleRole), an audit entry for every change (config.consoleAction: written when the answer
// is sent, with its outcome: ok, failed, or denied for a refused role or form token), Russian error pages,
// its stylesheet, and the route modules of its pages (CONSOLE_ROUTES).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { ServerDeps } from '../../api/deps.ts';
import { CabinetError } from '../../cabinet/errors.ts';
import { CONSOLE_COOKIE, loadConsoleSession, touchConsoleSession } from '../../console/sessions.ts';
import { assertRole, auditConsole, consoleActor } from '../../console/rights.ts';
import { csrfOk, STALE_FORM } from '../csrf.ts';
import { consoleError } from './errors.tsx';
import { consoleAuthRoutes } from './auth-routes.tsx';
import { consoleFlowsRoutes } from './flows-routes.tsx';
import { consoleQueuesRoutes } from './queues-routes.tsx';
import { consoleUsersRoutes } from './users-routes.tsx';
import { consoleRunsRoutes } from './runs-routes.tsx';
import { consoleLineageRoutes } from './lineage-routes.tsx';

/** Page modules: each registers its routes on the console's scope. */
const CONSOLE_ROUTES: Array<(app: FastifyInstance, deps: ServerDeps) => Promise<void>> = [
  consoleAuthRoutes, consoleFlowsRoutes, consoleRunsRoutes, consoleLineageRoutes, consoleQueuesRoutes, consoleUsersRoutes,
];

const here = path.dirname(fileURLToPath(import.meta.url));
const CSS = readFileSync(path.join(here, '../assets/console.css'));

const changes = (method: string): boolean => method !== 'GET' && method !== 'HEAD';

/** The object an audit entry names: what the handler said, else the route's parameters. */
const auditObject = (request: FastifyRequest): Record<string, unknown> =>
  request.consoleAudit?.object ?? { ...(request.params as Record<string, unknown> | undefined) };

export async function consolePlugin(app: FastifyInstance, opts: { deps: ServerDeps }): Promise<void> {
  const { deps } = opts;
  const { db } = deps;
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: 1024 * 1024 });

  // A change nobody could find in the audit log is a bug: a route that changes something names its action.
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (methods.some(changes) && !route.config?.consolePublic && !route.config?.consoleAction) {
      throw new Error(`console route ${methods.join(',')} ${route.url} changes something but declares no config.consoleAction (audit log)`);
    }
  });

  app.get('/assets/console.css', { config: { consolePublic: true, consoleNoSession: true } }, async (_request, reply) =>
    reply.header('content-type', 'text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(CSS));

  app.addHook('preHandler', async (request) => {
    request.consoleSession = null;
    request.consoleExpired = false;
    const config = request.routeOptions.config;
    if (config.consoleNoSession) return;
    const presented = request.cookies[CONSOLE_COOKIE];
    const s = await loadConsoleSession(db, presented);
    request.consoleExpired = presented !== undefined && s === undefined;
    if (s) {
      await touchConsoleSession(db, s);
      request.consoleSession = s;
    }
    if (config.consolePublic) return;
    if (!s) throw new CabinetError(401, request.consoleExpired ? 'Сессия истекла. Войдите снова.' : 'Войдите, чтобы открыть консоль.');
    if (!csrfOk(request, s.csrf)) {
      request.consoleAudit = { ...request.consoleAudit, details: { reason: 'no valid CSRF token' } };
      throw new CabinetError(403, STALE_FORM);
    }
    if (config.consoleRole) {
      const action = config.consoleAction ?? `view ${request.routeOptions.url ?? request.url}`;
      try {
        await assertRole(db, consoleActor(s.user, request), config.consoleRole, { action, object: auditObject(request) });
      } catch (e) {
        request.consoleAudit = { ...request.consoleAudit, written: true };
        throw e;
      }
    }
  });

  // The audit entry of a change, written before the answer leaves (a test or a person reading the log right
  // after sees it): outcome from the status, the role refusal already written by assertRole.
  app.addHook('onSend', async (request, reply, payload) => {
    const action = request.routeOptions.config?.consoleAction;
    const s = request.consoleSession;
    if (!action || !s || !changes(request.method) || request.consoleAudit?.written) return payload;
    const status = request.consoleErrorStatus ?? reply.statusCode;
    const outcome = status < 400 ? 'ok' : status === 403 ? 'denied' : 'failed';
    await auditConsole(db, consoleActor(s.user, request), {
      action, object: auditObject(request), outcome, details: { status, ...request.consoleAudit?.details },
    });
    return payload;
  });

  app.setErrorHandler(async (error: FastifyError | CabinetError, request, reply) => consoleError(error, request, reply));
  app.setNotFoundHandler(async (request, reply) => consoleError(new CabinetError(404, 'Страница не найдена.'), request, reply));

  for (const r of CONSOLE_ROUTES) await r(app, deps);
}
