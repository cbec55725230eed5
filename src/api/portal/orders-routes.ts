// Orders of the client of the request: place one (prices resolved server-side, Idempotency-Key
// honoured), list them page by page, read one. Another client's order is simply not there (404).
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../deps.ts';
import { MagistralError } from '../../errors/index.ts';
import { getOrder, listOrders, listOrderStatuses, placeOrder } from '../../orders/index.ts';
import { enqueueDueOrders } from '../../pipeline/outbound.ts';
import { requireClient } from './auth.ts';
import { assertOrderVisible, contactActor } from '../../backoffice/rights.ts';
import { CREDIT_PAYMENT_KIND } from '../../backoffice/credit.ts';
import { cityOnlyQuerystring, cityQuery, errorResponses, onBehalfHeaders, security, skuSchema } from './schemas.ts';

const MAX_LINES = 500;
const nullableString = { type: ['string', 'null'] } as const;

const statusSchema = {
  type: 'object', required: ['code', 'name', 'final'],
  properties: { code: { type: 'string' }, name: { type: 'string' }, final: { type: 'boolean' } },
} as const;

const summaryProps = {
  number: { type: 'string', description: 'portal order number, e.g. M-000123' },
  status: statusSchema,
  legalEntity: { type: 'object', required: ['code', 'name', 'inn'], properties: { code: { type: 'string' }, name: { type: 'string' }, inn: nullableString } },
  contact: nullableString,
  currency: { type: 'string' },
  total: { type: 'string', description: 'exact, 2 decimals' },
  comment: nullableString,
  erpNumber: { ...nullableString, description: 'number of the order in the ERP' },
  erpDate: { ...nullableString, format: 'date-time' },
  paid: { type: 'boolean' },
  paidAt: { ...nullableString, format: 'date-time' },
  shipped: { type: 'boolean' },
  shippedAt: { ...nullableString, format: 'date-time' },
  cancelled: { type: 'boolean' },
  approval: { type: ['string', 'null'], enum: ['waiting', 'approved', 'rejected', null], description: 'a head\'s approval of a subordinate\'s order above the head\'s threshold: waiting orders are not sent to the ERP' },
  approvalComment: nullableString,
  origin: { type: 'string', enum: ['portal', 'offline'], description: 'portal: placed here; offline: made in the ERP (by phone, by a manager) and learnt from its exchange' },
  deliveryAddress: { ...nullableString, description: 'where to deliver, as given at checkout' },
  paymentKind: { ...nullableString, description: 'payment kind chosen at checkout' },
  placedByManager: { ...nullableString, description: 'name of the manager who placed the order working as the client in the cabinet; null when the client placed it' },
  createdAt: { type: 'string', format: 'date-time' },
  updatedAt: { type: 'string', format: 'date-time' },
} as const;
const summaryRequired = Object.keys(summaryProps);

const orderSchema = {
  type: 'object',
  required: [...summaryRequired, 'agreement', 'priceType', 'city', 'lines'],
  properties: {
    ...summaryProps,
    agreement: nullableString,
    priceType: nullableString,
    city: nullableString,
    lines: {
      type: 'array',
      items: {
        type: 'object',
        required: ['lineNo', 'sku', 'name', 'quantity', 'unit', 'price', 'basePrice', 'discountPercent', 'amount'],
        properties: {
          lineNo: { type: 'integer' }, sku: { type: 'string' }, name: { type: 'string' }, quantity: { type: 'string' }, unit: nullableString,
          price: { type: 'string', description: 'unit price after discount' }, basePrice: nullableString, discountPercent: nullableString,
          amount: { type: 'string' },
        },
      },
    },
  },
} as const;

interface PlaceBody {
  legalEntity: string;
  lines: Array<{ sku: string; quantity: string }>;
  comment?: string;
  paymentKind?: string;
}

