// Two flows' deltas and a third flow's snapshots sent in one interleaving to the real workers (reading
// and merging concurrently: the small-run slots, partition locks, group merges of a delta backlog) leave
// exactly the prices a serial run of the same payloads leaves, one after another. Within a flow the
// deltas rewrite the same keys over and over (receipt order must win); across flows no key is shared, so
// the serial order of flows does not matter.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForRun } from '../../src/pipeline/runs.ts';
import { mergeLockName, XACT_LOCK_SQL } from '../../src/pipeline/locks.ts';
import { createTestPipeline, csv, pricesFlow, pricesPicture, type TestPipeline } from '../helpers/pipeline.ts';

const HEADER = 'sku;price_type;price;currency';
const FLOWS = [pricesFlow('snap', 'autoCreate: true', 'snapshot'), pricesFlow('d1', 'autoCreate: true'), pricesFlow('d2', 'autoCreate: true')];

function snapshot(types: string[], salt: number): string {
  const rows: string[] = [];
  for (const t of types) for (let p = 0; p < 3000; p++) rows.push(`P${p};${t};${100 + ((p * 31 + salt) % 9000)}.${salt % 100};RUB`);
  return csv(HEADER, rows);
}

/** The payloads in receipt order: snapshots between bursts of deltas that rewrite the same few keys. */
function payloads(): Array<[string, string]> {
  const out: Array<[string, string]> = [['snap', snapshot(['S1', 'S2'], 1)]];
  for (let k = 0; k < 40; k++) {
    // d1: two of 12 products each time (consecutive deltas share keys); one in ten carries a bad price too.
    const d1 = [`P${k % 12};D1;${k + 1}.01;RUB`, `P${(k * 7) % 12};D1;${k + 1}.02;RUB`];
    if (k % 10 === 3) d1.push(`P${(k + 5) % 12};D1;-1;RUB`);
    out.push(['d1', csv(HEADER, d1)]);
    // d2: 25 rows of 300 products, moving on each time (keys come back every 12 deltas).
    out.push(['d2', csv(HEADER, Array.from({ length: 25 }, (_, i) => `P${(k * 25 + i) % 300};D2;${k + 1}.${String(i).padStart(2, '0')};RUB`))]);
    if (k === 12) out.push(['snap', snapshot(['S1'], 2)]);
    if (k === 27) out.push(['snap', snapshot(['S2', 'S3'], 3)]);
  }
  return out;
}

describe('interleaved flows', () => {
  let live: TestPipeline;
  let serial: TestPipeline;
  beforeAll(async () => {
    live = await createTestPipeline('interleave', { poolSize: 12 });
    serial = await createTestPipeline('interleave-serial', { poolSize: 12 });
    for (const t of [live, serial]) for (const f of FLOWS) await t.applyFlowYaml(f);
  });
  afterAll(async () => {
    await live?.close();
    await serial?.close();
  });

  it('end with the store a serial run of the same payloads leaves', async () => {
    const all = payloads();
    for (const [flow, body] of all) expect((await serial.ingest(flow, body, `${flow}.csv`)).state).toBe('done');

    // The same payloads as they come: each sent without waiting for the others, 20 ms apart. The first 30
    // find every merge of prices held back (a lock as a long merge of the target holds it), so runs of a
    // flow pile up staged and merge as groups; small deltas merge too fast to pile up on their own here.
    const blocker = await live.rt.pool.connect();
    await blocker.query('BEGIN');
    await blocker.query(XACT_LOCK_SQL, [mergeLockName('prices')]);
    let blocked = true;
    const release = async () => {
      if (!blocked) return;
      blocked = false;
      await blocker.query('COMMIT');
      blocker.release();
    };
    const ids: number[] = [];
    try {
      for (const [flow, body] of all) {
        ids.push(await live.send(flow, body, `${flow}.csv`));
        await new Promise((r) => setTimeout(r, 20));
        if (ids.length === 30) await release();
      }
    } finally {
      await release();
    }
    for (const id of ids) expect((await waitForRun(live.rt.db, id, { timeoutMs: 180_000, intervalMs: 50 })).state).toBe('done');

    const [a, b] = [await pricesPicture(live), await pricesPicture(serial)];
    expect(a.length).toBe(b.length);
    expect(a).toEqual(b);
    // A bad price never replaced a good one: each flow's rejects are the same.
    const rejects = async (t: TestPipeline) => (await t.rt.pool.query<{ n: string }>('SELECT count(*) AS n FROM rejects')).rows[0]!.n;
    expect(await rejects(live)).toBe(await rejects(serial));
    // The runs did meet: deltas held back merged as a group with earlier ones of their flow.
    const grouped = (await live.rt.pool.query('SELECT 1 FROM runs WHERE merged_with IS NOT NULL')).rowCount;
    expect(grouped).toBeGreaterThan(0);
  }, 400_000);
});
