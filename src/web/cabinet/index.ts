// The client cabinet (/cabinet): one fastify plugin with its own cookie, form and upload parsing, the
// session and context of every request, CSRF checks on every non-GET request, Russian error pages, the
// static assets, and the route modules of its pages.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyError, FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import type { ServerDeps } from '../../api/deps.ts';
import { CabinetError } from '../../cabinet/errors.ts';
import { loadCabinetContext } from '../../cabinet/context.ts';
import { cartSummary } from '../../cabinet/cart-summary.ts';
import { createSession, loadSession, SESSION_COOKIE, touchSession, type DeadImpersonation } from '../../cabinet/sessions.ts';
import { cabinetError } from './errors.tsx';
import { authRoutes } from './auth-routes.tsx';
import { homeRoutes } from './home-routes.tsx';
import { accountRoutes } from './account-routes.tsx';
import { cartRoutes } from './cart.tsx';
import { ordersRoutes } from './orders.tsx';
import { documentsRoutes } from './documents.tsx';
import { quickOrderRoutes } from './quick-order.tsx';
import { priceListRoutes } from './price-lists.tsx';
import { catalogRoutes } from './catalog-routes.tsx';
import { searchRoutes } from './search-routes.tsx';
import { auditImpersonatedRequest, impersonationRoutes } from './impersonation-routes.tsx';
import { sessionCookieOptions } from './settings.ts';
import { balanceRoutes } from './balance-routes.tsx';
import { teamRoutes } from './team-routes.tsx';

/** The largest upload (quick order, filled price list): the 50 MB file is refused with a message. */
export { MAX_UPLOAD_BYTES } from './errors.tsx';
import { MAX_UPLOAD_BYTES } from './errors.tsx';
import { csrfOk, STALE_FORM } from '../csrf.ts';

/** Page modules: each registers its routes on the cabinet's scope. */
const ROUTES: Array<(app: FastifyInstance, deps: ServerDeps) => Promise<void>> = [authRoutes, homeRoutes, accountRoutes, catalogRoutes, searchRoutes, cartRoutes, ordersRoutes, documentsRoutes, quickOrderRoutes, priceListRoutes, balanceRoutes, teamRoutes, impersonationRoutes];

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const ASSETS: Record<string, { type: string; body: Buffer }> = {
  'htmx.min.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(require.resolve('htmx.org/dist/htmx.min.js')) },
  'cabinet.css': { type: 'text/css; charset=utf-8', body: readFileSync(path.join(here, '../assets/cabinet.css')) },
  'cabinet.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(path.join(here, '../assets/cabinet.js')) },
};

export async function cabinetPlugin(app: FastifyInstance, opts: { deps: ServerDeps }): Promise<void> {
  const { deps } = opts;
  const { db } = deps;
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: 1024 * 1024 });
  await app.register(multipart, { limits: { fileSize: MAX_UPLOAD_BYTES, files: 1, fields: 50, fieldSize: 64 * 1024, parts: 60 } });

  app.get('/assets/:name', { config: { cabinetPublic: true } }, async (request, reply) => {
    const a = ASSETS[(request.params as { name: string }).name];
    if (!a) throw new CabinetError(404, 'Файл не найден.');
    return reply.header('content-type', a.type).header('cache-control', 'public, max-age=3600').send(a.body);
  });

  app.addHook('preHandler', async (request, reply) => {
    if (request.routeOptions.config.cabinetPublic) return;
    const presented = request.cookies[SESSION_COOKIE];
    let dead: DeadImpersonation | undefined;
    let session = presented ? await loadSession(db, presented, async (d) => { dead = d; }) : undefined;
    request.cabinetExpired = presented !== undefined && session === undefined;
    if (dead) {
      // A manager's "work as client" ended (30 minutes passed, ended in another tab, the client given to
      // another manager): loadSession recorded it; the manager goes back to the client's card, and an
      // action sent from the old page is not done.
      reply.clearCookie(SESSION_COOKIE, { path: '/cabinet' });
      const back = `/manager/clients/${dead.clientId}?impersonation=${dead.why === 'expired' ? 'expired' : 'ended'}`;
      if (request.method === 'GET' || request.method === 'HEAD') {
        if (request.headers['hx-request'] === 'true') return reply.header('hx-redirect', back).code(200).send('');
        return reply.redirect(back, 303);
      }
      const fresh = await createSession(db);
      reply.setCookie(SESSION_COOKIE, fresh.id, sessionCookieOptions(deps));
      request.cabinet = await loadCabinetContext(db, fresh.row);
      request.cabinetCart = null;
      throw new CabinetError(409, dead.why === 'expired'
        ? 'Сеанс работы как клиент завершён: прошло 30 минут. Действие не выполнено — начните сеанс заново со страницы клиента.'
        : 'Сеанс работы как клиент уже завершён. Действие не выполнено — начните сеанс заново со страницы клиента.');
    }
    if (!session) {
      const s = await createSession(db);
      session = s.row;
      reply.setCookie(SESSION_COOKIE, s.id, sessionCookieOptions(deps));
    } else {
      await touchSession(db, session);
    }
    // CSRF: every request that changes something carries the session's token (htmx: header; forms:
    // a hidden field; multipart forms: the query string, read before the body is).
    if (!csrfOk(request, session.csrf)) {
      request.cabinet = await loadCabinetContext(db, session);
      request.cabinetCart = null;
      throw new CabinetError(403, request.cabinetExpired ? 'Сессия истекла, действие не выполнено. Войдите снова и повторите его.' : STALE_FORM);
    }
    const ctx = await loadCabinetContext(db, session);
    request.cabinet = ctx;
    request.cabinetCart = ctx.contact && ctx.legalEntity ? await cartSummary(db, { contactId: ctx.contact.id, legalEntityId: ctx.legalEntity.id, pricing: ctx.pricing }) : null;
  });

  // A manager working as a client: every request that changes something is in the audit log with the
  // status it got (refusals too). Written as the answer goes out (onSend, after the error handler set the
  // status) rather than after it (onResponse): when the manager sees the result, its entry is there.
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.method === 'GET' || request.method === 'HEAD' || !request.cabinet?.impersonation) return payload;
    try {
      await auditImpersonatedRequest(db, request, reply.statusCode);
    } catch (e) {
      request.log.error({ err: e }, 'impersonation audit failed');
    }
    return payload;
  });

  app.setErrorHandler(async (error: FastifyError | CabinetError, request, reply) => cabinetError(error, request, reply));
  app.setNotFoundHandler(async (request, reply) => cabinetError(new CabinetError(404, 'Страница не найдена. Проверьте адрес или перейдите в каталог.'), request, reply));

  for (const r of ROUTES) await r(app, deps);
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A cabinet route served without a session (static assets). */
    cabinetPublic?: boolean;
  }
}
