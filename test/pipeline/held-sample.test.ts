// A held run keeps what it would change (issue 15: "what it would change — counts per kind and a
// sample of rows with old → new values"), taken in the merge's transaction before the guard's
// rollback: the live rows stay as they were, and the sample is what approving then writes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveRun } from '../../src/pipeline/runs.ts';
import { HELD_SAMPLE_ROWS } from '../../src/pipeline/held-sample.ts';
import { formatSummary } from '../../src/cli/commands/runs.ts';
import { createTestPipeline, csv, type TestPipeline } from '../helpers/pipeline.ts';
import { waitForRun } from '../../src/pipeline/runs.ts';

const H = 'sku;price_type;price;currency';
const flowYaml = (name: string, extra = ''): string => `
apiVersion: magistral/v1
kind: Flow
name: ${name}
source: { connector: file.csv }
mapping: file/prices.yaml
target: prices
mode: snapshot
guard: { maxChangeRatio: 0.3 }
${extra}
`;

describe('held sample', () => {
  let tp: TestPipeline;
  beforeAll(async () => {
    tp = await createTestPipeline('heldsample');
    await tp.startWorkers();
    await tp.applyFlowYaml(flowYaml('sampled'));
    await tp.applyFlowYaml(flowYaml('no-history', 'history: false'));
  });
  afterAll(async () => {
    await tp?.close();
  });

  const price = async (sku: string, pt = 'retail'): Promise<string | undefined> => (await tp.rt.pool.query<{ value: string }>(
    `SELECT p.value::text FROM prices p JOIN products pr ON pr.id = p.product_id JOIN price_types t ON t.id = p.price_type_id WHERE pr.code = $1 AND t.code = $2`, [sku, pt])).rows[0]?.value;

  it('names each kind of change with old → new, keeps the live rows, and approving writes exactly that', async () => {
    expect((await tp.ingest('sampled', csv(H, ['S1;retail;10;RUB', 'S2;retail;20;RUB', 'S3;retail;30;RUB', 'S4;retail;40;RUB']))).state).toBe('done');
    // S1 changes, S2 and S3 stay, S4 is gone from the snapshot, S5 is new: 3 of 4 (75 % > 30 %).
    const held = await tp.ingest('sampled', csv(H, ['S1;retail;11.5;RUB', 'S2;retail;20;RUB', 'S3;retail;30;RUB', 'S5;retail;50;RUB']));
    expect(held.state).toBe('held');
    expect(held.rows).toMatchObject({ inserted: 1, updated: 1, removed: 1 });
    const rows = [...held.heldSample!.rows].sort((a, b) => a.op.localeCompare(b.op));
    expect(rows).toEqual([
      { op: 'changed', key: { priceType: 'retail', product: 'S1' }, old: '10.000000', new: '11.500000' },
      { op: 'new', key: { priceType: 'retail', product: 'S5' }, old: null, new: '50.000000' },
      { op: 'removed', key: { priceType: 'retail', product: 'S4' }, old: '40.000000', new: null },
    ]);
    expect(held.heldSample!.note).toBeUndefined();
    // Rolled back: nothing of it is live.
    expect([await price('S1'), await price('S4'), await price('S5')]).toEqual(['10.000000', '40.000000', undefined]);
    const text = formatSummary(held);
    expect(text).toContain('would change, for example:');
    expect(text).toMatch(/changed +product=S1 priceType=retail {2}10\.000000 → 11\.500000/);

    await approveRun(tp.rt, held.id, { by: 'cli (anna)', comment: 'новый прайс от закупок' });
    const done = await waitForRun(tp.rt.db, held.id, { timeoutMs: 30_000, intervalMs: 50 });
    expect(done.state).toBe('done');
    expect(formatSummary(done)).toMatch(/\n {2}approved by cli \(anna\) at \S+: новый прайс от закупок\n {2}held because it would change 3 of 4 rows in scope/);
    expect([await price('S1'), await price('S4'), await price('S5')]).toEqual(['11.500000', undefined, '50.000000']);
  });

  it(`keeps at most ${HELD_SAMPLE_ROWS} rows of a kind, and says what a flow without history cannot show`, async () => {
    const many = (v: number) => Array.from({ length: 60 }, (_, i) => `N${i};retail;${v};RUB`);
    expect((await tp.ingest('no-history', csv(H, many(1)))).state).toBe('done');
    const held = await tp.ingest('no-history', csv(H, many(2)));
    expect(held.state).toBe('held');
    expect(held.heldSample!.rows).toHaveLength(HELD_SAMPLE_ROWS);
    expect(held.heldSample!.rows[0]).toMatchObject({ op: 'written', old: null, new: '2.000000' });
    expect(held.heldSample!.note).toMatch(/no history/);
  });
});
