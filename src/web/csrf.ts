// CSRF checks the web areas share (/cabinet, /manager, /console). A signed-in request that changes
// something presents its session's token (htmx: the X-CSRF-Token header from <body hx-headers>; a form: the
// `_csrf` field; a multipart form: `?_csrf=`, read before the body is). Before sign-in there is no session:
// the sign-in forms carry a double-submit token (a random value in a SameSite=Strict cookie and in the form),
// so another site cannot sign a browser in as someone else.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CabinetError } from '../cabinet/errors.ts';
import { newSecret } from '../cabinet/tokens.ts';

export function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The token a request presents (header, form field, or query string), if any. */
export function presentedCsrf(request: FastifyRequest): string | undefined {
  const q = request.query as Record<string, unknown> | undefined;
  const b = request.body as Record<string, unknown> | undefined;
  const given = request.headers['x-csrf-token'] ?? (typeof b?._csrf === 'string' ? b._csrf : undefined) ?? (typeof q?._csrf === 'string' ? q._csrf : undefined);
  return typeof given === 'string' ? given : undefined;
}

/** True when the request changes nothing or presents `expected`. */
export function csrfOk(request: FastifyRequest, expected: string): boolean {
  if (request.method === 'GET' || request.method === 'HEAD') return true;
  const given = presentedCsrf(request);
  return given !== undefined && sameToken(given, expected);
}

export const STALE_FORM = 'Форма устарела (нет защитного токена), действие не выполнено. Обновите страницу и повторите.';

/** The double-submit token of an area's sign-in forms: the cookie's value, made when absent. */
export function preSessionToken(request: FastifyRequest, reply: FastifyReply, cookie: { name: string; path: string; secure: boolean }): string {
  let t = request.cookies[cookie.name];
  if (!t || t.length > 100) {
    t = newSecret();
    reply.setCookie(cookie.name, t, { path: cookie.path, httpOnly: true, secure: cookie.secure, sameSite: 'strict', maxAge: 3600 });
  }
  return t;
}

/** Refuses (403) a sign-in form whose `_csrf` field is not its cookie's value. */
export function checkPreSessionToken(request: FastifyRequest, cookieName: string): void {
  const cookie = request.cookies[cookieName];
  const b = request.body as Record<string, unknown> | undefined;
  const given = typeof b?._csrf === 'string' ? b._csrf : undefined;
  if (!cookie || given === undefined || !sameToken(cookie, given)) throw new CabinetError(403, 'Форма устарела (нет защитного токена). Обновите страницу и повторите.');
}
