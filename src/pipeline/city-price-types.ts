// A flow's `cityPriceTypes`: which price type each city shows (city code → the price type's code or name as
// the flow's system sends it). Without it, a price type that arrived from 1C or SAP is bound to no city and
// used by no agreement, and its prices are on no one's screen: the catalog of every city is built from the
// city's price type (src/portal/offers.ts), a client's from its agreement. Applied in the merge's own
// transaction on every run of the flow (cheap: only a city whose binding differs is written, and that
// write bumps the catalog version, so the cities' offers are rebuilt on the next read).
import type pg from 'pg';
import type { Flow } from '../schemas/index.ts';
import { CompiledQuery, sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';

export interface CityBinding {
  city: string;
  priceType: string;
  /** bound: the city now shows it (or already did); no-city / no-price-type: that side is unknown here. */
  state: 'bound' | 'unchanged' | 'no-city' | 'no-price-type';
}

/** The price type a flow names, by its external code in the flow's system, else by its name there (case-insensitive). */
const PRICE_TYPE_SQL = `
  coalesce(
    (SELECT e.internal_id::int FROM external_ids e WHERE e.entity = 'priceType' AND e.system = $2 AND e.external_id = $3),
    (SELECT pt.id FROM price_types pt JOIN external_ids e ON e.entity = 'priceType' AND e.system = $2 AND e.internal_id = pt.id
      WHERE lower(pt.name) = lower($3) AND NOT pt.placeholder ORDER BY pt.id LIMIT 1))`;

/** A binding's two sides ($1 city code, $2 system, $3 price type code or name): their ids, NULL when unknown. */
const BINDING_SQL = `SELECT (SELECT id FROM cities WHERE code = $1) AS city_id, ${PRICE_TYPE_SQL} AS pt`;

/** Binds the flow's cities to their price types on the merge's client (inside its transaction). */
export async function applyCityPriceTypes(client: pg.PoolClient, flow: Flow): Promise<CityBinding[]> {
  const out: CityBinding[] = [];
  for (const [city, priceType] of Object.entries(flow.cityPriceTypes ?? {})) {
    const r = await client.query<{ city_id: number | null; pt: number | null; changed: boolean }>(`
      WITH b AS (${BINDING_SQL}),
      up AS (UPDATE cities SET price_type_id = b.pt FROM b
             WHERE cities.id = b.city_id AND b.pt IS NOT NULL AND cities.price_type_id IS DISTINCT FROM b.pt RETURNING 1)
      SELECT b.city_id, b.pt, EXISTS (SELECT 1 FROM up) AS changed FROM b`, [city, flow.source.system ?? 'local', priceType]);
    const row = r.rows[0]!;
    out.push({ city, priceType, state: row.city_id === null ? 'no-city' : row.pt === null ? 'no-price-type' : row.changed ? 'bound' : 'unchanged' });
  }
  return out;
}

/**
 * What an administrator should know about a flow's prices being seen (`flows show`, the console): its
 * bindings that name an unknown city or price type, and each price type the flow wrote prices of that is
 * bound to no city and used by no agreement, with how many of its prices nobody sees.
 */
export async function visibilityWarnings(db: Kysely<Database>, flow: { id: number; definition: Flow }): Promise<string[]> {
  const def = flow.definition;
  if (def.target !== 'prices' && def.target !== 'priceTypes') return [];
  const system = def.source.system ?? 'local';
  const warnings: string[] = [];
  for (const [city, priceType] of Object.entries(def.cityPriceTypes ?? {})) {
    const r = await db.executeQuery<{ city_id: number | null; pt: number | null }>(CompiledQuery.raw(BINDING_SQL, [city, system, priceType]));
    const row = r.rows[0]!;
    if (row.city_id === null) warnings.push(`cityPriceTypes: city '${city}' is not known (cities come from a cities flow); the binding waits for it`);
    else if (row.pt === null) warnings.push(`cityPriceTypes: price type '${priceType}' (system ${system}) has not arrived yet, by code or by name; city '${city}' keeps its price type`);
  }
  if (def.target === 'prices') {
    for (const x of await unseenPrices(db, flow.id)) warnings.push(unseenPriceWarning(x));
  }
  return warnings;
}

/** A price type a flow wrote prices of that no city shows and no agreement uses, with how many prices. */
export interface UnseenPrices {
  flowId: number;
  code: string;
  name: string;
  prices: number;
}

/**
 * Prices nobody sees, per flow (or of one flow): first the price types bound to nothing (a few rows), then
 * their prices by `price_type_id = ANY(…)`, which lets PostgreSQL read only those price types' partitions
 * (bench:console: a join to price_types instead scanned every partition, 131 ms for 420 000 prices; this
 * reads the 20 000 unseen ones). A correct set-up costs no read of prices at all.
 */
export async function unseenPrices(db: Kysely<Database>, flowId?: number): Promise<UnseenPrices[]> {
  const types = await sql<{ id: number; code: string; name: string }>`
    SELECT pt.id, pt.code, pt.name FROM price_types pt
    WHERE pt.city_id IS NULL AND NOT EXISTS (SELECT 1 FROM cities c WHERE c.price_type_id = pt.id)
      AND NOT EXISTS (SELECT 1 FROM agreements a WHERE a.price_type_id = pt.id)`.execute(db);
  if (!types.rows.length) return [];
  const byId = new Map(types.rows.map((t) => [Number(t.id), t]));
  const r = await sql<{ flow_id: number; price_type_id: number; n: string }>`
    SELECT p.flow_id, p.price_type_id, count(*)::text AS n FROM prices p
    WHERE p.price_type_id = ANY(${[...byId.keys()]}::int[]) ${flowId === undefined ? sql`` : sql`AND p.flow_id = ${flowId}`}
    GROUP BY p.flow_id, p.price_type_id`.execute(db);
  return r.rows.map((x) => ({ flowId: Number(x.flow_id), code: byId.get(Number(x.price_type_id))!.code, name: byId.get(Number(x.price_type_id))!.name, prices: Number(x.n) }))
    .sort((x, y) => x.flowId - y.flowId || x.code.localeCompare(y.code));
}

export function unseenPriceWarning(x: Pick<UnseenPrices, 'code' | 'name' | 'prices'>): string {
  return `price type ${x.code} (${x.name}) is bound to no city and no agreement: ${x.prices.toLocaleString('en')} prices are not visible (bind it: cityPriceTypes: { <city code>: ${JSON.stringify(x.name)} })`;
}
