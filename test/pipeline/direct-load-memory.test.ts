// The direct load's code → id maps must not keep the parser's decoded chunks alive: a new code is a
// slice of a megabyte-sized chunk string until it is copied.
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Resolver } from '../../src/pipeline/extract/index.ts';
import { TARGETS, type FactSpec } from '../../src/pipeline/targets.ts';
import { createTestDb, type TestDb } from '../helpers/db.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

describe('direct load memory', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb('resolver');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('keeps new codes as strings of their own, not as views into chunks', async () => {
    const ref = (TARGETS.prices as FactSpec).keys[1];
    const r = new Resolver(ref, db.pool, 'products_id_seq');
    await r.reserve(400);
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 400; i++) {
      const chunk = `${i};`.padEnd(256 * 1024, 'x') + String(i);
      r.id(chunk.slice(0, 20));
    }
    gc();
    expect(r.fresh).toHaveLength(400);
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(20 * 1024 * 1024);
    // Ids come from the sequence, one per new code; a known code keeps its id.
    expect(new Set(r.fresh.map((f) => f[1])).size).toBe(400);
    expect(r.id(r.fresh[7]![0])).toBe(r.fresh[7]![1]);
  });
});
