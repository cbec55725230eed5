// Admin side of the portal (under /admin/api, admin token): which price type a city shows, which
// city a price type or warehouse serves, the default city, and the API keys of portal frontends.
// Flows fill the same columns; these routes are for what the ERP does not know.
import { sql, type Kysely } from 'kysely';
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../deps.ts';
import type { Database } from '../../db/index.ts';
import { MagistralError } from '../../errors/index.ts';
import { createApiKey, KNOWN_SCOPES, listApiKeys, revokeApiKey } from '../../portal/keys.ts';
import { errorBodySchema } from '../error-handler.ts';
import { DEFAULT_CITY_SETTING } from './auth.ts';

const codeParam = { type: 'object', required: ['code'], properties: { code: { type: 'string', minLength: 1, maxLength: 150 } } } as const;
const nullableCode = { type: ['string', 'null'], minLength: 1, maxLength: 150 } as const;
const nullableString = { type: ['string', 'null'] } as const;
const errors = { 400: errorBodySchema, 401: errorBodySchema, 404: errorBodySchema } as const;

const cityView = {
  type: 'object',
  required: ['code', 'name', 'priceType', 'boundPriceTypes', 'warehouses', 'default'],
  properties: {
    code: { type: 'string' }, name: { type: 'string' },
    priceType: { ...nullableString, description: 'the designated price type (what visitors and clients without an agreement see)' },
    boundPriceTypes: { type: 'array', items: { type: 'string' } },
    warehouses: { type: 'array', items: { type: 'string' } },
    default: { type: 'boolean' },
  },
} as const;

type Db = Kysely<Database>;
type Named = 'cities' | 'price_types' | 'warehouses';

/** An entity by code: a real one before a placeholder, the oldest first (codes repeat across systems). */
async function idOf(db: Db, table: Named, code: string, label: string): Promise<number> {
  const r = await db.selectFrom(table).select('id').where('code', '=', code).orderBy('placeholder').orderBy('id').executeTakeFirst();
  if (!r) throw new MagistralError('MAG_ERR_NOT_FOUND', `no ${label} '${code}'`);
  return r.id;
}

async function cities(db: Db, code?: string) {
  const r = await sql<{ code: string; name: string; price_type: string | null; bound: string[]; warehouses: string[]; is_default: boolean }>`
    SELECT c.code, c.name, pt.code AS price_type,
      coalesce((SELECT array_agg(x.code ORDER BY x.code) FROM price_types x WHERE x.city_id = c.id), '{}') AS bound,
      coalesce((SELECT array_agg(w.code ORDER BY w.code) FROM warehouses w WHERE w.city_id = c.id), '{}') AS warehouses,
      EXISTS (SELECT 1 FROM portal_settings s WHERE s.key = ${DEFAULT_CITY_SETTING} AND s.value = c.code) AS is_default
    FROM cities c LEFT JOIN price_types pt ON pt.id = c.price_type_id
    WHERE ${code ?? null}::text IS NULL OR c.code = ${code ?? null}
    ORDER BY c.code`.execute(db);
  return r.rows.map((c) => ({ code: c.code, name: c.name, priceType: c.price_type, boundPriceTypes: c.bound, warehouses: c.warehouses, default: c.is_default }));
}

