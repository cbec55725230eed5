// Who the request acts for: the client with its manager, city and agreements, the legal entities it
// may order for (for a contact: the ones it is linked to), and the pricing in force.
import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../deps.ts';
import { cityOnlyQuerystring, errorResponses, onBehalfHeaders, security } from './schemas.ts';
import { requireClient } from './auth.ts';
import { MagistralError } from '../../errors/index.ts';
import { assertSettlements, contactActor, loadRights, settlementEntities } from '../../backoffice/rights.ts';
import { creditStatus, receivablesOf } from '../../backoffice/credit.ts';

const nullableString = { type: ['string', 'null'] } as const;

const meSchema = {
  type: 'object',
  required: ['client', 'contact', 'city', 'pricing', 'legalEntities', 'agreements'],
  properties: {
    client: {
      type: ['object', 'null'], required: ['code', 'name', 'blocked', 'manager'],
      properties: {
        code: { type: 'string' }, name: { type: 'string' }, blocked: { type: 'boolean' },
        pending: { type: 'boolean', description: 'registered on the portal and awaiting approval: base prices, no ordering' },
        manager: { type: ['object', 'null'], required: ['code', 'name'], properties: { code: { type: 'string' }, name: { type: 'string' }, email: nullableString, phone: nullableString, photoUrl: nullableString } },
      },
    },
    contact: { type: ['object', 'null'], required: ['code', 'name'], properties: { code: { type: 'string' }, name: { type: 'string' }, email: nullableString } },
    city: { type: ['object', 'null'], required: ['code', 'name'], properties: { code: { type: 'string' }, name: { type: 'string' } } },
    pricing: {
      type: 'object', required: ['priceType', 'discountPercent', 'currency', 'source'],
      properties: { priceType: nullableString, discountPercent: { type: 'string' }, currency: nullableString, source: { type: 'string', enum: ['agreement', 'city'] } },
    },
    legalEntities: {
      type: 'array',
      items: {
        type: 'object', required: ['code', 'name', 'inn', 'kpp', 'role'],
        properties: { code: { type: 'string' }, name: { type: 'string' }, inn: nullableString, kpp: nullableString, role: { ...nullableString, description: 'the contact\'s role: head or subordinate' } },
      },
    },
    agreements: {
      type: 'array',
      items: {
        type: 'object', required: ['code', 'name', 'legalEntity', 'priceType', 'discountPercent', 'creditLimit', 'paymentDelayDays', 'currency'],
        properties: {
          code: { type: 'string' }, name: { type: 'string' }, legalEntity: nullableString, priceType: nullableString, discountPercent: { type: 'string' },
          creditLimit: nullableString, paymentDelayDays: { type: ['integer', 'null'] }, currency: nullableString,
        },
      },
    },
  },
} as const;

