// 1C's OData entries flattened into the string records the pipeline maps (numbers were kept as text by
// parseLossless of the connector kit).
export { parseLossless, plainNumber } from '../../lib/index.ts';

/**
 * One OData entry as a flat record of strings: nested objects (`$expand`ed references) become
 * `Валюта/Code`, arrays (tabular sections) `Товары/0/Цена`; booleans `true`/`false`; nulls are left
 * out (an empty value); annotations (`…@navigationLinkUrl`, `odata.*`) are dropped.
 */
export function flattenEntry(entry: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (v: unknown, key: string): void => {
    if (v === null || v === undefined) return;
    if (typeof v === 'string') out[key] = v;
    else if (typeof v === 'boolean') out[key] = v ? 'true' : 'false';
    else if (typeof v === 'number') out[key] = String(v);
    else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${key}/${i}`));
    else if (typeof v === 'object') {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (k.includes('@') || k.startsWith('odata.')) continue;
        walk(x, key ? `${key}/${k}` : k);
      }
    }
  };
  walk(entry, '');
  return out;
}
