// Lines taken as bytes by a first load (src/pipeline/extract/line-take.ts): a line is taken only when the
// mapping would pass every value on as it stands, and a first load that takes lines leaves the same store,
// rejects, counts and fingerprint file as one that sends every line through the mapping.
import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileMapping, loadMapping, parseDecimal } from '../../src/mapping/index.ts';
import { extractRun } from '../../src/pipeline/extract/index.ts';
import { decimalAsItStands, LineCutter, plainMapping, type PlainMapping } from '../../src/pipeline/extract/line-take.ts';
import { fingerprintFile } from '../../src/pipeline/fingerprints.ts';
import { mergeRun } from '../../src/pipeline/merge.ts';
import type { Mapping } from '../../src/schemas/index.ts';
import { createTestPipeline, csv, pricesFlow, pricesPicture, type TestPipeline } from '../helpers/pipeline.ts';

const enc = (s: string) => Buffer.from(s, 'latin1');

describe('decimalAsItStands', () => {
  it('says a value stands only when the decimal transform gives it back unchanged', () => {
    const digitsAndDots = fc.array(fc.constantFrom('0', '1', '5', '9', '.', ','), { maxLength: 12 }).map((a) => a.join(''));
    fc.assert(fc.property(digitsAndDots, (s) => {
      const b = enc(s);
      if (decimalAsItStands(b, 0, b.length)) expect(parseDecimal(s)).toBe(s);
    }), { numRuns: 3000 });
    // …and it does stand for the plain shapes an export writes.
    for (const s of ['0', '7', '10', '1234.50', '0.5', '99.999999']) expect(decimalAsItStands(enc(s), 0, s.length)).toBe(true);
    for (const s of ['', '007', '00.5', '.5', '5.', '1,5', '1.2.3', '-5', ' 5']) expect(decimalAsItStands(enc(s), 0, s.length)).toBe(false);
  });
});

