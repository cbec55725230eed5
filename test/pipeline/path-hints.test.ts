// PathHints: which staged rows carry their element path into staging (the merge rejects them for a
// code the run cannot create). Real PostgreSQL; the codes are the store's external ids.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PathHints, stagingLine } from '../../src/pipeline/extract/index.ts';
import { targetSpec } from '../../src/pipeline/targets.ts';
import type { Flow } from '../../src/schemas/index.ts';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';

const flow = (autoCreate: NonNullable<Flow['autoCreate']>): Flow => ({
  apiVersion: 'magistral/v1', kind: 'Flow', name: 'hints', source: { connector: 'file.csv', system: 'erp' },
  mapping: 'stock.yaml', target: 'stock', mode: 'delta', autoCreate,
} as Flow);

describe('PathHints', () => {
  let tp: TestPipeline;
  beforeAll(async () => {
    tp = await createTestPipeline('hints', { workers: false });
    await tp.rt.pool.query(`INSERT INTO external_ids (entity, system, external_id, internal_id) VALUES ('warehouse', 'erp', 'W1', 1), ('product', 'erp', 'P1', 1), ('warehouse', 'other', 'W9', 9)`);
  });
  afterAll(async () => {
    await tp?.close();
  });

  it('flags a row naming a code the run cannot create, per reference and per system', async () => {
    const h = await PathHints.load(tp.rt.pool, flow(false), targetSpec('stock'));
    expect(h.unknown({ warehouse: 'W1', product: 'P1', quantity: '1' })).toBe(false);
    expect(h.unknown({ warehouse: 'W2', product: 'P1', quantity: '1' })).toBe(true);
    expect(h.unknown({ warehouse: 'W9', product: 'P1', quantity: '1' })).toBe(true); // another system's code
    expect(h.unknown({ warehouse: 'W1', product: 'P2', quantity: '1' })).toBe(true);
    // What the flow creates itself (placeholders) is never a reason: by default it creates everything.
    const everything = await PathHints.load(tp.rt.pool, flow(true), targetSpec('stock'));
    expect(everything.unknown({ warehouse: 'W2', product: 'P2', quantity: '1' })).toBe(false);
    const creating = await PathHints.load(tp.rt.pool, flow(['product']), targetSpec('stock'));
    expect(creating.unknown({ warehouse: 'W1', product: 'P2', quantity: '1' })).toBe(false);
    expect(creating.unknown({ warehouse: 'W2', product: 'P2', quantity: '1' })).toBe(true);
  });

  it('does not hold a reference with more than 100,000 codes: its rows are not flagged', async () => {
    await tp.rt.pool.query(`INSERT INTO external_ids (entity, system, external_id, internal_id)
      SELECT 'product', 'erp', 'G' || g, 10 + g FROM generate_series(1, 100000) g`);
    const h = await PathHints.load(tp.rt.pool, flow(false), targetSpec('stock'));
    expect(h.unknown({ warehouse: 'W1', product: 'never-seen', quantity: '1' })).toBe(false);
    expect(h.unknown({ warehouse: 'W2', product: 'never-seen', quantity: '1' })).toBe(true);
  });
});

describe('stagingLine', () => {
  const spec = targetSpec('stock');
  const row = { warehouse: 'W1', product: 'P1', quantity: '1' };
  const pathOf = (copyLine: string): string => copyLine.trimEnd().split('\t').at(-1)!;

  it('stages the element path only where the line alone does not name the element (lineage)', () => {
    const line = stagingLine(spec);
    // One element per line (1C writes so): no path.
    expect(pathOf(line(row, 7, 0, false, '/a/b[1]'))).toBe('\\N');
    expect(pathOf(line(row, 8, 0, false, '/a/b[2]'))).toBe('\\N');
    // A second element on line 8: its path; the same line number in the next file is another line.
    expect(pathOf(line(row, 8, 0, false, '/a/b[3]'))).toBe('/a/b[3]');
    expect(pathOf(line(row, 8, 1, false, '/a/b[1]'))).toBe('\\N');
    // A rejected row's key never carries one; CSV records have no path at all.
    expect(pathOf(line(row, 8, 1, true, '/a/b[2]'))).toBe('\\N');
    expect(pathOf(line(row, 9, 1, false, undefined))).toBe('\\N');
    expect(pathOf(line(row, 9, 1, false, undefined))).toBe('\\N');
  });
});