export async function meRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.get('/me', {
    config: { scope: 'clients:read' },
    schema: {
      tags: ['clients'],
      summary: 'The client, contact, city and pricing the request acts with',
      security,
      headers: onBehalfHeaders,
      querystring: cityOnlyQuerystring,
      response: { 200: meSchema, ...errorResponses },
    },
  }, async (request) => {
    const ctx = request.portal;
    const db = deps.db;
    const [client, contact, city] = await Promise.all([
      ctx.clientId === null ? undefined : db.selectFrom('clients as c').leftJoin('managers as m', 'm.id', 'c.manager_id')
        .select(['c.code', 'c.name', 'c.blocked', 'c.pending', 'm.code as m_code', 'm.name as m_name', 'm.email as m_email', 'm.phone as m_phone', 'm.photo_url as m_photo'])
        .where('c.id', '=', ctx.clientId).executeTakeFirst(),
      ctx.contactId === null ? undefined : db.selectFrom('contacts').select(['code', 'name', 'email']).where('id', '=', ctx.contactId).executeTakeFirst(),
      ctx.cityId === null ? undefined : db.selectFrom('cities').select(['code', 'name']).where('id', '=', ctx.cityId).executeTakeFirst(),
    ]);
    let legalEntities: Array<{ code: string; name: string; inn: string | null; kpp: string | null; role: string | null }> = [];
    let agreements: Array<Record<string, unknown>> = [];
    if (ctx.clientId !== null) {
      const q = db.selectFrom('legal_entities as le').where('le.client_id', '=', ctx.clientId).where('le.deleted', '=', false).where('le.placeholder', '=', false);
      legalEntities = ctx.contactId !== null
        ? await q.innerJoin('contact_legal_entities as cl', (j) => j.onRef('cl.legal_entity_id', '=', 'le.id').on('cl.contact_id', '=', ctx.contactId as number))
          .select(['le.code', 'le.name', 'le.inn', 'le.kpp', 'cl.role']).orderBy('le.code').execute()
        : await q.select(['le.code', 'le.name', 'le.inn', 'le.kpp', sql<null>`NULL`.as('role')]).orderBy('le.code').execute();
      agreements = (await db.selectFrom('agreements as a').leftJoin('legal_entities as le', 'le.id', 'a.legal_entity_id').leftJoin('price_types as pt', 'pt.id', 'a.price_type_id')
        .select(['a.code', 'a.name', 'le.code as le_code', 'pt.code as pt_code', sql<string>`trim_scale(a.discount_percent)::text`.as('discount'),
          sql<string | null>`a.credit_limit::text`.as('credit_limit'), 'a.payment_delay_days', 'a.currency'])
        .where('a.client_id', '=', ctx.clientId).where('a.deleted', '=', false).where('a.placeholder', '=', false).orderBy('a.code').execute())
        .map((a) => ({
          code: a.code, name: a.name, legalEntity: a.le_code, priceType: a.pt_code, discountPercent: a.discount, creditLimit: a.credit_limit,
          paymentDelayDays: a.payment_delay_days, currency: a.currency,
        }));
    }
    return {
      client: client ? {
        code: client.code, name: client.name, blocked: client.blocked, pending: client.pending,
        manager: client.m_code ? { code: client.m_code, name: client.m_name as string, email: client.m_email, phone: client.m_phone, photoUrl: client.m_photo } : null,
      } : null,
      contact: contact ?? null,
      city: city ?? null,
      pricing: { priceType: ctx.pricing.priceTypeCode, discountPercent: ctx.pricing.discountPercent, currency: ctx.pricing.currency, source: ctx.pricing.source },
      legalEntities,
      agreements,
    };
  });

  const money = { type: 'string', description: 'exact, 2 decimals' } as const;
  const nullableMoney = { type: ['string', 'null'], description: 'exact, 2 decimals' } as const;
  app.get<{ Querystring: { legalEntity?: string } }>('/me/balance', {
    config: { scope: 'clients:read' },
    schema: {
      tags: ['clients'],
      summary: 'Balance and credit line per legal entity: limit, debt, open orders, available, overdue, the documents owed',
      description: 'Open to the client\'s heads and to contacts whose authority a head confirmed (stage 2); anyone else gets 403 (audited). '
        + 'Without legalEntity: every legal entity the contact may see.',
      security,
      headers: onBehalfHeaders,
      querystring: { type: 'object', additionalProperties: false, properties: { city: { type: 'string' }, legalEntity: { type: 'string', minLength: 1, maxLength: 150 } } },
      response: {
        200: {
          type: 'object', required: ['legalEntities'],
          properties: {
            legalEntities: {
              type: 'array',
              items: {
                type: 'object', required: ['code', 'name', 'credit', 'documents'],
                properties: {
                  code: { type: 'string' }, name: { type: 'string' },
                  credit: {
                    type: 'object', required: ['agreement', 'currency', 'limit', 'debt', 'openOrders', 'available', 'overdue', 'blocked', 'reason'],
                    properties: {
                      agreement: { type: ['string', 'null'] }, currency: { type: 'string' }, limit: nullableMoney, debt: money, openOrders: money,
                      available: nullableMoney, paymentDelayDays: { type: ['integer', 'null'] },
                      overdue: { type: 'object', required: ['amount', 'maxDays', 'documents'], properties: { amount: money, maxDays: { type: 'integer' }, documents: { type: 'integer' } } },
                      blocked: { type: 'boolean', description: 'ordering on credit is blocked now' }, reason: { type: ['string', 'null'], description: 'why, in Russian' },
                      reasonCode: { type: ['string', 'null'], enum: ['no-agreement', 'no-limit', 'overdue', 'limit', null] },
                    },
                  },
                  documents: {
                    type: 'array',
                    items: {
                      type: 'object', required: ['document', 'owed', 'currency', 'dueDate', 'overdueDays'],
                      properties: {
                        document: { type: 'string' }, agreement: { type: ['string', 'null'] }, kind: { type: ['string', 'null'] }, number: { type: ['string', 'null'] },
                        date: { type: ['string', 'null'], format: 'date' }, amount: nullableMoney, owed: money, currency: { type: 'string' },
                        dueDate: { type: ['string', 'null'], format: 'date' }, overdueDays: { type: 'integer' },
                      },
                    },
                  },
                },
              },
            },
          },
        },
        ...errorResponses,
      },
    },
  }, async (request) => {
    const ctx = request.portal;
    const viewer = { clientId: requireClient(ctx), contactId: ctx.contactId };
    const actor = contactActor(viewer, { ip: request.ip, userAgent: request.headers['user-agent'] ?? null });
    const rights = await loadRights(deps.db, viewer);
    let entities = rights.entities;
    if (request.query.legalEntity !== undefined) {
      entities = entities.filter((e) => e.code === request.query.legalEntity);
      if (!entities.length) throw new MagistralError('MAG_ERR_NOT_FOUND', `no legal entity ${request.query.legalEntity} of yours`);
      await assertSettlements(deps.db, viewer, entities[0]!.legalEntityId, actor);
    } else {
      entities = settlementEntities(rights);
      if (!entities.length) await assertSettlements(deps.db, viewer, rights.entities[0]?.legalEntityId ?? 0, actor);
    }
    const out = [];
    for (const e of entities) {
      const st = await creditStatus(deps.db, { clientId: viewer.clientId, legalEntityId: e.legalEntityId });
      const docs = await receivablesOf(deps.db, [e.legalEntityId]);
      out.push({
        code: e.code, name: e.name,
        credit: {
          agreement: st.agreement?.code ?? null, currency: st.currency, limit: st.limit, debt: st.debt, openOrders: st.openOrders, available: st.available,
          paymentDelayDays: st.paymentDelayDays, overdue: st.overdue, blocked: st.blocked, reason: st.reason, reasonCode: st.reasonCode,
        },
        documents: docs.map((d) => ({ document: d.document, agreement: d.agreement?.code ?? null, kind: d.kind, number: d.number, date: d.date, amount: d.amount, owed: d.owed, currency: d.currency, dueDate: d.dueDate, overdueDays: d.overdueDays })),
      });
    }
    return { legalEntities: out };
  });
}