export async function ordersRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.post<{ Body: PlaceBody; Headers: { 'idempotency-key'?: string } }>('/orders', {
    config: { scope: 'orders:write' },
    schema: {
      tags: ['orders'],
      summary: 'Place an order for a legal entity of the client',
      description: 'Lines carry SKU and quantity only: prices are resolved here from the client\'s agreement or city, never taken from the request '
        + '(a `price` in a line is refused). Unknown SKUs or products without a price answer 400 naming each line. '
        + 'Send an Idempotency-Key to make retries safe: the same key and request answer the same order.',
      security,
      headers: {
        type: 'object',
        properties: { ...onBehalfHeaders.properties, 'idempotency-key': { type: 'string', minLength: 1, maxLength: 200 } },
      },
      querystring: cityOnlyQuerystring,
      body: {
        type: 'object', required: ['legalEntity', 'lines'], additionalProperties: false,
        properties: {
          legalEntity: { type: 'string', minLength: 1, maxLength: 150, description: 'code of the legal entity the order is for' },
          comment: { type: 'string', maxLength: 2000 },
          paymentKind: {
            type: 'string', minLength: 1, maxLength: 100,
            description: `how the buyer pays, kept on the order; '${CREDIT_PAYMENT_KIND}' orders on credit: open to the client's heads and to contacts `
              + 'whose authority a head confirmed, and refused (403, problems name the rule) while debt + open orders + this order exceed the limit or overdue debt blocks it',
          },
          lines: {
            type: 'array', minItems: 1, maxItems: MAX_LINES,
            items: {
              type: 'object', required: ['sku', 'quantity'], additionalProperties: false,
              properties: {
                sku: skuSchema,
                // Numbers are accepted and read as their decimal text (coercion), strings keep every digit.
                quantity: { type: 'string', pattern: '^[0-9]{1,14}(\\.[0-9]{1,6})?$', description: 'positive decimal quantity (number or string)' },
              },
            },
          },
        },
      },
      response: { 200: orderSchema, 201: orderSchema, ...errorResponses, 409: { ...errorResponses[400], description: 'Idempotency-Key reused for another request' } },
    },
  }, async (request, reply) => {
    const ctx = request.portal;
    const clientId = requireClient(ctx);
    const { order, created } = await placeOrder(deps.db, {
      clientId, contactId: ctx.contactId, cityId: ctx.cityId, legalEntity: request.body.legalEntity, lines: request.body.lines,
      comment: request.body.comment, idempotencyKey: request.headers['idempotency-key'], apiKeyId: ctx.keyId, linesPath: '/body/lines',
      ...(request.body.paymentKind !== undefined ? { paymentKind: request.body.paymentKind } : {}),
      actor: contactActor({ clientId, contactId: ctx.contactId }, { ip: request.ip, userAgent: request.headers['user-agent'] ?? null }),
    });
    if (!created) reply.header('idempotent-replayed', 'true');
    // Outbound flows (SAP …) get the order now rather than at the workers' next sweep; the sweep is the
    // safety net when Redis is down, so a failure here is only logged.
    else await enqueueDueOrders(deps, { orderNumber: order.number }).catch((e: unknown) => request.log.warn({ err: (e as Error).message }, 'order not queued for outbound flows; the sweep will'));
    return reply.code(created ? 201 : 200).send(order);
  });

  app.get<{ Querystring: { status?: string; legalEntity?: string; limit: number; cursor?: string } }>('/orders', {
    config: { scope: 'orders:read' },
    schema: {
      tags: ['orders'],
      summary: 'The client\'s orders, newest first, page by page',
      description: 'A contact heading the client (a head of any of its legal entities) sees every order of the client; a subordinate its own. Next page: `cursor=nextCursor`. A `legalEntity` that is not the client\'s is 404.',
      security,
      headers: onBehalfHeaders,
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          city: cityQuery,
          status: { type: 'string', minLength: 1, maxLength: 64, description: 'status code' },
          legalEntity: { type: 'string', minLength: 1, maxLength: 150, description: 'legal entity code' },
          limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
          cursor: { type: 'string', minLength: 1, maxLength: 200 },
          origin: { type: 'string', enum: ['portal', 'offline'] },
        },
      },
      response: {
        200: {
          type: 'object', required: ['orders', 'nextCursor'],
          properties: { orders: { type: 'array', items: { type: 'object', required: summaryRequired, properties: summaryProps } }, nextCursor: nullableString },
        },
        ...errorResponses,
      },
    },
  }, async (request) => {
    const ctx = request.portal;
    return listOrders(deps.db, { clientId: requireClient(ctx), contactId: ctx.contactId }, request.query);
  });

  app.get<{ Params: { number: string } }>('/orders/:number', {
    config: { scope: 'orders:read' },
    schema: {
      tags: ['orders'],
      summary: 'One order of the client with its lines',
      security,
      headers: onBehalfHeaders,
      params: { type: 'object', required: ['number'], properties: { number: { type: 'string', minLength: 1, maxLength: 64 } } },
      querystring: cityOnlyQuerystring,
      response: { 200: orderSchema, ...errorResponses },
    },
  }, async (request) => {
    const ctx = request.portal;
    const viewer = { clientId: requireClient(ctx), contactId: ctx.contactId };
    // Another contact's order of the client: 403 (audited) for a subordinate, nothing of it shown.
    await assertOrderVisible(deps.db, viewer, request.params.number, contactActor(viewer, { ip: request.ip, userAgent: request.headers['user-agent'] ?? null }));
    const order = await getOrder(deps.db, viewer, request.params.number);
    if (!order) throw new MagistralError('MAG_ERR_NOT_FOUND', `no order ${request.params.number}`);
    return order;
  });

  app.get('/order-statuses', {
    config: { scope: 'orders:read' },
    schema: {
      tags: ['orders'],
      summary: 'Order statuses (set by the ERP through flows)',
      security,
      querystring: cityOnlyQuerystring,
      response: {
        200: { type: 'object', required: ['statuses'], properties: { statuses: { type: 'array', items: { ...statusSchema, properties: { ...statusSchema.properties, sort: { type: ['integer', 'null'] } } } } } },
        ...errorResponses,
      },
    },
  }, async () => ({ statuses: await listOrderStatuses(deps.db) }));
}
