// Cookie attributes of the console: its own path (/console) and cookie, HttpOnly, SameSite=Lax (a link
// from an alert opens the console signed in; every change still needs the session's CSRF token), Secure
// when the public address is https.
import type { ServerDeps } from '../../api/deps.ts';
import { CONSOLE_SESSION_IDLE_HOURS } from '../../console/sessions.ts';

export const CONSOLE_PRE_CSRF_COOKIE = 'mg_con_pre';

export function consoleCookieOptions(deps: ServerDeps): { path: string; httpOnly: true; sameSite: 'lax'; secure: boolean; maxAge: number } {
  return { path: '/console', httpOnly: true, sameSite: 'lax', secure: (deps.config.MAGISTRAL_PUBLIC_URL ?? '').startsWith('https:'), maxAge: CONSOLE_SESSION_IDLE_HOURS * 3600 };
}
