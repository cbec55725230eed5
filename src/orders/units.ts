// Which units are counted in whole pieces: an order or cart line in such a unit takes whole numbers
// only (1.5 pcs is refused), while metres, kilograms or litres take fractions.

/**
 * The store keeps units as the flows bring them: CSV flows write the unit text as both code and name
 * (`pcs`, `m` in the demo set), CommerceML brings the OKEI code with a short name (`796` / `шт`), SAP the
 * ISO code (`PCE`, `EA`). So a unit is "counted" when its OKEI code, or its code or name (lower case,
 * without a trailing dot), is one of the counted units: OKEI 796 штука, 778 упаковка, 839 комплект,
 * 704 набор, 715 пара, 736 рулон, 868 бутылка, 812 ящик — things delivered whole.
 */
export const COUNTED_OKEI = ['796', '778', '839', '704', '715', '736', '868', '812'] as const;
export const COUNTED_NAMES = [
  'pcs', 'pc', 'piece', 'pieces', 'pce', 'ea', 'each', 'st', 'шт', 'штука', 'штук', 'штуки',
  'упак', 'уп', 'упаковка', 'pack', 'pak', 'компл', 'комплект', 'set', 'набор', 'пар', 'пара', 'pr', 'pair',
  'рул', 'рулон', 'roll', 'бут', 'бутылка', 'ящ', 'ящик', 'box', 'кор', 'коробка',
] as const;

/** SQL truth of "unit row `alias` is counted in whole pieces" (false for a product without a unit); constants only. */
export function countedUnitText(alias: string): string {
  const list = (xs: readonly string[]) => `ARRAY[${xs.map((x) => `'${x}'`).join(', ')}]::text[]`;
  return `coalesce(${alias}.okei = ANY(${list(COUNTED_OKEI)}) OR rtrim(lower(btrim(${alias}.code)), '.') = ANY(${list(COUNTED_NAMES)})
    OR rtrim(lower(btrim(${alias}.name)), '.') = ANY(${list(COUNTED_NAMES)}), false)`;
}
