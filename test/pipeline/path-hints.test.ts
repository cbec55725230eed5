// PathHints: which staged rows carry their element path into staging (the merge rejects them for a
// code the run cannot create). Real PostgreSQL; the codes are the store's external ids.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PathHints } from '../../src/pipeline/extract/index.ts';
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
