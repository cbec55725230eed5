// Admin API of outbound orders (/admin/api/orders/:number/exports): where one order stands with each
// outbound flow (SAP …) — sent or failed, attempts, the last error, SAP's number — for the on-call engineer.
import type { FastifyInstance } from 'fastify';
import { MagistralError } from '../errors/index.ts';
import { orderExports, retryExport } from '../pipeline/outbound.ts';
import type { ServerDeps } from './deps.ts';
import { errorBodySchema } from './error-handler.ts';

const nullableString = { type: ['string', 'null'] } as const;
const exportSchema = {
  type: 'object',
  required: ['flow', 'state', 'attempts', 'lastError', 'lastErrorCode', 'externalNumber', 'externalRef', 'sentAt'],
  properties: {
    flow: { type: 'string' },
    state: { type: 'string', enum: ['pending', 'sent', 'failed'] },
    attempts: { type: 'integer' },
    lastError: nullableString,
    lastErrorCode: nullableString,
    externalNumber: nullableString,
    externalRef: nullableString,
    sentAt: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

export async function orderExportsRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.get<{ Params: { number: string } }>('/:number/exports', {
    schema: {
      params: { type: 'object', required: ['number'], properties: { number: { type: 'string', minLength: 1, maxLength: 64 } } },
      response: {
        200: { type: 'object', required: ['number', 'exports'], properties: { number: { type: 'string' }, exports: { type: 'array', items: exportSchema } } },
        '4xx': errorBodySchema,
      },
    },
  }, async (request) => {
    const { number } = request.params;
    const known = await deps.db.selectFrom('orders').select('id').where('number', '=', number).executeTakeFirst();
    if (!known) throw new MagistralError('MAG_ERR_NOT_FOUND', `no order ${number}`);
    const exports = await orderExports(deps, number);
    return { number, exports: exports.map((e) => ({ ...e, sentAt: e.sentAt?.toISOString() ?? null })) };
  });

  app.post<{ Params: { number: string; flow: string } }>('/:number/exports/:flow/retry', {
    schema: {
      params: {
        type: 'object', required: ['number', 'flow'],
        properties: { number: { type: 'string', minLength: 1, maxLength: 64 }, flow: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' } },
      },
      response: { 202: exportSchema, '4xx': errorBodySchema },
    },
  }, async (request, reply) => {
    const v = await retryExport(deps, request.params.number, request.params.flow);
    return reply.code(202).send({ ...v, sentAt: v.sentAt?.toISOString() ?? null });
  });
}