export async function portalAdminRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const db = deps.db;

  app.get('/cities', {
    schema: { response: { 200: { type: 'object', required: ['cities'], properties: { cities: { type: 'array', items: cityView } } }, ...errors } },
  }, async () => ({ cities: await cities(db) }));

  app.put<{ Params: { code: string }; Body: { priceType: string | null } }>('/cities/:code/price-type', {
    schema: {
      params: codeParam,
      body: { type: 'object', required: ['priceType'], additionalProperties: false, properties: { priceType: nullableCode } },
      response: { 200: cityView, ...errors },
    },
  }, async (request) => {
    const cityId = await idOf(db, 'cities', request.params.code, 'city');
    const pt = request.body.priceType === null ? null : await idOf(db, 'price_types', request.body.priceType, 'price type');
    await db.updateTable('cities').set({ price_type_id: pt, updated_at: new Date() }).where('id', '=', cityId).execute();
    return (await cities(db, request.params.code))[0];
  });

  for (const [path, table, label] of [['/price-types/:code/city', 'price_types', 'price type'], ['/warehouses/:code/city', 'warehouses', 'warehouse']] as const) {
    app.put<{ Params: { code: string }; Body: { city: string | null } }>(path, {
      schema: {
        params: codeParam,
        body: { type: 'object', required: ['city'], additionalProperties: false, properties: { city: nullableCode } },
        response: { 200: { type: 'object', required: ['code', 'city'], properties: { code: { type: 'string' }, city: nullableString } }, ...errors },
      },
    }, async (request) => {
      const id = await idOf(db, table, request.params.code, label);
      const cityId = request.body.city === null ? null : await idOf(db, 'cities', request.body.city, 'city');
      await db.updateTable(table).set({ city_id: cityId, updated_at: new Date() }).where('id', '=', id).execute();
      return { code: request.params.code, city: request.body.city };
    });
  }

  app.put<{ Body: { city: string | null } }>('/settings/default-city', {
    schema: {
      body: { type: 'object', required: ['city'], additionalProperties: false, properties: { city: nullableCode } },
      response: { 200: { type: 'object', required: ['city'], properties: { city: nullableString } }, ...errors },
    },
  }, async (request) => {
    const city = request.body.city;
    if (city === null) {
      await db.deleteFrom('portal_settings').where('key', '=', DEFAULT_CITY_SETTING).execute();
    } else {
      await idOf(db, 'cities', city, 'city');
      await db.insertInto('portal_settings').values({ key: DEFAULT_CITY_SETTING, value: city })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value: city, updated_at: new Date() })).execute();
    }
    return { city };
  });

  const keyView = {
    type: 'object',
    required: ['id', 'name', 'prefix', 'scopes', 'client', 'ratePerMin', 'revokedAt', 'lastUsedAt', 'createdAt'],
    properties: {
      id: { type: 'integer' }, name: { type: 'string' }, prefix: { type: 'string' }, scopes: { type: 'array', items: { type: 'string' } },
      client: nullableString, ratePerMin: { type: 'integer' }, revokedAt: { ...nullableString, format: 'date-time' },
      lastUsedAt: { ...nullableString, format: 'date-time' }, createdAt: { type: 'string', format: 'date-time' },
    },
  } as const;

  app.get('/keys', {
    schema: { response: { 200: { type: 'object', required: ['keys'], properties: { keys: { type: 'array', items: keyView } } }, ...errors } },
  }, async () => ({ keys: await listApiKeys(db) }));

  app.post<{ Body: { name: string; scopes: string[]; client?: string; ratePerMin?: number } }>('/keys', {
    schema: {
      body: {
        type: 'object', required: ['name', 'scopes'], additionalProperties: false,
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 200 },
          scopes: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...KNOWN_SCOPES] } },
          client: { type: 'string', minLength: 1, maxLength: 150, description: 'bind the key to this client (a client\'s own app)' },
          ratePerMin: { type: 'integer', minimum: 1, maximum: 1_000_000 },
        },
      },
      response: {
        201: {
          type: 'object', required: ['id', 'key', 'prefix'],
          properties: { id: { type: 'integer' }, key: { type: 'string', description: 'shown once: only its hash is stored' }, prefix: { type: 'string' } },
        },
        ...errors,
      },
    },
  }, async (request, reply) => {
    const b = request.body;
    const created = await createApiKey(db, { name: b.name, scopes: b.scopes, clientCode: b.client, ratePerMin: b.ratePerMin });
    return reply.code(201).send(created);
  });

  app.delete<{ Params: { id: number } }>('/keys/:id', {
    schema: {
      params: { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } },
      response: { 200: { type: 'object', required: ['revoked'], properties: { revoked: { type: 'integer' } } }, ...errors },
    },
  }, async (request) => {
    if (!(await revokeApiKey(db, request.params.id))) throw new MagistralError('MAG_ERR_NOT_FOUND', `no active API key ${request.params.id}`);
    return { revoked: request.params.id };
  });
}
