// What the cabinet's catalog pages read beyond the portal's catalog query (src/api/portal/catalog-query.ts):
// stock per warehouse of the chosen city for a page's rows, and one product's page (properties,
// units with factors, price tiers, stock by warehouse) priced for the session's client in SQL.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { effectivePriceSql } from '../portal/pricing.ts';
import type { CatalogScope } from '../api/portal/catalog-query.ts';

type Db = Kysely<Database>;

export interface WarehouseRef {
  id: number;
  code: string;
  name: string;
}

/** The warehouses of a city, by name: the columns of the catalog table's stock. */
export async function cityWarehouses(db: Db, cityId: number | null): Promise<WarehouseRef[]> {
  if (cityId === null) return [];
  const r = await sql<WarehouseRef>`
    SELECT id, code, name FROM warehouses WHERE city_id = ${cityId} AND NOT placeholder ORDER BY name COLLATE "ru-x-icu", id`.execute(db);
  return r.rows.map((w) => ({ ...w, id: Number(w.id) }));
}

/**
 * Quantities of the given products in the given warehouses (one primary-key probe per pair), as
 * `productId → warehouseId → quantity` (exact decimals as text, trailing zeros trimmed; absent: none).
 */
export async function stockByWarehouse(db: Db, productIds: number[], warehouses: WarehouseRef[]): Promise<Map<number, Map<number, string>>> {
  const out = new Map<number, Map<number, string>>();
  if (!productIds.length || !warehouses.length) return out;
  const r = await sql<{ product_id: string; warehouse_id: number; quantity: string }>`
    SELECT s.product_id, s.warehouse_id, trim_scale(s.quantity)::text AS quantity
    FROM stock s
    WHERE s.product_id = ANY(${productIds}::bigint[]) AND s.warehouse_id = ANY(${warehouses.map((w) => w.id)}::int[]) AND s.quantity > 0`.execute(db);
  for (const x of r.rows) {
    const id = Number(x.product_id);
    let m = out.get(id);
    if (!m) out.set(id, m = new Map());
    m.set(Number(x.warehouse_id), x.quantity);
  }
  return out;
}

export interface ProductDetail {
  id: number;
  sku: string;
  name: string;
  article: string | null;
  barcode: string | null;
  imageUrl: string | null;
  promotion: string | null;
  unit: string | null;
  unitName: string | null;
  /** The client's price (effective: agreement or city price type, discount), exact text. */
  price: string | null;
  currency: string | null;
  /** The city's base price, when the client's differs (anonymous and pending visitors see it as the price). */
  basePrice: string | null;
  /** Quantity tiers of the price row, discount applied: the price from `minQuantity` on. */
  tiers: Array<{ minQuantity: string; price: string }>;
  /** Packs and other units of the product, with how many base units each holds. */
  units: Array<{ unit: string; factor: string; barcode: string | null }>;
  properties: Array<{ name: string; value: string }>;
  /** Groups from the root down to the product's own. */
  path: Array<{ code: string; name: string }>;
  /** Stock per warehouse of the chosen city (every warehouse, zero included). */
  stock: Array<{ warehouse: string; name: string; quantity: string }>;
  /** Stock elsewhere (warehouses of other cities or of none), summed. */
  stockElsewhere: string;
}

/**
 * One product as the product page shows it, or null when it is not on sale in the scope's city (not
 * deleted, a price above zero in the city's price type): the page answers "not found".
 */
