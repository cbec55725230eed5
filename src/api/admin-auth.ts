// Bearer-token guard of /admin/*: the token is MAGISTRAL_ADMIN_TOKEN, compared in constant time.
// The queue dashboard also takes `?token=` once and then a derived httpOnly cookie, so a browser can open it.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { MagistralError } from '../errors/index.ts';
import type { LoginGuard } from '../port/port.ts';

export const DASHBOARD_COOKIE = 'magistral_admin';

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time equality of two secrets (hashing first makes the lengths equal and hides them). */
export function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** The cookie carries a value derived from the token, never the token itself; rotating the token invalidates it. */
export function dashboardCookieValue(token: string): string {
  return createHmac('sha256', token).update('magistral-admin-dashboard-cookie-v1').digest('base64url');
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

function bearer(request: FastifyRequest): string | undefined {
  const h = request.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1];
}

function unauthorized(reply: FastifyReply, message: string): MagistralError {
  reply.header('www-authenticate', 'Bearer realm="magistral-admin"');
  return new MagistralError('MAG_ERR_UNAUTHORIZED', message);
}

export interface AdminAuthOptions {
  /** Accept `?token=` (then redirect without it, setting the cookie) and the cookie itself. For the dashboard only. */
  browser?: { cookiePath: string };
  /** Throttles wrong tokens per source address (surface `admin`). */
  logins?: LoginGuard;
}

/** 429 with Retry-After for a source that failed too often (its credential is not checked). */
export function tooManyFailures(reply: FastifyReply, seconds: number): MagistralError {
  reply.header('retry-after', String(seconds));
  return new MagistralError('MAG_ERR_TOO_MANY_FAILURES', `too many failed logins from this address: retry after ${seconds} s`);
}

/** An onRequest hook refusing requests without the admin token (401 MAG_ERR_UNAUTHORIZED). */
export function adminAuth(token: string | undefined, opts: AdminAuthOptions = {}): onRequestAsyncHookHandler {
  const cookieValue = token ? dashboardCookieValue(token) : undefined;
  return async function checkAdminToken(request, reply) {
    if (!token || !cookieValue) {
      throw unauthorized(reply, 'the admin API is disabled: MAGISTRAL_ADMIN_TOKEN is unset; set it (16 characters or more) and restart');
    }
    const logins = opts.logins;
    const wait = logins?.retryAfterSeconds('admin', request.ip) ?? 0;
    if (wait > 0) throw tooManyFailures(reply, wait);
    const given = bearer(request);
    if (given !== undefined) {
      if (sameSecret(given, token)) return logins?.succeeded('admin', request.ip);
      logins?.failed('admin', request.ip);
      throw unauthorized(reply, 'the bearer token does not match MAGISTRAL_ADMIN_TOKEN');
    }
    if (opts.browser) {
      const url = new URL(request.url, 'http://local');
      const queryToken = url.searchParams.get('token');
      if (queryToken !== null) {
        if (!sameSecret(queryToken, token)) {
          logins?.failed('admin', request.ip);
          throw unauthorized(reply, 'the token does not match MAGISTRAL_ADMIN_TOKEN');
        }
        // Keep the token out of the browser history and of later request logs: set the cookie, drop the query.
        url.searchParams.delete('token');
        const secure = request.protocol === 'https' ? '; Secure' : '';
        reply.header('set-cookie', `${DASHBOARD_COOKIE}=${cookieValue}; Path=${opts.browser.cookiePath}; HttpOnly; SameSite=Strict; Max-Age=43200${secure}`);
        return reply.redirect(url.pathname + url.search, 302);
      }
      const cookie = readCookie(request.headers.cookie, DASHBOARD_COOKIE);
      // A cookie that no longer matches is one from before a token rotation (it is an HMAC, not a guess):
      // not counted, or a browser's every request would lock its address out of the dashboard.
      if (cookie !== undefined && sameSecret(cookie, cookieValue)) return;
    }
    throw unauthorized(reply, 'missing admin token: send "Authorization: Bearer <MAGISTRAL_ADMIN_TOKEN>"');
  };
}
