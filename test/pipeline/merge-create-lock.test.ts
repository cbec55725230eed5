// A merge takes the placeholder-creation lock of an entity only when it has codes to create. The
// daily re-import (every code known) must not queue behind another merge that holds that lock — a
// 1M-price merge held it for 2.5 s while the stock and product-property merges of the same file waited.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractRun } from '../../src/pipeline/extract/index.ts';
import { mergeRun } from '../../src/pipeline/merge.ts';
import { createTestPipeline, csv, type TestPipeline } from '../helpers/pipeline.ts';

describe('placeholder-creation lock', () => {
  let tp: TestPipeline;
  beforeAll(async () => {
    tp = await createTestPipeline('mlock');
    for (const f of ['warehouses-csv', 'stock-csv']) await tp.applyFlowFile(`ops/flows/${f}.yaml`);
    await tp.ingest('warehouses-csv', csv('code;name;city', ['W-1;Склад;']));
    expect((await tp.ingest('stock-csv', csv('sku;warehouse;qty', ['S-1;W-1;5', 'S-2;W-1;6']))).state).toBe('done');
    await tp.workers!.close();
    tp.workers = undefined;
  });
  afterAll(async () => {
    await tp?.close();
  });

  async function staged(body: string): Promise<number> {
    const id = await tp.send('stock-csv', body, 'stock.csv');
    expect(await extractRun(tp.rt, id)).toBe('staged');
    return id;
  }

  /**
   * mergeRun while another session holds the creation lock of products: 'blocked' if it has not
   * finished 3 s later. Then the lock goes and the merge's own outcome is awaited.
   */
  async function mergeWhileLocked(id: number): Promise<{ whileLocked: string; outcome: string }> {
    const holder = await tp.rt.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT pg_advisory_xact_lock(hashtext('magistral:create:product:local'))`);
      const merge = mergeRun(tp.rt, id);
      const whileLocked = await Promise.race([merge, new Promise<string>((r) => setTimeout(() => r('blocked'), 3000))]);
      await holder.query('ROLLBACK');
      return { whileLocked, outcome: await merge };
    } finally {
      holder.release();
    }
  }

  it('a merge whose codes are all known does not wait for it', async () => {
    const id = await staged(csv('sku;warehouse;qty', ['S-1;W-1;7', 'S-2;W-1;6']));
    expect(await mergeWhileLocked(id)).toEqual({ whileLocked: 'done', outcome: 'done' });
    expect((await tp.rt.pool.query(`SELECT quantity::int AS q FROM stock s JOIN products p ON p.id = s.product_id WHERE p.code = 'S-1'`)).rows).toEqual([{ q: 7 }]);
  });

  it('a merge with a code to create still waits for it, then creates the placeholder', async () => {
    const id = await staged(csv('sku;warehouse;qty', ['S-1;W-1;7', 'S-2;W-1;6', 'S-3;W-1;1']));
    expect(await mergeWhileLocked(id)).toEqual({ whileLocked: 'blocked', outcome: 'done' });
    expect((await tp.rt.pool.query(`SELECT placeholder FROM products WHERE code = 'S-3'`)).rows).toEqual([{ placeholder: true }]);
  });
});