describe('LineCutter on the prices mapping', () => {
  let mapping: Mapping;
  let plan: PlainMapping;
  beforeAll(async () => {
    mapping = await loadMapping('file/prices.yaml');
    plan = plainMapping(mapping)!;
  });

  /** The record a CSV line without quotes is read as: its fields by header name. */
  const record = (columns: string[], line: string, d: string): Record<string, string> => {
    const v = line.split(d);
    return Object.fromEntries(columns.map((c, i) => [c, v[i] ?? '']));
  };

  /** The values the cutter took, by mapping field (a column the file lacks: its default; absent: left out). */
  const taken = (c: LineCutter, buf: Buffer, p = plan): Record<string, string> => {
    const out: Record<string, string> = {};
    p.fields.forEach((f, i) => {
      if (c.s[i]! >= 0) out[f.name] = buf.toString('latin1', c.s[i]!, c.e[i]!);
      else if (c.konst[i] !== undefined) out[f.name] = c.konst[i]!;
    });
    return out;
  };

  it('takes a line only when the mapping maps it to exactly its values, and accepts it', async () => {
    const value = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('A-100', 'retail', 'RUB', 'USD', 'EUR', '12.50', '0', '0.5', '12', 'box', 'a b', '99.999999') },
      { weight: 2, arbitrary: fc.constantFrom('rub', 'XYZ', '1 234,5', '007', '-5', ' P1', 'P1 ', 'P\\1', 'Ц1', 'x\ty', '0.0', '1.1234567', '123456789012345') },
      { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom('A', 'z', '0', '1', '.', ',', ' ', '-', '\\', '\u0001', 'é', 'Я'), maxLength: 8 }) },
      { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('P', '7'), minLength: 149, maxLength: 152 }) },
    );
    const shapes = [
      { columns: ['sku', 'price_type', 'price', 'currency'], d: ';' },
      { columns: ['price_type', 'sku', 'price'], d: ',' },
      { columns: ['sku', 'price_type', 'price', 'currency', 'unit', 'factor'], d: '\t' },
      { columns: ['sku', 'price_type', 'price', 'currency', 'note'], d: ';' },
    ];
    const shaped = fc.constantFrom(...shapes).chain((shape) => fc.tuple(fc.constant(shape), fc.array(value, { minLength: shape.columns.length - 1, maxLength: shape.columns.length + 1 })));
    // The file's mapping, and one that upper-cases codes (which their canonical check would not refuse).
    const upper: Mapping = {
      ...mapping, fields: { ...mapping.fields, product: { from: 'sku', transforms: ['trim', 'upper'] }, priceType: { from: 'price_type', transforms: ['upper'] } },
    };
    for (const m of [mapping, upper]) {
      const p = plainMapping(m)!;
      const fn = await compileMapping(m, { system: 'local' });
      let tookAny = 0;
      fc.assert(fc.property(shaped, ([{ columns, d }, values]) => {
        const line = values.join(d);
        const buf = Buffer.from(line, 'utf8');
        const c = new LineCutter(p, columns, d.charCodeAt(0));
        if (!c.cut(buf, 0, buf.length)) return;
        tookAny++;
        const r = fn(record(columns, line, d));
        expect(r.ok).toBe(true);
        if (r.ok) expect(r.value).toEqual(taken(c, buf, p));
      }), { numRuns: 20000 });
      // The property is not empty: plain lines are taken.
      expect(tookAny).toBeGreaterThan(50);
    }
  });

  it('takes the plain lines of an export, with the default of a column the file lacks', () => {
    const c = new LineCutter(plan, ['sku', 'price_type', 'price'], 0x3b);
    const b = enc('A-1;retail;12.50');
    expect(c.cut(b, 0, b.length)).toBe(true);
    expect(taken(c, b)).toEqual({ product: 'A-1', priceType: 'retail', price: '12.50', currency: 'RUB' });
    // Lines the mapping changes or refuses are not taken.
    for (const l of ['A-1;retail;12,50', 'A-1;retail;', 'A-1; retail;1', 'A-1;retail;1;x', 'A-1;retail', 'Ц;retail;1', 'A\\1;retail;1']) {
      const x = Buffer.from(l, 'utf8');
      expect(c.cut(x, 0, x.length), l).toBe(false);
    }
  });

  it('is not made for mappings that do more than read columns as they stand', () => {
    const base = { apiVersion: 'magistral/v1', kind: 'Mapping', name: 'm', target: 'prices' } as const;
    const f = { product: { from: 'sku' }, priceType: { from: 'pt' }, currency: { from: 'c' } };
    expect(plainMapping({ ...base, fields: { ...f, price: { from: 'p', transforms: ['decimal'] } } } as Mapping)).toBeDefined();
    expect(plainMapping({ ...base, fields: { ...f, price: { from: 'p', transforms: ['number'] } } } as Mapping)).toBeUndefined();
    expect(plainMapping({ ...base, fields: { ...f, price: { concat: [{ from: 'a' }, { from: 'b' }] } } } as Mapping)).toBeUndefined();
    expect(plainMapping({ ...base, fields: { ...f, price: { const: '1' } } } as Mapping)).toBeUndefined();
    // A column named like an Object.prototype member is read otherwise by a record: no line is taken.
    const odd = plainMapping({ ...base, fields: { ...f, price: { from: 'constructor' } } } as Mapping)!;
    expect(new LineCutter(odd, ['sku', 'pt', 'c', 'constructor'], 0x3b).usable).toBe(false);
  });
});

