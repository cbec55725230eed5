// A small delta's merge does work in proportion to its rows, not to the store: bench:freshness found a
// 100-row delta into a store of 50,000 products taking 420 ms (1.0–1.3 s under load), its upsert planned
// as a merge join that paired every product code with the price type. Measured here by what the merge's
// statements read from the tables (pg_stat_user_tables, flushed by the merge's connection once idle).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractRun } from '../../src/pipeline/extract/index.ts';
import { mergeRun } from '../../src/pipeline/merge.ts';
import { createTestPipeline, csv, pricesFlow, pricesPicture, type TestPipeline } from '../helpers/pipeline.ts';

const H = 'sku;price_type;price;currency';
const PRODUCTS = 50_000;
const sku = (p: number) => `SKU-${String(p + 1).padStart(7, '0')}`;

interface Reads { seq: number; idx: number; upd: number }

describe('a small delta merged into a big store', () => {
  let tp: TestPipeline;
  beforeAll(async () => {
    tp = await createTestPipeline('small-merge-plan', { workers: false });
    await tp.applyFlowYaml(pricesFlow('plan-delta'));
    // The bench's shape: one price type whose code sorts before every product code.
    const base = await tp.send('plan-delta', csv(H, Array.from({ length: PRODUCTS }, (_, p) => `${sku(p)};B-RETAIL;${10 + (p % 90)}.00;RUB`)));
    if ((await extractRun(tp.rt, base)) === 'staged') expect(await mergeRun(tp.rt, base)).toBe('done');
    expect(await pricesPicture(tp)).toHaveLength(PRODUCTS);
    await tp.rt.pool.query('ANALYZE');
  }, 120_000);
  afterAll(async () => {
    await tp?.close();
  });

  /** Tuples read by sequential and index scans, and rows updated, of external_ids and prices (all partitions). */
  async function reads(): Promise<Reads> {
    const r = await tp.rt.pool.query<{ seq: string; idx: string; upd: string }>(`
      SELECT coalesce(sum(seq_tup_read), 0) AS seq, coalesce(sum(idx_tup_fetch), 0) AS idx, coalesce(sum(n_tup_upd), 0) AS upd
      FROM pg_stat_user_tables WHERE schemaname = 'public' AND (relname = 'external_ids' OR relname LIKE 'prices_p%')`);
    return { seq: Number(r.rows[0]!.seq), idx: Number(r.rows[0]!.idx), upd: Number(r.rows[0]!.upd) };
  }

  /**
   * The counters once every other backend has flushed its own: an idle backend flushes up to 10 s late,
   * one that exits right away. The pool's idle connections are ended (the pool opens new ones).
   */
  async function settled(): Promise<Reads> {
    const c = await tp.rt.pool.connect();
    try {
      const pids = (await c.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)).rows.map((r) => r.pid);
      await c.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) pid', [pids]);
      for (let i = 0; i < 100; i++) {
        if (!(await c.query('SELECT 1 FROM pg_stat_activity WHERE pid = ANY($1::int[])', [pids])).rowCount) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      // This connection may be the one the merge used: its own counters go once this statement ends.
      await c.query('SELECT pg_stat_force_next_flush()');
    } finally {
      c.release();
    }
    // An exiting backend flushes after it leaves pg_stat_activity: read until a second passes unchanged.
    let last = await reads();
    for (let i = 0; i < 30; i++) {
      await new Promise((r) => setTimeout(r, 1_000));
      const now = await reads();
      if (now.seq === last.seq && now.idx === last.idx && now.upd === last.upd) return now;
      last = now;
    }
    throw new Error('table counters never settled');
  }

  it('reads a few rows per staged row, not the store', async () => {
    // The plan the planner picks without the fix depends on ANALYZE's random sample: three rounds, fresh statistics each.
    for (let round = 0; round < 3; round++) {
      const lines = Array.from({ length: 100 }, (_, i) => `${sku(i * 397 + round)};B-RETAIL;${500 + i}.${10 + round}0;RUB`);
      const id = await tp.send('plan-delta', csv(H, lines));
      expect(await extractRun(tp.rt, id)).toBe('staged');
      await tp.rt.pool.query('ANALYZE external_ids');
      const before = await settled();
      expect(await mergeRun(tp.rt, id)).toBe('done');
      const after = await settled();
      expect(after.upd - before.upd).toBe(100);
      // Three index lookups a row (price type, product, price) and the merge's own bookkeeping: well under
      // 20 a row. The plan this replaced read every product code (50,000) and more.
      expect(after.seq - before.seq + (after.idx - before.idx), `round ${round}`).toBeLessThan(100 * 20);
      const picture = await pricesPicture(tp);
      expect(picture.filter((l) => l.endsWith(`.${10 + round}0000|RUB`) && l.includes('|B-RETAIL|'))).toHaveLength(100);
    }

  });
});
