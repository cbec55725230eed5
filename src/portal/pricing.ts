// Which prices a portal request sees: the client agreement's price type and discount where there is
// one, else the city's price type. Resolved once per request (inside the request's context query,
// see src/api/portal/auth.ts); the effective price is computed in SQL on numeric (never JS floats)
// by one fragment builder, so prices, listings and orders round alike.
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../db/index.ts';
import { prepared } from './query.ts';

export interface Pricing {
  priceTypeId: number | null;
  /** Exact decimal, '0' when there is no discount. */
  discountPercent: string;
  currency: string | null;
  source: 'agreement' | 'city';
  /** The agreement that applies (its discount also applies to the city's price type), if any. */
  agreementId: number | null;
  /** Code of `priceTypeId`, for responses. */
  priceTypeCode: string | null;
}

export interface PricingQuery {
  clientId: number | null;
  legalEntityId?: number | null;
  cityId: number | null;
}

/** Columns the pricing joins add to a row; `pricingOf` reads them back. */
export interface PricingRow {
  agreement_id: number | null;
  agreement_pt_id: number | null;
  agreement_pt_code: string | null;
  agreement_pt_currency: string | null;
  agreement_currency: string | null;
  discount_percent: string | null;
  city_pt_id: number | null;
  city_pt_code: string | null;
  city_pt_currency: string | null;
}

/**
 * Two LATERAL joins resolving pricing for SQL expressions of the client, legal entity and city:
 * the agreement (one for the legal entity first, then a client-wide one; without a legal entity a
 * client-wide one first, then the oldest) and the city's price type (the designated one, else the
 * first real price type bound to the city).
 */
export function pricingJoinsSql(client: string, legalEntity: string, city: string): { select: string; joins: string } {
  return {
    select: `agr.id AS agreement_id, agr.price_type_id AS agreement_pt_id, agr.pt_code AS agreement_pt_code, agr.pt_currency AS agreement_pt_currency,
      agr.currency AS agreement_currency, trim_scale(agr.discount_percent)::text AS discount_percent,
      cpt.id AS city_pt_id, cpt.code AS city_pt_code, cpt.currency AS city_pt_currency`,
    joins: `
      LEFT JOIN LATERAL (
        SELECT a.id, a.price_type_id, a.discount_percent, a.currency, apt.code AS pt_code, apt.currency AS pt_currency
        FROM agreements a LEFT JOIN price_types apt ON apt.id = a.price_type_id
        WHERE a.client_id = ${client} AND NOT a.deleted AND NOT a.placeholder
          AND (${legalEntity} IS NULL OR a.legal_entity_id IS NULL OR a.legal_entity_id = ${legalEntity})
        ORDER BY CASE WHEN ${legalEntity} IS NULL THEN a.legal_entity_id IS NULL ELSE a.legal_entity_id IS NOT NULL END DESC, a.id
        LIMIT 1
      ) agr ON true
      LEFT JOIN LATERAL (
        SELECT pt.id, pt.code, pt.currency FROM cities c
        JOIN price_types pt ON pt.id = coalesce(c.price_type_id,
          (SELECT x.id FROM price_types x WHERE x.city_id = c.id AND NOT x.placeholder ORDER BY x.id LIMIT 1))
        WHERE c.id = ${city}
      ) cpt ON true`,
  };
}

/** Pricing from the columns of `pricingJoinsSql`. */
export function pricingOf(r: PricingRow): Pricing {
  const discountPercent = r.discount_percent ?? '0';
  if (r.agreement_pt_id !== null) {
    return {
      priceTypeId: r.agreement_pt_id, priceTypeCode: r.agreement_pt_code, discountPercent, source: 'agreement', agreementId: r.agreement_id,
      currency: r.agreement_currency ?? r.agreement_pt_currency,
    };
  }
  return {
    priceTypeId: r.city_pt_id, priceTypeCode: r.city_pt_code, discountPercent, source: 'city', agreementId: r.agreement_id,
    currency: r.agreement_currency ?? r.city_pt_currency,
  };
}

const RESOLVE = (() => {
  const p = pricingJoinsSql('$1::bigint', '$2::bigint', '$3::int');
  return `SELECT ${p.select} FROM (SELECT 1) one ${p.joins}`;
})();

export async function resolvePricing(db: Kysely<Database>, query: PricingQuery): Promise<Pricing> {
  return (await resolvePricingInCity(db, query)).pricing;
}

/** The pricing and, from the same statement, the city's own price type (what "on sale" is decided by). */
export async function resolvePricingInCity(db: Kysely<Database>, query: PricingQuery): Promise<{ pricing: Pricing; cityPriceTypeId: number | null }> {
  const [row] = await prepared<PricingRow>({ db }, 'magistral_resolve_pricing', RESOLVE, [query.clientId, query.legalEntityId ?? null, query.cityId]);
  return { pricing: pricingOf(row!), cityPriceTypeId: row!.city_pt_id };
}

/** The city's own price type (what "on sale in the city" is decided by), or null. */
export async function cityPriceType(db: Kysely<Database>, cityId: number | null): Promise<{ id: number; code: string; currency: string | null } | null> {
  const p = await resolvePricing(db, { clientId: null, cityId });
  return p.priceTypeId === null ? null : { id: p.priceTypeId, code: p.priceTypeCode as string, currency: p.currency };
}

/**
 * The effective price of a price row under `pricing`, rounded to kopecks: `round(value * (1 - d/100), 2)`
 * on numeric. `priceAlias` is the alias of the `prices` row in the caller's query.
 */
export function effectivePriceSql(priceAlias: string, pricing: Pick<Pricing, 'discountPercent'>): RawBuilder<string> {
  const value = sql.ref(`${priceAlias}.value`);
  if (pricing.discountPercent === '0') return sql<string>`round(${value}, 2)`;
  return sql<string>`round(${value} * (1 - ${pricing.discountPercent}::numeric / 100), 2)`;
}

/** The same as text for hand-written statements: `$n` is the parameter holding the discount percent. */
export function effectivePriceText(priceAlias: string, discountParam: string): string {
  return `round(${priceAlias}.value * (1 - ${discountParam}::numeric / 100), 2)`;
}

/**
 * "On sale": not deleted, not a placeholder, with a price above zero in `priceTypeId` (the city's
 * price type). `productAlias` is the alias of the `products` row in the caller's query.
 */
export function onSaleSql(productAlias: string, priceTypeId: number | null): RawBuilder<boolean> {
  if (priceTypeId === null) return sql<boolean>`false`;
  const p = (c: string) => sql.ref(`${productAlias}.${c}`);
  return sql<boolean>`(NOT ${p('deleted')} AND NOT ${p('placeholder')} AND EXISTS (
    SELECT 1 FROM prices os_p WHERE os_p.price_type_id = ${priceTypeId} AND os_p.product_id = ${p('id')} AND os_p.value > 0))`;
}
