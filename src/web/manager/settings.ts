// Cookie attributes of the workplace: its own path (/manager) and cookie, HttpOnly, SameSite=Lax,
// Secure when the public address is https.
import type { ServerDeps } from '../../api/deps.ts';
import { MANAGER_SESSION_IDLE_HOURS } from '../../backoffice/managers.ts';

export const PRE_CSRF_COOKIE = 'mg_mgr_pre';

export function managerCookieOptions(deps: ServerDeps): { path: string; httpOnly: true; sameSite: 'lax'; secure: boolean; maxAge: number } {
  return { path: '/manager', httpOnly: true, sameSite: 'lax', secure: (deps.config.MAGISTRAL_PUBLIC_URL ?? '').startsWith('https:'), maxAge: MANAGER_SESSION_IDLE_HOURS * 3600 };
}
