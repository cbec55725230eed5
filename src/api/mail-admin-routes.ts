// The e-mail outbox for operators (under /admin/api, admin token): what is queued, sent or failed, and a
// retry of a message that gave up. What `magistral mail …` does.
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from './deps.ts';
import { MagistralError } from '../errors/index.ts';
import { listOutbox, retryMail, type OutboxState } from '../backoffice/outbox.ts';
import { errorBodySchema } from './error-handler.ts';

const mailView = {
  type: 'object',
  properties: {
    id: { type: 'integer' }, state: { type: 'string', enum: ['queued', 'sent', 'failed'] }, kind: { type: 'string' }, to: { type: 'string' },
    subject: { type: 'string' }, attachments: { type: 'integer' }, attempts: { type: 'integer' }, lastError: { type: ['string', 'null'] },
    createdAt: { type: 'string' }, sentAt: { type: ['string', 'null'] }, nextAttemptAt: { type: ['string', 'null'] },
  },
} as const;

export async function mailAdminRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.get<{ Querystring: { state?: OutboxState; kind?: string; limit?: number; before?: number } }>('/', {
    schema: {
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          state: { type: 'string', enum: ['queued', 'sent', 'failed'] }, kind: { type: 'string', maxLength: 50 },
          limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 }, before: { type: 'integer', minimum: 1, description: 'keyset: messages with a smaller id' },
        },
      },
      response: { 200: { type: 'object', properties: { mails: { type: 'array', items: mailView } } }, 400: errorBodySchema, 401: errorBodySchema },
    },
  }, async (request) => ({ mails: await listOutbox(deps.db, { state: request.query.state, kind: request.query.kind, limit: request.query.limit, beforeId: request.query.before }) }));

  app.post<{ Params: { id: number } }>('/:id/retry', {
    schema: {
      params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 } } },
      response: { 200: { type: 'object', properties: { id: { type: 'integer' }, queued: { type: 'boolean' } } }, 400: errorBodySchema, 401: errorBodySchema, 404: errorBodySchema },
    },
  }, async (request) => {
    if (!(await retryMail(deps.db, request.params.id))) throw new MagistralError('MAG_ERR_NOT_FOUND', `no unsent e-mail ${request.params.id} in the outbox`);
    return { id: request.params.id, queued: true };
  });
}
