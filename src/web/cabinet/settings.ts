// Settings of the cabinet that follow from the configuration: the session cookie's attributes and the
// public address used in e-mailed links.
import type { FastifyRequest } from 'fastify';
import type { ServerDeps } from '../../api/deps.ts';
import { SESSION_IDLE_DAYS } from '../../cabinet/sessions.ts';

/** Cookie attributes of the session: HttpOnly, SameSite=Lax, Secure when the public address is https. */
export function sessionCookieOptions(deps: ServerDeps): { path: string; httpOnly: true; sameSite: 'lax'; secure: boolean; maxAge: number } {
  return { path: '/cabinet', httpOnly: true, sameSite: 'lax', secure: (deps.config.MAGISTRAL_PUBLIC_URL ?? '').startsWith('https:'), maxAge: SESSION_IDLE_DAYS * 86400 };
}

/**
 * The address links in e-mails point at. Never the request's Host header: a forged Host would make a
 * password-reset mail carry its token to another site.
 */
export function publicUrl(deps: ServerDeps, _request?: FastifyRequest): string {
  return deps.config.MAGISTRAL_PUBLIC_URL ?? `http://127.0.0.1:${deps.config.PORT}`;
}

