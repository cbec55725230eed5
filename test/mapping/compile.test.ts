// Compiled mappings: every transform, field sources, default/optional/required, and rejects that name
// the field, the value and the rule — the compiled function must never throw.
import { describe, expect, it } from 'vitest';
import { compileMapping, type LookupSource, type MapResult } from '../../src/mapping/index.ts';
import type { Mapping } from '../../src/schemas/index.ts';

/** A product mapping (code, name required; article, barcode, group, unit, deleted optional) to try transforms on. */
function product(fields: Record<string, unknown>): Mapping {
  return {
    apiVersion: 'magistral/v1',
    kind: 'Mapping',
    name: 'test-products',
    target: 'products',
    fields: { code: { from: 'code' }, name: { const: 'Item' }, ...fields },
  } as Mapping;
}

async function mapOne(fields: Record<string, unknown>, data: Record<string, string>, opts = {}): Promise<MapResult> {
  return (await compileMapping(product(fields), opts))({ code: 'C1', ...data });
}

async function value(field: string, spec: Record<string, unknown>, data: Record<string, string>): Promise<unknown> {
  const r = await mapOne({ [field]: spec }, data);
  if (!r.ok) throw new Error(`unexpected reject: ${r.reason}`);
  return r.value[field];
}

describe('transforms', () => {
  it('trim, upper, lower, replace', async () => {
    expect(await value('article', { from: 'a', transforms: ['trim', 'upper'] }, { a: '  ab-c ' })).toBe('AB-C');
    expect(await value('article', { from: 'a', transforms: ['lower'] }, { a: 'ÄБC' })).toBe('äбc');
    expect(await value('article', { from: 'a', transforms: [{ replace: { search: '-', with: '' } }] }, { a: 'a-b-c' })).toBe('abc');
  });

  it('decimal keeps the digits, or rounds half up to a scale', async () => {
    expect(await value('article', { from: 'a', transforms: ['decimal'] }, { a: '1 234,50' })).toBe('1234.50');
    expect(await value('article', { from: 'a', transforms: [{ decimal: { scale: 2 } }] }, { a: '2,675' })).toBe('2.68');
    expect(await value('article', { from: 'a', transforms: [{ decimal: { scale: 1 } }] }, { a: '3' })).toBe('3.0');
  });

  it('number and integer', async () => {
    expect(await value('article', { from: 'a', transforms: ['number'] }, { a: '1,50' })).toBe('1.5');
    expect(await value('article', { from: 'a', transforms: ['integer'] }, { a: '12,00' })).toBe('12');
    const r = await mapOne({ article: { from: 'a', transforms: ['integer'] } }, { a: '12,5' });
    expect(r).toEqual({ ok: false, field: 'article', rule: 'integer', reason: 'article: "12,5" is not a whole number (transform integer)' });
  });

  it('date in given and detected formats, real calendar dates only', async () => {
    const d = (format: string | undefined, a: string) =>
      mapOne({ article: { from: 'a', transforms: [format ? { date: { format } } : 'date'] } }, { a });
    expect(await d(undefined, '2024-02-29')).toMatchObject({ ok: true, value: { article: '2024-02-29' } });
    expect(await d(undefined, '01.03.2024 0:00:00')).toMatchObject({ ok: true, value: { article: '2024-03-01' } });
    expect(await d(undefined, '20240301')).toMatchObject({ ok: true, value: { article: '2024-03-01' } });
    expect(await d('MM/DD/YYYY', '12/31/2023')).toMatchObject({ ok: true, value: { article: '2023-12-31' } });
    expect(await d('DD/MM/YYYY', '31/12/2023')).toMatchObject({ ok: true, value: { article: '2023-12-31' } });
    expect(await d('DD.MM.YYYY', '29.02.2023')).toMatchObject({ ok: false, rule: 'date', reason: 'article: "29.02.2023" is not a date in format DD.MM.YYYY (transform date)' });
    expect(await d('iso', '2024-13-01')).toMatchObject({ ok: false, rule: 'date' });
    expect(await d('iso', '1900-02-29')).toMatchObject({ ok: false, rule: 'date' });
  });

  it('boolean', async () => {
    for (const [a, b] of [['да', true], ['НЕТ', false], ['1', true], ['0', false], ['Yes', true], ['false', false]] as const) {
      expect(await value('deleted', { from: 'a', transforms: ['boolean'] }, { a })).toBe(b);
    }
    const r = await mapOne({ deleted: { from: 'a', transforms: ['boolean'] } }, { a: 'maybe' });
    expect(r).toMatchObject({ ok: false, field: 'deleted', rule: 'boolean' });
  });

  it('emptyToNull turns blanks and NULL markers into a missing value', async () => {
    expect(await mapOne({ article: { from: 'a', transforms: ['emptyToNull'], optional: true } }, { a: 'NULL' })).toEqual({ ok: true, value: { code: 'C1', name: 'Item' } });
    expect(await value('article', { from: 'a', transforms: ['emptyToNull'], default: 'n/a' }, { a: '   ' })).toBe('n/a');
    expect(await value('article', { from: 'a', transforms: ['emptyToNull'] }, { a: 'x' })).toBe('x');
  });

  it('lookup through a values table, rejecting or keeping unknown values', async () => {
    const spec = (onMissing: string) => ({ from: 'a', transforms: [{ lookup: { values: { шт: 'pcs', кг: 'kg' }, onMissing } }] });
    expect(await value('unit', spec('reject'), { a: 'кг' })).toBe('kg');
    expect(await value('unit', spec('keep'), { a: 'м' })).toBe('м');
    expect(await mapOne({ unit: spec('reject') }, { a: 'м' })).toMatchObject({ ok: false, rule: 'lookup', reason: expect.stringContaining('unit: "м" is not in the lookup table') });
  });

  it('lookup of an entity id from another system, preloaded once', async () => {
    let calls = 0;
    const lookups: LookupSource = {
      async translate(entity, from, to) {
        calls++;
        expect([entity, from, to]).toEqual(['group', 'sap', 'onec']);
        return new Map([['G-SAP-1', 'G-1C-1']]);
      },
    };
    const fn = await compileMapping(product({ group: { from: 'g', transforms: [{ lookup: { entity: 'group', system: 'sap' } }] } }), { system: 'onec', lookups });
    expect(fn({ code: 'C', g: 'G-SAP-1' })).toMatchObject({ ok: true, value: { group: 'G-1C-1' } });
    expect(fn({ code: 'C', g: 'G-SAP-9' })).toMatchObject({ ok: false, rule: 'lookup', reason: 'group: group "G-SAP-9" of system "sap" has no id in system "onec" (transform lookup)' });
    expect(calls).toBe(1);
    await expect(compileMapping(product({ group: { from: 'g', transforms: [{ lookup: { entity: 'group', system: 'sap' } }] } }))).rejects.toThrow(/needs the flow's system/);
  });

  it('unitFactor multiplies or divides exactly by a constant or a column', async () => {
    const prices = (price: Record<string, unknown>): Mapping =>
      ({ apiVersion: 'magistral/v1', kind: 'Mapping', name: 'p', target: 'prices', fields: { product: { const: 'P' }, priceType: { const: 'T' }, currency: { const: 'RUB' }, price } }) as Mapping;
    const perBox = await compileMapping(prices({ from: 'price', transforms: [{ unitFactor: { factorFrom: 'per_box', divide: true, scale: 2 } }] }));
    expect(perBox({ price: '100,00', per_box: '3' })).toMatchObject({ ok: true, value: { price: '33.33' } });
    expect(perBox({ price: '200', per_box: '3' })).toMatchObject({ ok: true, value: { price: '66.67' } });
    expect(perBox({ price: '200', per_box: '' })).toMatchObject({ ok: false, rule: 'unitFactor', reason: 'price: the factor column "per_box" is empty (transform unitFactor)' });
    expect(perBox({ price: '200', per_box: '0' })).toMatchObject({ ok: false, rule: 'unitFactor', reason: expect.stringContaining('zero factor') });
    expect(perBox({ price: '200', per_box: 'x' })).toMatchObject({ ok: false, rule: 'unitFactor' });
    const times = await compileMapping(prices({ from: 'price', transforms: [{ unitFactor: { factor: '0.1' } }] }));
    expect(times({ price: '0.3' })).toMatchObject({ ok: true, value: { price: '0.03' } });
  });
});

describe('field sources and presence', () => {
  it('concat, const, missing column as empty', async () => {
    expect(await value('article', { concat: [{ from: 'a' }, { const: '-' }, { from: 'b' }] }, { a: 'X', b: 'Y' })).toBe('X-Y');
    // A column named like an Object.prototype member reads as empty when absent.
    expect(await mapOne({ article: { from: 'constructor', optional: true } }, {})).toEqual({ ok: true, value: { code: 'C1', name: 'Item' } });
  });

  it('default, optional, required', async () => {
    expect(await value('unit', { from: 'u', default: 'pcs' }, {})).toBe('pcs');
    expect(await mapOne({ unit: { from: 'u', optional: true } }, { u: '' })).toEqual({ ok: true, value: { code: 'C1', name: 'Item' } });
    expect(await mapOne({ unit: { from: 'u', transforms: ['trim'] } }, { u: '  ' })).toEqual({ ok: false, field: 'unit', rule: 'required', reason: 'unit: missing value (column "u" is empty)' });
  });
});

describe('canonical validation', () => {
  const prices: Mapping = {
    apiVersion: 'magistral/v1', kind: 'Mapping', name: 'p', target: 'prices',
    fields: { product: { from: 'sku' }, priceType: { const: 'retail' }, price: { from: 'price', transforms: ['decimal'] }, currency: { from: 'cur', transforms: ['upper'], default: 'RUB' } },
  };

  it('rejects with the field, the value and the rule', async () => {
    const fn = await compileMapping(prices);
    expect(fn({ sku: 'A', price: '-5' })).toEqual({ ok: false, field: 'price', rule: 'pattern', reason: 'price: "-5" is not a non-negative decimal number with a dot (up to 14 integer and 6 fraction digits)' });
    expect(fn({ sku: 'A', price: '5', cur: 'xyz' })).toEqual({ ok: false, field: 'currency', rule: 'enum', reason: 'currency: "XYZ" is not a valid ISO 4217 alphabetic currency code' });
    expect(fn({ sku: 'A', price: 'abc' })).toEqual({ ok: false, field: 'price', rule: 'decimal', reason: 'price: "abc" is not a number (transform decimal)' });
    expect(fn({ sku: 'A\u0001', price: '1' })).toMatchObject({ ok: false, field: 'product', rule: 'pattern' });
    expect(fn({ sku: 'A', price: '123456789012345' })).toMatchObject({ ok: false, field: 'price', rule: 'pattern' });
    // The memo of valid values must not let an invalid value through after valid ones.
    expect(fn({ sku: 'A', price: '5', cur: 'usd' })).toMatchObject({ ok: true, value: { currency: 'USD' } });
    expect(fn({ sku: 'A', price: '5', cur: 'usx' })).toMatchObject({ ok: false, field: 'currency' });
  });

  it('refuses at compile time fields the target does not have or does not always get', async () => {
    await expect(compileMapping({ ...prices, fields: { ...prices.fields, colour: { const: 'red' } } })).rejects.toThrow(/prices has no field 'colour'/);
    const { currency: _c, ...noCurrency } = prices.fields;
    await expect(compileMapping({ ...prices, fields: noCurrency })).rejects.toThrow(/required prices field 'currency' is not mapped/);
    await expect(compileMapping({ ...prices, fields: { ...prices.fields, currency: { from: 'cur', optional: true } } })).rejects.toThrow(/cannot be optional/);
  });

  it('a boolean where the schema wants a string is a reject, not an exception', async () => {
    const fn = await compileMapping({ ...prices, fields: { ...prices.fields, product: { from: 'sku', transforms: ['boolean'] } } });
    expect(fn({ sku: 'yes', price: '1' })).toMatchObject({ ok: false, field: 'product', rule: 'type' });
  });
});
