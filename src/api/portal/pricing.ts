// Pricing for portal routes (prices, catalog, search): one resolution per request and one SQL
// fragment for the effective price, shared by every route. The logic lives in src/portal.
export {
  resolvePricing, effectivePriceSql, effectivePriceText, onSaleSql, cityPriceType, pricingJoinsSql, pricingOf,
  type Pricing, type PricingQuery, type PricingRow,
} from '../../portal/pricing.ts';