describe('a first load taking lines as bytes', () => {
  let on: TestPipeline;
  let off: TestPipeline;
  const FLOW = 'take-lines';
  beforeAll(async () => {
    on = await createTestPipeline('take-on', { workers: false });
    off = await createTestPipeline('take-off', { workers: false, env: { MAGISTRAL_TAKE_LINES: 'false' } });
    for (const tp of [on, off]) await tp.applyFlowYaml(pricesFlow(FLOW, 'autoCreate: [product]', 'snapshot'));
    // Price types the flow may not create: declared beforehand (a code outside them is rejected).
    for (const tp of [on, off]) {
      await tp.rt.pool.query(`WITH t AS (INSERT INTO price_types (code, name) VALUES ('a', 'a'), ('b', 'b'), ('c', 'c') RETURNING id, code)
        INSERT INTO external_ids (entity, system, external_id, internal_id) SELECT 'priceType', 'local', code, id FROM t`);
    }
  });
  afterAll(async () => {
    await on?.close();
    await off?.close();
  });

  /** 2 × 3,000 plain lines (more new products than ids are reserved at once) and every kind of line the mapping changes or refuses. */
  function payload(): string {
    const lines: string[] = [];
    for (const t of ['a', 'b']) for (let p = 0; p < 3000; p++) lines.push(`P${p};${t};${(p * 7) % 1000}.${p % 100};RUB`);
    lines.push(
      'Q1;c;12.50;rub', ' Q2 ;c;1;RUB', 'Q3;c;1 234,50;RUB', 'Q4;c;007;RUB', 'Q5;c;0.5;', 'Q6;c;"7.00";RUB', '"Q7";c;8;USD',
      'Ц8;c;9;RUB', 'Q\\9;c;10;RUB', 'Q10;c;-5;RUB', 'Q11;c;abc;RUB', `${'Q'.repeat(151)};c;1;RUB`, 'Q12;c;1;XYZ',
      'Q13;zz;1;RUB', 'Q16;c;99.9999999;RUB', 'Q17;c;100000000000000;RUB', 'Q18;c;1;RUB\r', 'Q19;c;3.5;RUB',
    );
    for (let p = 3000; p < 3500; p++) lines.push(`P${p};c;${p}.25;EUR`);
    return csv('sku;price_type;price;currency', lines);
  }

  async function firstLoad(tp: TestPipeline): Promise<{ run: Record<string, unknown>; rejects: unknown[]; fp: string; picture: string[] }> {
    const id = await tp.send(FLOW, payload());
    const r = await extractRun(tp.rt, id);
    if (r === 'staged') await mergeRun(tp.rt, id);
    const run = (await tp.rt.pool.query(`SELECT state, load_path, rows_read::int, rows_inserted::int, rows_rejected::int FROM runs WHERE id = $1`, [id])).rows[0];
    const rejects = (await tp.rt.pool.query('SELECT line, field, rule, reason FROM rejects WHERE run_id = $1 ORDER BY line', [id])).rows;
    const flowId = Number((await tp.rt.pool.query('SELECT id FROM flows WHERE name = $1', [FLOW])).rows[0].id);
    const fp = await readFile(fingerprintFile(tp.dataDir, flowId, id), 'utf8');
    return { run, rejects, fp, picture: await pricesPicture(tp) };
  }

  it('leaves the store, rejects, counts and fingerprint of a load that maps every line', async () => {
    const a = await firstLoad(on);
    const b = await firstLoad(off);
    expect(a.run).toEqual({ state: 'done', load_path: 'direct', rows_read: 6518, rows_inserted: b.run.rows_inserted, rows_rejected: b.run.rows_rejected });
    expect(a.run).toEqual(b.run);
    expect(a.rejects).toEqual(b.rejects);
    // -5, abc, a code of 151 characters, XYZ, price type zz, 7 fraction digits, 15 integer digits.
    expect(a.rejects.map((r) => (r as { field: string }).field)).toEqual(['price', 'price', 'product', 'currency', 'priceType', 'price', 'price']);
    expect(a.picture).toEqual(b.picture);
    expect(a.picture).toContain('Q1|c|12.500000|RUB');
    expect(a.picture).toContain('Q5|c|0.500000|RUB');
    expect(a.picture).toContain('P2999|b|993.990000|RUB');
    expect(a.picture).toContain('Q\\9|c|10.000000|RUB');
    expect(a.picture).toContain('Q18|c|1.000000|RUB');
    expect(a.fp.split('\n').length).toBe(b.fp.split('\n').length);
    expect(a.fp).toEqual(b.fp);
  });

  it('writes a fingerprint the next snapshot passes over', async () => {
    const id = await on.send(FLOW, payload());
    const r = await extractRun(on.rt, id);
    if (r === 'staged') await mergeRun(on.rt, id);
    const run = (await on.rt.pool.query(`SELECT state, rows_read::int, rows_skipped::int, rows_staged::int FROM runs WHERE id = $1`, [id])).rows[0];
    expect(run.state).toBe('done');
    expect(run.rows_staged).toBe(0);
    expect(run.rows_skipped + (await on.rt.pool.query('SELECT count(*)::int AS n FROM rejects WHERE run_id = $1', [id])).rows[0].n).toBe(run.rows_read);
  });
});
