// What every /manager route reads from its request (set by the plugin's hook, index.ts) and the guard
// pages use. Authorization of actions on a client lives in the services (assertOwnClient).
import type { FastifyRequest } from 'fastify';
import { CabinetError } from '../../cabinet/errors.ts';
import { managerActor, type ManagerSession } from '../../backoffice/managers.ts';
import type { Actor } from '../../backoffice/audit.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in manager's session; null on the sign-in pages. */
    managerSession: ManagerSession | null;
    managerExpired: boolean;
  }
}

export function requireManager(request: FastifyRequest): ManagerSession {
  const s = request.managerSession;
  if (!s) throw new CabinetError(401, request.managerExpired ? 'Сессия истекла. Войдите снова.' : 'Войдите, чтобы открыть рабочее место менеджера.');
  return s;
}

/** The audit log's actor for this request (the manager, with the request's address and browser). */
export function actorOf(request: FastifyRequest): Actor & { kind: 'manager' } {
  return managerActor(requireManager(request), request) as Actor & { kind: 'manager' };
}

/** Only a path inside the workplace may be a redirect target. */
export function safeManagerNext(next: unknown, fallback = '/manager'): string {
  return typeof next === 'string' && /^\/manager(\/|$|\?)/.test(next) && !next.startsWith('//') && !/[\r\n\\]/.test(next) ? next : fallback;
}

/** A numeric id from the path; anything else is a 404 (never a 500 from the database). */
export function idParam(request: FastifyRequest, name = 'id'): number {
  const v = (request.params as Record<string, string>)[name] ?? '';
  if (!/^[0-9]{1,15}$/.test(v)) throw new CabinetError(404, 'Не найдено.');
  return Number(v);
}

export { field, fields, isHtmx } from '../cabinet/request.ts';
