// A fact's merge locks the price types it writes or removes from, not the whole target: a small delta of
// one price type merges while another flow's snapshot of other price types is in the middle of its merge
// (bench:freshness measured the delta waiting for the snapshot's whole merge), while a delta into a price
// type the snapshot writes or removes from still waits for it. The store ends as a serial run leaves it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { extractRun } from '../../src/pipeline/extract/index.ts';
import { mergeRun } from '../../src/pipeline/merge.ts';
import { createTestPipeline, csv, pricesFlow, pricesPicture, type TestPipeline } from '../helpers/pipeline.ts';

const HEADER = 'sku;price_type;price;currency';
const FLOWS = [pricesFlow('big', 'autoCreate: true', 'snapshot'), pricesFlow('left', 'autoCreate: true'), pricesFlow('right', 'autoCreate: true')];
const products = Array.from({ length: 20 }, (_, i) => `P${i + 1}`);
const rows = (pt: string, value: (i: number) => string) => products.map((p, i) => `${p};${pt};${value(i)};RUB`);
const LEFT_TYPES = ['L1', 'L2', 'L3', 'L4', 'L5', 'L6'];

/** The payloads in the order the concurrent case commits them (the serial run's order). */
const SEED = [
  ['big', csv(HEADER, [...rows('A1', (i) => `${100 + i}`), ...rows('A2', (i) => `${200 + i}`)])],
  ['left', csv(HEADER, LEFT_TYPES.flatMap((pt) => rows(pt, (i) => `${300 + i}`)))],
] as const;
const leftDelta = (pt: string) => csv(HEADER, [`P1;${pt};1.11;RUB`]);
// The snapshot changes A1 and no longer holds A2: its removal reaches A2's partition too.
const BIG_SNAPSHOT = csv(HEADER, rows('A1', (i) => `${150 + i}`));
const RIGHT_DELTA = csv(HEADER, ['P2;A2;2.22;RUB']);

describe('partition locks of a fact merge', () => {
  let tp: TestPipeline;
  let serial: TestPipeline;
  beforeAll(async () => {
    tp = await createTestPipeline('plock', { workers: false });
    serial = await createTestPipeline('plock-serial');
    for (const t of [tp, serial]) for (const f of FLOWS) await t.applyFlowYaml(f);
  });
  afterAll(async () => {
    await tp?.close();
    await serial?.close();
  });

  async function staged(flow: string, body: string): Promise<number> {
    const id = await tp.send(flow, body, `${flow}.csv`);
    expect(await extractRun(tp.rt, id)).toBe('staged');
    return id;
  }

  /** What a merge answers within `ms`: its outcome, or 'blocked'. */
  const within = (merge: Promise<string>, ms: number) => Promise.race([merge, new Promise<string>((r) => setTimeout(() => r('blocked'), ms))]);

  it('a delta of other price types merges while a snapshot is mid-merge; one into its scope waits', async () => {
    for (const [flow, body] of SEED) {
      // The first load into the empty table goes straight in (direct), the next one through staging.
      const id = await tp.send(flow, body, `${flow}.csv`);
      const read = await extractRun(tp.rt, id);
      if (read === 'staged') expect(await mergeRun(tp.rt, id)).toBe('done');
      else expect(read).toBe('merged');
    }
    // The partition (table) of each price type; the left delta goes to one A1 and A2 do not share.
    const parts = new Map((await tp.rt.pool.query<{ code: string; part: string }>(`
      SELECT DISTINCT pt.code, x.tableoid::regclass::text AS part FROM prices x JOIN price_types pt ON pt.id = x.price_type_id`)).rows.map((r) => [r.code, r.part]));
    const leftType = LEFT_TYPES.find((pt) => parts.get(pt) !== parts.get('A1') && parts.get(pt) !== parts.get('A2'))!;
    expect(leftType).toBeDefined();

    const bigId = await staged('big', BIG_SNAPSHOT);
    const leftId = await staged('left', leftDelta(leftType));
    const rightId = await staged('right', RIGHT_DELTA);
    // Holding A1's partition in SHARE mode stops the snapshot's upsert there, inside its merge
    // transaction, with every lock the merge takes already held.
    const holder: pg.PoolClient = await tp.rt.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`LOCK TABLE ${parts.get('A1')} IN SHARE MODE`);
      const big = mergeRun(tp.rt, bigId);
      await expect.poll(async () => (await tp.rt.pool.query(`SELECT 1 FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'relation'`)).rowCount, { timeout: 10_000 }).toBe(1);

      expect(await within(mergeRun(tp.rt, leftId), 3000)).toBe('done');
      // A2 is no price type of the snapshot's payload, but its removal reaches it.
      const right = mergeRun(tp.rt, rightId);
      expect(await within(right, 1500)).toBe('blocked');
      expect(await within(big, 10)).toBe('blocked');

      await holder.query('COMMIT');
      expect(await big).toBe('done');
      expect(await right).toBe('done');
    } finally {
      await holder.query('ROLLBACK').catch(() => {});
      holder.release();
    }

    // The same payloads one after another, in commit order, through the workers of another store.
    for (const [flow, body] of [...SEED, ['left', leftDelta(leftType)], ['big', BIG_SNAPSHOT], ['right', RIGHT_DELTA]] as const) {
      expect((await serial.ingest(flow, body, `${flow}.csv`)).state).toBe('done');
    }
    const picture = await pricesPicture(tp);
    expect(picture).toEqual(await pricesPicture(serial));
    expect(picture).toContain(`P1|${leftType}|1.110000|RUB`);
    expect(picture).toContain('P2|A2|2.220000|RUB');
    expect(picture.filter((r) => r.includes('|A2|'))).toHaveLength(1);
    expect(picture).toContain('P1|A1|150.000000|RUB');
  });
});