export async function productDetail(db: Db, scope: CatalogScope, sku: string): Promise<ProductDetail | null> {
  if (scope.cityPriceTypeId === null) return null;
  const sameType = scope.pricing.priceTypeId === scope.cityPriceTypeId;
  const pt = sameType ? scope.cityPriceTypeId : scope.pricing.priceTypeId;
  const r = await sql<{
    id: string; sku: string; name: string; article: string | null; barcode: string | null; image_url: string | null; promotion: string | null;
    unit: string | null; unit_name: string | null; price: string | null; currency: string | null; base_price: string;
    tiers: ProductDetail['tiers'] | null; units: ProductDetail['units'] | null; properties: ProductDetail['properties'] | null;
    path: ProductDetail['path'] | null; stock: ProductDetail['stock'] | null; elsewhere: string;
  }>`
    SELECT p.id, p.code AS sku, p.name, p.article, p.barcode, p.image_url, p.promotion,
      coalesce(px.unit, u.code) AS unit, u.name AS unit_name,
      (${effectivePriceSql('px', scope.pricing)})::text AS price, px.currency,
      round(os.value, 2)::text AS base_price,
      -- The tiers of the price row, priced like the row itself (price-at.ts tiersOutSql, the discount a parameter).
      (SELECT json_agg(json_build_object('minQuantity', trim_scale((t->>'minQuantity')::numeric)::text,
          'price', round((t->>'price')::numeric * (1 - ${scope.pricing.discountPercent}::numeric / 100), 2)::text)
          ORDER BY (t->>'minQuantity')::numeric)
        FROM jsonb_array_elements(px.tiers) t) AS tiers,
      (SELECT json_agg(json_build_object('unit', pu.unit, 'factor', trim_scale(pu.factor)::text, 'barcode', pu.barcode) ORDER BY pu.factor, pu.unit)
        FROM product_units pu WHERE pu.product_id = p.id) AS units,
      (SELECT json_agg(json_build_object('name', pr.name, 'value', coalesce(pv.value, pp.value)) ORDER BY pr.name COLLATE "ru-x-icu", pp.value)
        FROM product_properties pp JOIN properties pr ON pr.id = pp.property_id
        LEFT JOIN property_values pv ON pv.id = pp.value_id
        WHERE pp.product_id = p.id) AS properties,
      (WITH RECURSIVE up(id, code, name, parent_id, depth) AS (
          SELECT g.id, g.code, g.name, g.parent_id, 0 FROM groups g WHERE g.id = p.group_id
          UNION ALL
          SELECT g.id, g.code, g.name, g.parent_id, up.depth + 1 FROM groups g JOIN up ON g.id = up.parent_id WHERE up.depth < 20
        ) SELECT json_agg(json_build_object('code', code, 'name', name) ORDER BY depth DESC) FROM up) AS path,
      (SELECT json_agg(json_build_object('warehouse', w.code, 'name', w.name, 'quantity', trim_scale(coalesce(s.quantity, 0))::text)
          ORDER BY w.name COLLATE "ru-x-icu", w.id)
        FROM warehouses w LEFT JOIN stock s ON s.warehouse_id = w.id AND s.product_id = p.id
        WHERE w.city_id = ${scope.cityId} AND NOT w.placeholder) AS stock,
      trim_scale(coalesce((SELECT sum(s.quantity) FROM stock s JOIN warehouses w ON w.id = s.warehouse_id
        WHERE s.product_id = p.id AND w.city_id IS DISTINCT FROM ${scope.cityId} AND s.quantity > 0), 0))::text AS elsewhere
    FROM products p
    JOIN prices os ON os.price_type_id = ${scope.cityPriceTypeId} AND os.product_id = p.id AND os.value > 0
    LEFT JOIN prices px ON px.price_type_id = ${pt} AND px.product_id = p.id AND px.value > 0
    LEFT JOIN units u ON u.id = p.unit_id
    WHERE p.code = ${sku} AND NOT p.deleted AND NOT p.placeholder
    ORDER BY p.id LIMIT 1`.execute(db);
  const x = r.rows[0];
  if (!x) return null;
  return {
    id: Number(x.id), sku: x.sku, name: x.name, article: x.article, barcode: x.barcode, imageUrl: x.image_url, promotion: x.promotion,
    unit: x.unit, unitName: x.unit_name, price: x.price, currency: x.currency,
    basePrice: x.price !== x.base_price ? x.base_price : null,
    tiers: x.tiers ?? [], units: x.units ?? [], properties: x.properties ?? [], path: x.path ?? [], stock: x.stock ?? [],
    stockElsewhere: x.elsewhere,
  };
}
