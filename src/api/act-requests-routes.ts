// Admin API of reconciliation acts asked of ERPs (/admin/api/act-requests): every request with its state,
// attempts and last error, newest first, so the on-call engineer sees the failures (1C refusing the
// portal's credentials, a counterparty 1C does not know) without reading logs.
import type { FastifyInstance } from 'fastify';
import { listActRequests, type ActRequestState } from '../backoffice/act-requests.ts';
import type { ServerDeps } from './deps.ts';
import { errorBodySchema } from './error-handler.ts';

const nullableString = { type: ['string', 'null'] } as const;
const requestSchema = {
  type: 'object',
  required: ['id', 'flow', 'legalEntity', 'from', 'to', 'state', 'attempts', 'lastError', 'lastErrorCode', 'reason', 'createdAt', 'doneAt'],
  properties: {
    id: { type: 'integer' },
    flow: { type: 'string' },
    legalEntity: { type: 'object', required: ['id', 'name'], properties: { id: { type: 'integer' }, name: { type: 'string' } } },
    agreement: nullableString,
    from: { type: 'string', format: 'date' },
    to: { type: 'string', format: 'date' },
    state: { type: 'string', enum: ['pending', 'done', 'failed'] },
    attempts: { type: 'integer' },
    lastError: nullableString,
    lastErrorCode: nullableString,
    reason: nullableString,
    number: nullableString,
    actDate: nullableString,
    contactId: { type: ['integer', 'null'] },
    managerId: { type: ['integer', 'null'] },
    createdAt: { type: 'string', format: 'date-time' },
    doneAt: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

export async function actRequestsRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.get<{ Querystring: { state?: ActRequestState; limit?: number } }>('/', {
    schema: {
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { state: { type: 'string', enum: ['pending', 'done', 'failed'] }, limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 } },
      },
      response: { 200: { type: 'object', required: ['requests'], properties: { requests: { type: 'array', items: requestSchema } } }, '4xx': errorBodySchema },
    },
  }, async (request) => {
    const rows = await listActRequests(deps.db, { state: request.query.state, limit: request.query.limit });
    return {
      requests: rows.map((r) => ({
        id: r.id, flow: r.flow, legalEntity: { id: r.legalEntityId, name: r.legalEntityName }, agreement: r.agreementCode, from: r.from, to: r.to,
        state: r.state, attempts: r.attempts, lastError: r.lastError, lastErrorCode: r.lastErrorCode, reason: r.reason, number: r.number, actDate: r.actDate,
        contactId: r.contactId, managerId: r.managerId, createdAt: r.createdAt.toISOString(), doneAt: r.doneAt?.toISOString() ?? null,
      })),
    };
  });
}
