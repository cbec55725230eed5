// What every /console route reads from its request (set by the plugin's hook, index.ts) and the guards
// pages use. Which role may do what is decided in src/console/rights.ts, never in a template.
import type { FastifyRequest } from 'fastify';
import { CabinetError } from '../../cabinet/errors.ts';
import type { ConsoleSession } from '../../console/sessions.ts';
import { consoleActor, type ConsoleActor } from '../../console/rights.ts';
import type { ConsoleRole } from '../../console/users.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in console user's session; null on the sign-in page. */
    consoleSession: ConsoleSession | null;
    consoleExpired: boolean;
    /** What the audit entry of this change names (default: the route's parameters) and adds. */
    consoleAudit?: { object?: Record<string, unknown>; details?: Record<string, unknown>; written?: boolean };
    /** The status of the error the request ended with (an htmx request is answered 200 with the message). */
    consoleErrorStatus?: number;
  }
  interface FastifyContextConfig {
    /** A /console route served without a signed-in user (sign-in). */
    consolePublic?: boolean;
    /** A /console route that reads no session at all (static assets). */
    consoleNoSession?: boolean;
    /** The least role the route needs (default: viewer, i.e. any signed-in user). */
    consoleRole?: ConsoleRole;
    /** The audit log's action of a route that changes something ('flow.apply' → console.flow.apply); required for every non-GET route. */
    consoleAction?: string;
  }
}

export function requireConsole(request: FastifyRequest): ConsoleSession {
  const s = request.consoleSession;
  if (!s) throw new CabinetError(401, request.consoleExpired ? 'Сессия истекла. Войдите снова.' : 'Войдите, чтобы открыть консоль.');
  return s;
}

export function actorOf(request: FastifyRequest): ConsoleActor {
  return consoleActor(requireConsole(request).user, request);
}

/** Only a path inside the console may be a redirect target. */
export function safeConsoleNext(next: unknown, fallback = '/console'): string {
  return typeof next === 'string' && /^\/console(\/|$|\?)/.test(next) && !next.startsWith('//') && !/[\r\n\\]/.test(next) ? next : fallback;
}

export { field, isHtmx } from '../cabinet/request.ts';
