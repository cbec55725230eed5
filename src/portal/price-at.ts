// The price of a key at an instant, validity included. `prices` holds the price in force now (the merge
// and the price roll keep it so), which is what every listing reads; a read at another instant — a
// portal client asking `at=`, an order priced at the moment it is placed — looks at `price_periods`
// first: a key with periods is priced by the period covering the instant (none: no price then), a key
// without periods by its row in `prices`. Quantity tiers ride along and price a quantity.

/**
 * A LATERAL subquery yielding the price row (value, currency, unit, factor, tiers, valid_from,
 * valid_until) of price type `pt` and product `product` at instant `at` (SQL expressions), or no row.
 */
export function priceAtSql(pt: string, product: string, at: string): string {
  return `(
    SELECT v.* FROM (
      (SELECT pp.value, pp.currency, pp.unit, pp.factor, pp.tiers, nullif(pp.valid_from, '-infinity') AS valid_from, pp.valid_until, 0 AS pri
       FROM price_periods pp
       WHERE pp.price_type_id = ${pt} AND pp.product_id = ${product} AND pp.valid_from <= ${at}
         AND (pp.valid_until IS NULL OR pp.valid_until > ${at})
       ORDER BY pp.valid_from DESC LIMIT 1)
      UNION ALL
      (SELECT pr.value, pr.currency, pr.unit, pr.factor, pr.tiers, pr.valid_from, pr.valid_until, 1 AS pri
       FROM prices pr
       WHERE pr.price_type_id = ${pt} AND pr.product_id = ${product}
         AND NOT EXISTS (SELECT 1 FROM price_periods q WHERE q.price_type_id = ${pt} AND q.product_id = ${product}))
    ) v ORDER BY v.pri LIMIT 1
  )`;
}

/**
 * The base price (before discount) of `qty` under the tiers of price row `x`: the tier with the largest
 * minimum quantity not above `qty`, else the row's value.
 */
export function tierValueSql(x: string, qty: string): string {
  return `coalesce((SELECT (t->>'price')::numeric FROM jsonb_array_elements(${x}.tiers) t
    WHERE (t->>'minQuantity')::numeric <= ${qty} ORDER BY (t->>'minQuantity')::numeric DESC LIMIT 1), ${x}.value)`;
}

/** Tiers of price row `x` as JSON with the discount applied: `[{minQuantity, price, basePrice}]`, NULL when none. */
export function tiersOutSql(x: string, discount: string): string {
  return `(SELECT jsonb_agg(jsonb_build_object('minQuantity', t->>'minQuantity',
      'price', round((t->>'price')::numeric * (1 - ${discount}::numeric / 100), 2)::text, 'basePrice', t->>'price')
      ORDER BY (t->>'minQuantity')::numeric) FROM jsonb_array_elements(${x}.tiers) t)`;
}
