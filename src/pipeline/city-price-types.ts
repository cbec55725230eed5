// A flow's `cityPriceTypes`: which price type each city shows (city code → the price type's code or name as
// the flow's system sends it). Without it, a price type that arrived from 1C or SAP is bound to no city and
// used by no agreement, and its prices are on no one's screen: the catalog of every city is built from the
// city's price type (src/portal/offers.ts), a client's from its agreement. Applied in the merge's own
// transaction on every run of the flow (cheap: only a city whose binding differs is written, and that
// write bumps the catalog version, so the cities' offers are rebuilt on the next read).
import type pg from 'pg';
import type { Flow } from '../schemas/index.ts';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
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

/** Binds the flow's cities to their price types on the merge's client (inside its transaction). */
export async function applyCityPriceTypes(client: pg.PoolClient, flow: Flow): Promise<CityBinding[]> {
  const out: CityBinding[] = [];
  for (const [city, priceType] of Object.entries(flow.cityPriceTypes ?? {})) {
    const r = await client.query<{ city_id: number | null; pt: number | null; changed: boolean }>(`
      WITH c AS (SELECT id FROM cities WHERE code = $1), p AS (SELECT ${PRICE_TYPE_SQL} AS id),
      up AS (UPDATE cities SET price_type_id = (SELECT id FROM p) FROM p
             WHERE cities.id = (SELECT id FROM c) AND p.id IS NOT NULL AND cities.price_type_id IS DISTINCT FROM p.id RETURNING 1)
      SELECT (SELECT id FROM c) AS city_id, (SELECT id FROM p) AS pt, EXISTS (SELECT 1 FROM up) AS changed`, [city, flow.source.system ?? 'local', priceType]);
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
    const r = await sql<{ city: number | null; pt: number | null }>`
      SELECT (SELECT id FROM cities WHERE code = ${city}) AS city,
        coalesce((SELECT e.internal_id::int FROM external_ids e WHERE e.entity = 'priceType' AND e.system = ${system} AND e.external_id = ${priceType}),
          (SELECT pt.id FROM price_types pt JOIN external_ids e ON e.entity = 'priceType' AND e.system = ${system} AND e.internal_id = pt.id
            WHERE lower(pt.name) = lower(${priceType}) AND NOT pt.placeholder ORDER BY pt.id LIMIT 1)) AS pt`.execute(db);
    const row = r.rows[0]!;
    if (row.city === null) warnings.push(`cityPriceTypes: city '${city}' is not known (cities come from a cities flow); the binding waits for it`);
    else if (row.pt === null) warnings.push(`cityPriceTypes: price type '${priceType}' (system ${system}) has not arrived yet, by code or by name; city '${city}' keeps its price type`);
  }
  if (def.target === 'prices') {
    const r = await sql<{ code: string; name: string; n: string }>`
      SELECT pt.code, pt.name, count(*)::text AS n FROM prices p JOIN price_types pt ON pt.id = p.price_type_id
      WHERE p.flow_id = ${flow.id}
        AND NOT EXISTS (SELECT 1 FROM cities c WHERE c.price_type_id = pt.id) AND pt.city_id IS NULL
        AND NOT EXISTS (SELECT 1 FROM agreements a WHERE a.price_type_id = pt.id)
      GROUP BY pt.code, pt.name ORDER BY pt.code`.execute(db);
    for (const x of r.rows) {
      warnings.push(`price type ${x.code} (${x.name}) is bound to no city and no agreement: ${Number(x.n).toLocaleString('en')} prices are not visible (bind it: cityPriceTypes: { <city code>: ${JSON.stringify(x.name)} })`);
    }
  }
  return warnings;
}
