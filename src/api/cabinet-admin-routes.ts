// Admin side of the client cabinet (under /admin/api, admin token): invite a contact (the link is
// e-mailed through the outbox and returned), list self-registered buyers, approve or reject them.
// What `magistral cabinet …` does, for a back office or an ERP script.
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from './deps.ts';
import { MagistralError, type ErrorCode } from '../errors/index.ts';
import { CabinetError } from '../cabinet/errors.ts';
import { decideSignup, inviteContact, listSignups } from '../cabinet/accounts.ts';
import { errorBodySchema } from './error-handler.ts';
import { publicUrl } from '../web/cabinet/settings.ts';

const errors = { 400: errorBodySchema, 401: errorBodySchema, 404: errorBodySchema, 409: errorBodySchema } as const;

/** The cabinet's services speak Russian to buyers; the admin API answers in its own error format, with that text. */
async function asAdmin<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (!(e instanceof CabinetError)) throw e;
    const code: ErrorCode = e.status === 404 ? 'MAG_ERR_NOT_FOUND' : e.status === 409 ? 'MAG_ERR_CONFLICT' : 'MAG_ERR_BAD_REQUEST';
    throw new MagistralError(code, e.message, e.field ? [{ path: `/body/${e.field}`, rule: 'cabinet', message: e.message }] : undefined);
  }
}

const signupView = {
  type: 'object',
  properties: {
    id: { type: 'integer' }, status: { type: 'string' }, company: { type: 'string' }, inn: { type: 'string' }, kpp: { type: ['string', 'null'] },
    contactName: { type: 'string' }, email: { type: 'string' }, phone: { type: ['string', 'null'] }, createdAt: { type: 'string' },
    decidedAt: { type: ['string', 'null'] }, decidedBy: { type: ['string', 'null'] }, reason: { type: ['string', 'null'] },
  },
} as const;

export async function cabinetAdminRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const db = deps.db;

  app.post<{ Body: { contact: string; email?: string } }>('/invitations', {
    schema: {
      body: { type: 'object', required: ['contact'], additionalProperties: false, properties: { contact: { type: 'string', minLength: 1 }, email: { type: 'string', minLength: 3 } } },
      response: { 201: { type: 'object', properties: { contact: { type: 'string' }, email: { type: 'string' }, url: { type: 'string' } } }, ...errors },
    },
  }, async (request, reply) => {
    const inv = await asAdmin(() => inviteContact(db, { contactCode: request.body.contact, email: request.body.email, publicUrl: publicUrl(deps) }));
    return reply.code(201).send({ contact: request.body.contact, email: inv.email, url: inv.url });
  });

  app.get<{ Querystring: { status?: 'pending' | 'approved' | 'rejected' } }>('/signups', {
    schema: {
      querystring: { type: 'object', additionalProperties: false, properties: { status: { type: 'string', enum: ['pending', 'approved', 'rejected'], default: 'pending' } } },
      response: { 200: { type: 'object', properties: { signups: { type: 'array', items: signupView } } }, ...errors },
    },
  }, async (request) => ({
    signups: (await listSignups(db, request.query.status ?? 'pending')).map((s) => ({
      id: s.id, status: s.status, company: s.company, inn: s.inn, kpp: s.kpp, contactName: s.contact_name, email: s.email, phone: s.phone,
      createdAt: s.created_at.toISOString(), decidedAt: s.decided_at?.toISOString() ?? null, decidedBy: s.decided_by, reason: s.reason,
    })),
  }));

  for (const [action, approve] of [['approve', true], ['reject', false]] as const) {
    app.post<{ Params: { id: number }; Body: { by?: string; reason?: string } | undefined }>(`/signups/:id/${action}`, {
      schema: {
        params: { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } },
        body: { type: ['object', 'null'], additionalProperties: false, properties: { by: { type: 'string', maxLength: 200 }, reason: { type: 'string', maxLength: 2000 } } },
        response: { 200: { type: 'object', properties: { id: { type: 'integer' }, status: { type: 'string' } } }, ...errors },
      },
    }, async (request) => {
      await asAdmin(() => decideSignup(db, request.params.id, { approve, by: request.body?.by ?? 'admin-api', reason: request.body?.reason }));
      return { id: request.params.id, status: approve ? 'approved' : 'rejected' };
    });
  }
}
