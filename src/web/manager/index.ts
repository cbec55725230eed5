// The manager workplace (/manager): one fastify plugin with its own cookie (mg_mgr), form and upload
// parsing, the manager's session on every request, CSRF checks on every non-GET request, Russian error
// pages, its stylesheet, and the route modules of its pages (MANAGER_ROUTES).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyError, FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import type { ServerDeps } from '../../api/deps.ts';
import { CabinetError } from '../../cabinet/errors.ts';
import { loadManagerSession, MANAGER_COOKIE, touchManagerSession } from '../../backoffice/managers.ts';
import { MAX_UPLOAD_BYTES } from '../cabinet/errors.tsx';
import { managerError } from './errors.tsx';
import { csrfOk, STALE_FORM } from '../csrf.ts';
import { managerAuthRoutes } from './auth-routes.tsx';
import { managerHomeRoutes } from './home-routes.tsx';
import { managerClientRoutes } from './client-routes.tsx';
import { managerOrdersRoutes } from './orders-routes.tsx';
import { managerSignupRoutes } from './signups-routes.tsx';
import { managerImpersonationRoutes } from './impersonations-routes.tsx';
import { managerCreditRoutes } from './credit-routes.tsx';
import { managerDocumentsRoutes } from './documents-routes.tsx';

/** Page modules: each registers its routes on the workplace's scope. */
const MANAGER_ROUTES: Array<(app: FastifyInstance, deps: ServerDeps) => Promise<void>> = [
  managerAuthRoutes, managerHomeRoutes, managerClientRoutes, managerOrdersRoutes, managerSignupRoutes, managerImpersonationRoutes,
  managerCreditRoutes, managerDocumentsRoutes,
];

const here = path.dirname(fileURLToPath(import.meta.url));
const CSS = readFileSync(path.join(here, '../assets/manager.css'));

export async function managerPlugin(app: FastifyInstance, opts: { deps: ServerDeps }): Promise<void> {
  const { deps } = opts;
  const { db } = deps;
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: 1024 * 1024 });
  await app.register(multipart, { limits: { fileSize: MAX_UPLOAD_BYTES, files: 1, fields: 50, fieldSize: 64 * 1024, parts: 60 } });

  app.get('/assets/manager.css', { config: { managerPublic: true, managerNoSession: true } }, async (_request, reply) =>
    reply.header('content-type', 'text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(CSS));

  app.addHook('preHandler', async (request) => {
    request.managerSession = null;
    request.managerExpired = false;
    if (request.routeOptions.config.managerNoSession) return;
    const presented = request.cookies[MANAGER_COOKIE];
    const s = await loadManagerSession(db, presented);
    request.managerExpired = presented !== undefined && s === undefined;
    if (s) {
      await touchManagerSession(db, s);
      request.managerSession = s;
    }
    // Public pages (sign-in, links) check their own pre-session token; the rest need a session and,
    // for anything that changes something, its CSRF token (htmx: header; forms: hidden field; multipart:
    // the query string, read before the body is).
    if (request.routeOptions.config.managerPublic) return;
    if (!s) throw new CabinetError(401, request.managerExpired ? 'Сессия истекла. Войдите снова.' : 'Войдите, чтобы открыть рабочее место менеджера.');
    if (!csrfOk(request, s.csrf)) throw new CabinetError(403, STALE_FORM);
  });

  app.setErrorHandler(async (error: FastifyError | CabinetError, request, reply) => managerError(error, request, reply));
  app.setNotFoundHandler(async (request, reply) => managerError(new CabinetError(404, 'Страница не найдена.'), request, reply));

  for (const r of MANAGER_ROUTES) await r(app, deps);
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A /manager route served without a signed-in manager (sign-in, password links). */
    managerPublic?: boolean;
    /** A /manager route that reads no session at all (static assets). */
    managerNoSession?: boolean;
  }
}
