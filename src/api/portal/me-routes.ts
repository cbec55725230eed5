// Who the request acts for: the client with its manager, city and agreements, the legal entities it
// may order for (for a contact: the ones it is linked to), and the pricing in force.
import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../deps.ts';
import { cityOnlyQuerystring, errorResponses, onBehalfHeaders, security } from './schemas.ts';

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
}
