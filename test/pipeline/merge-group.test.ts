// A backlog of small deltas of prices with validity (IDoc messages, one run each) merges as one group:
// the earliest staged run takes the later staged runs of its flow into its transaction, rows of later
// runs winning as if each had merged alone, in order. Stages driven by hand on real PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractRun } from '../../src/pipeline/extract/index.ts';
import { mergeLockKey } from '../../src/pipeline/locks.ts';
import { mergeRun } from '../../src/pipeline/merge.ts';
import { getRun } from '../../src/pipeline/runs.ts';
import { createTestPipeline, csv, type TestPipeline } from '../helpers/pipeline.ts';

const HEAD = 'sku;price_type;price;currency;valid_from;valid_to';

describe('group merge', () => {
  let tp: TestPipeline;
  beforeAll(async () => {
    tp = await createTestPipeline('mergegroup', { workers: false });
    await tp.applyFlowFile('ops/flows/price-periods-csv.yaml');
  });
  afterAll(async () => {
    await tp?.close();
  });

  const prices = async () => (await tp.rt.pool.query(
    `SELECT p.code || '|' || t.code || '|' || x.value::text AS row FROM prices x JOIN products p ON p.id = x.product_id
     JOIN price_types t ON t.id = x.price_type_id ORDER BY 1`)).rows.map((r: { row: string }) => r.row);

  it('merges the later staged runs of the flow in the first one\'s transaction; later rows win', async () => {
    const a = await tp.send('price-periods-csv', csv(HEAD, ['A;retail;1;RUB;2020-01-01;', 'B;retail;5;RUB;2020-01-01;']), 'a.csv');
    const b = await tp.send('price-periods-csv', csv(HEAD, ['A;retail;2;RUB;2020-01-01;']), 'b.csv');
    const c = await tp.send('price-periods-csv', csv(HEAD, ['A;retail;3;RUB;2020-01-01;', 'C;retail;7;RUB;2020-01-01;']), 'c.csv');
    const d = await tp.send('price-periods-csv', csv(HEAD, ['D;retail;9;RUB;2020-01-01;']), 'd.csv');
    for (const id of [a, b, c]) expect(await extractRun(tp.rt, id)).toBe('staged');
    // d is still being read (not staged): the group stops before it.
    expect(await mergeRun(tp.rt, a)).toBe('done');
    expect(await prices()).toEqual(['A|retail|3.000000', 'B|retail|5.000000', 'C|retail|7.000000']);
    const [ra, rb, rc] = await Promise.all([a, b, c].map((id) => getRun(tp.rt.db, id)));
    expect(ra!.state).toBe('done');
    expect(ra!.rows).toMatchObject({ inserted: 3, updated: 0, staged: 5, rejected: 0 });
    for (const r of [rb!, rc!]) expect(r.state).toBe('done');
    const merged = await tp.rt.pool.query('SELECT id, merged_with, rows_staged FROM runs WHERE id = ANY($1::bigint[]) ORDER BY id', [[b, c]]);
    expect(merged.rows.map((r: { merged_with: string; rows_staged: number }) => [Number(r.merged_with), r.rows_staged])).toEqual([[a, 0], [a, 0]]);
    // The followers' jobs find their runs done; their locks went back with the merge.
    expect(await mergeRun(tp.rt, b)).toBe('skipped');
    const free = await tp.rt.pool.query('SELECT pg_try_advisory_lock($1::bigint) AS ok', [mergeLockKey(c)]);
    expect(free.rows[0].ok).toBe(true);
    await tp.rt.pool.query('SELECT pg_advisory_unlock_all()');
    expect(await extractRun(tp.rt, d)).toBe('staged');
    expect(await mergeRun(tp.rt, d)).toBe('done');
    expect(await prices()).toEqual(['A|retail|3.000000', 'B|retail|5.000000', 'C|retail|7.000000', 'D|retail|9.000000']);
  });

  it('does not take a run another worker holds, nor the runs after it', async () => {
    const a = await tp.send('price-periods-csv', csv(HEAD, ['A;retail;10;RUB;2020-01-01;']), 'a2.csv');
    const b = await tp.send('price-periods-csv', csv(HEAD, ['A;retail;20;RUB;2020-01-01;']), 'b2.csv');
    const c = await tp.send('price-periods-csv', csv(HEAD, ['A;retail;30;RUB;2020-01-01;']), 'c2.csv');
    for (const id of [a, b, c]) expect(await extractRun(tp.rt, id)).toBe('staged');
    const other = await tp.rt.pool.connect();
    try {
      await other.query('SELECT pg_advisory_lock($1::bigint)', [mergeLockKey(b)]);
      expect(await mergeRun(tp.rt, a)).toBe('done');
      expect((await getRun(tp.rt.db, b))!.state).toBe('staged');
      expect((await getRun(tp.rt.db, c))!.state).toBe('staged');
      expect(await prices()).toContain('A|retail|10.000000');
      await other.query('SELECT pg_advisory_unlock($1::bigint)', [mergeLockKey(b)]);
    } finally {
      other.release();
    }
    expect(await mergeRun(tp.rt, b)).toBe('done');
    expect((await getRun(tp.rt.db, c))!.state).toBe('done');
    expect(await prices()).toContain('A|retail|30.000000');
  });
});
