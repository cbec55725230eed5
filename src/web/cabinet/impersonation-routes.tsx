// The cabinet's side of a manager working as a client: the banner's «Завершить» (back to the client's
// card in /manager) and the audit entry of every request that changes something while impersonating.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerDeps } from '../../api/deps.ts';
import { audit } from '../../backoffice/audit.ts';
import { endImpersonation } from '../../backoffice/impersonation.ts';
import { CabinetError } from '../../cabinet/errors.ts';
import { SESSION_COOKIE } from '../../cabinet/sessions.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** What a route adds to the audit entry of an impersonated request (the order placed …). */
    auditNote?: Record<string, unknown>;
  }
}

/** Form fields never written to the audit log (secrets), and how much of a value is kept. */
const SECRET_FIELD = /^_csrf$|password|^current$|token/i;
const MAX_FIELDS = 30;
const MAX_VALUE = 200;

/** The request's form fields as the audit keeps them: no secrets, short values, files by name only. */
function formFields(body: unknown): Record<string, string | string[]> | undefined {
  if (!body || typeof body !== 'object' || Buffer.isBuffer(body)) return undefined;
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(body as Record<string, unknown>).slice(0, MAX_FIELDS)) {
    if (SECRET_FIELD.test(k)) continue;
    const one = (x: unknown): string | undefined => (typeof x === 'string' ? x.slice(0, MAX_VALUE) : typeof x === 'number' || typeof x === 'boolean' ? String(x) : undefined);
    const value = Array.isArray(v) ? v.map(one).filter((x): x is string => x !== undefined).slice(0, MAX_FIELDS) : one(v);
    if (value !== undefined) out[k] = value;
  }
  return Object.keys(out).length ? out : undefined;
}

/** One audit entry for a non-GET cabinet request made while a manager works as the client. */
export async function auditImpersonatedRequest(db: ServerDeps['db'], request: FastifyRequest, status: number): Promise<void> {
  const ctx = request.cabinet;
  const imp = ctx.impersonation;
  if (!imp) return;
  const note = request.auditNote ?? {};
  // Ending the impersonation is its own entry (impersonation.end): no second one for the request.
  if (note.skip === true) return;
  await audit(db, { kind: 'manager', id: imp.managerId, name: imp.managerName, ip: request.ip, userAgent: request.headers['user-agent'] ?? null, impersonationId: imp.id }, {
    action: typeof note.order === 'string' ? 'order.place' : `http.${request.method.toLowerCase()}`,
    outcome: status >= 500 ? 'failed' : status === 401 || status === 403 ? 'denied' : 'ok',
    clientId: imp.clientId,
    details: {
      method: request.method, route: request.routeOptions.url ?? null, path: request.url.split('?')[0],
      status, contactId: ctx.contact?.id ?? null, legalEntityId: ctx.legalEntity?.id ?? null, fields: formFields(request.body), ...note,
    },
  });
}

export async function impersonationRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  // The banner's «Завершить»: the impersonation ends, the manager goes back to the client's card.
  app.post('/impersonation/end', async (request, reply) => {
    const imp = request.cabinet.impersonation;
    if (!imp) throw new CabinetError(404, 'Вы не работаете как клиент: завершать нечего.');
    request.auditNote = { skip: true };
    await endImpersonation(deps.db, { impersonationId: imp.id, reason: 'ended', ip: request.ip, userAgent: request.headers['user-agent'] ?? null });
    reply.clearCookie(SESSION_COOKIE, { path: '/cabinet' });
    return reply.redirect(`/manager/clients/${imp.clientId}?impersonation=ended`, 303);
  });
}
