// What every /cabinet route reads from its request (set by the plugin's hook, index.ts), and the guards
// pages use: a page for signed-in contacts sends an anonymous visitor to sign in; ordering needs a
// client that may order for the chosen legal entity. Authorization lives in the services; these only
// decide which page to show.
import type { FastifyRequest } from 'fastify';
import type { CabinetContext, OrderingContext, SignedInContext } from '../../cabinet/context.ts';
import type { CartSummary } from '../../cabinet/cart-summary.ts';
import { CabinetError } from '../../cabinet/errors.ts';
import type { Actor } from '../../backoffice/audit.ts';
import { contactActor } from '../../backoffice/rights.ts';

declare module 'fastify' {
  interface FastifyRequest {
    cabinet: CabinetContext;
    /** The cart total of the context bar; null for anonymous visitors. */
    cabinetCart: CartSummary | null;
    /** The request presented a session cookie that is no longer valid (expired or signed out elsewhere). */
    cabinetExpired: boolean;
  }
}

export function requireContact(request: FastifyRequest): SignedInContext {
  const ctx = request.cabinet;
  if (!ctx.contact || !ctx.client) {
    throw new CabinetError(401, request.cabinetExpired ? 'Сессия истекла. Войдите снова.' : 'Войдите, чтобы открыть эту страницу.');
  }
  return ctx as SignedInContext;
}

export function requireOrdering(request: FastifyRequest): OrderingContext {
  const ctx = requireContact(request);
  if (!ctx.canOrder || !ctx.legalEntity) throw new CabinetError(403, ctx.whyNoOrder ?? 'Оформление заказов недоступно.');
  return ctx as OrderingContext;
}

/** Only a path inside the cabinet may be a redirect target (no open redirect through ?next=). */
export function safeNext(next: unknown, fallback = '/cabinet'): string {
  return typeof next === 'string' && /^\/cabinet(\/|$|\?)/.test(next) && !next.startsWith('//') && !/[\r\n\\]/.test(next) ? next : fallback;
}

/** A form field as one string (the first when repeated), trimmed; '' when absent. */
export function field(body: unknown, name: string): string {
  const v = (body as Record<string, unknown> | undefined)?.[name];
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === 'string' ? s.trim() : '';
}

/** A form field that may repeat, as a list of strings. */
export function fields(body: unknown, name: string): string[] {
  const v = (body as Record<string, unknown> | undefined)?.[name];
  const list = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return list.filter((x): x is string => typeof x === 'string');
}

export const isHtmx = (request: FastifyRequest): boolean => request.headers['hx-request'] === 'true';

/**
 * Who acts in the audit log for a cabinet request: the contact, or — while a manager works as the
 * client — the manager, within the impersonation (so a refusal or a change is the manager's, not the
 * contact's).
 */
export function cabinetActor(ctx: SignedInContext, request: FastifyRequest): Actor {
  const from = { ip: request.ip, userAgent: request.headers['user-agent'] ?? null };
  return ctx.impersonation
    ? { kind: 'manager', id: ctx.impersonation.managerId, name: ctx.impersonation.managerName, ...from, impersonationId: ctx.impersonation.id }
    : contactActor({ clientId: ctx.client.id, contactId: ctx.contact.id }, { ...from, name: ctx.contact.name });
}
