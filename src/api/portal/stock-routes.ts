// Stock of one product or many: per warehouse (with its city) and totals per city and overall,
// summed on numeric in PostgreSQL. What the ERP sent; reservations of portal orders are not subtracted.
import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../deps.ts';
import { MagistralError } from '../../errors/index.ts';
import type { PortalContext } from './context.ts';
import { MAX_BATCH } from './prices-routes.ts';
import { cityOnlyQuerystring, errorResponses, onBehalfHeaders, security, skuBatchBody, skuSchema } from './schemas.ts';

const warehouseSchema = {
  type: 'object',
  required: ['code', 'name', 'city', 'quantity'],
  properties: { code: { type: 'string' }, name: { type: 'string' }, city: { type: ['string', 'null'] }, quantity: { type: 'string' } },
} as const;
const cityTotalSchema = {
  type: 'object', required: ['code', 'name', 'quantity'],
  properties: { code: { type: 'string' }, name: { type: 'string' }, quantity: { type: 'string' } },
} as const;
const stockProps = {
  sku: { type: 'string' },
  name: { type: 'string' },
  unit: { type: ['string', 'null'] },
  total: { type: 'string', description: 'sum over every warehouse' },
  inCity: { type: 'string', description: 'sum over the warehouses of the request\'s city' },
  warehouses: { type: 'array', items: warehouseSchema },
  cities: { type: 'array', items: cityTotalSchema },
} as const;
const stockSchema = { type: 'object', required: ['sku', 'name', 'unit', 'total', 'inCity', 'warehouses', 'cities'], properties: stockProps } as const;

interface StockRow {
  line: number;
  sku: string;
  product_id: number | null;
  name: string | null;
  unit: string | null;
  wh_code: string | null;
  wh_name: string | null;
  city_code: string | null;
  city_name: string | null;
  quantity: string | null;
  city_total: string | null;
  in_city: string | null;
  total: string | null;
}

interface StockView {
  sku: string;
  name: string;
  unit: string | null;
  total: string;
  inCity: string;
  warehouses: Array<{ code: string; name: string; city: string | null; quantity: string }>;
  cities: Array<{ code: string; name: string; quantity: string }>;
}

async function stockLines(deps: ServerDeps, ctx: PortalContext, skus: string[]): Promise<StockRow[]> {
  const r = await sql<StockRow>`
    WITH req AS (
      SELECT (r.n - 1)::int AS line, r.sku, p.id AS product_id, p.name, u.code AS unit
      FROM unnest(${skus}::text[]) WITH ORDINALITY AS r(sku, n)
      LEFT JOIN LATERAL (SELECT id, name, unit_id FROM products WHERE code = r.sku AND NOT deleted AND NOT placeholder ORDER BY id LIMIT 1) p ON true
      LEFT JOIN units u ON u.id = p.unit_id
    )
    SELECT q.line, q.sku, q.product_id, q.name, q.unit, w.code AS wh_code, w.name AS wh_name, c.code AS city_code, c.name AS city_name,
      trim_scale(s.quantity)::text AS quantity,
      trim_scale(sum(s.quantity) OVER (PARTITION BY q.line, w.city_id))::text AS city_total,
      trim_scale(coalesce(sum(s.quantity) FILTER (WHERE w.city_id = ${ctx.cityId}) OVER (PARTITION BY q.line), 0))::text AS in_city,
      trim_scale(coalesce(sum(s.quantity) OVER (PARTITION BY q.line), 0))::text AS total
    FROM req q
    LEFT JOIN stock s ON s.product_id = q.product_id
    LEFT JOIN warehouses w ON w.id = s.warehouse_id
    LEFT JOIN cities c ON c.id = w.city_id
    ORDER BY q.line, c.code NULLS LAST, w.code`.execute(deps.db);
  return r.rows;
}

/** Rows of one line (one SKU) into its view; undefined for an unknown SKU. */
function toView(rows: StockRow[]): StockView | undefined {
  const first = rows[0]!;
  if (first.product_id === null) return undefined;
  const view: StockView = { sku: first.sku, name: first.name as string, unit: first.unit, total: first.total ?? '0', inCity: first.in_city ?? '0', warehouses: [], cities: [] };
  const seen = new Set<string>();
  for (const r of rows) {
    if (r.wh_code === null) continue;
    view.warehouses.push({ code: r.wh_code, name: r.wh_name as string, city: r.city_code, quantity: r.quantity as string });
    if (r.city_code !== null && !seen.has(r.city_code)) {
      seen.add(r.city_code);
      view.cities.push({ code: r.city_code, name: r.city_name as string, quantity: r.city_total as string });
    }
  }
  return view;
}

function byLine(rows: StockRow[]): StockRow[][] {
  const out: StockRow[][] = [];
  for (const r of rows) (out[r.line] ??= []).push(r);
  return out;
}

export async function stockRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.get<{ Params: { sku: string } }>('/stock/:sku', {
    config: { scope: 'stock:read' },
    schema: {
      tags: ['stock'],
      summary: 'Stock of one product per warehouse, with totals per city',
      security,
      headers: onBehalfHeaders,
      params: { type: 'object', required: ['sku'], properties: { sku: skuSchema } },
      querystring: cityOnlyQuerystring,
      response: { 200: stockSchema, ...errorResponses },
    },
  }, async (request) => {
    const view = toView(await stockLines(deps, request.portal, [request.params.sku]));
    if (!view) throw new MagistralError('MAG_ERR_NOT_FOUND', `no product with SKU '${request.params.sku}'`);
    return view;
  });

  app.post<{ Body: { skus: string[] } }>('/stock/batch', {
    config: { scope: 'stock:read' },
    schema: {
      tags: ['stock'],
      summary: `Stock of up to ${MAX_BATCH} products in one call`,
      description: 'Every line in request order: the stock, or an error for an unknown SKU.',
      security,
      headers: onBehalfHeaders,
      querystring: cityOnlyQuerystring,
      body: skuBatchBody(MAX_BATCH),
      response: {
        200: {
          type: 'object', required: ['items'],
          properties: {
            items: {
              type: 'array',
              items: {
                type: 'object', required: ['line', 'sku'],
                properties: {
                  line: { type: 'integer' }, ...stockProps,
                  error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string', enum: ['unknown-sku'] }, message: { type: 'string' } } },
                },
              },
            },
          },
        },
        ...errorResponses,
      },
    },
  }, async (request) => {
    const lines = byLine(await stockLines(deps, request.portal, request.body.skus));
    return {
      items: lines.map((rows, line) => {
        const view = toView(rows);
        return view ? { line, ...view } : { line, sku: rows[0]!.sku, error: { code: 'unknown-sku', message: `no product with SKU '${rows[0]!.sku}'` } };
      }),
    };
  });
}
