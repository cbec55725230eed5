// The pipeline pieces the 1C exchange stands on, with CSV payloads so they are seen alone: a snapshot
// split over several files (snapshot group: upsert per file, one guarded removal at the end), runs that
// wait for the runs they depend on, and autoCreate per entity (undeclared price types rejected).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPipeline, csv, pricesPicture, type TestPipeline } from '../helpers/pipeline.ts';
import { approveRun, getRun, listRejects, waitForRun, type RunView } from '../../src/pipeline/runs.ts';
import { abandonSnapshotGroup, closeSnapshotGroup, openSnapshotGroup } from '../../src/pipeline/snapshot-group.ts';
import { receivePayload } from '../../src/pipeline/receive.ts';
import { extractRun } from '../../src/pipeline/extract/index.ts';
import { mergeRun } from '../../src/pipeline/merge.ts';
import { Readable } from 'node:stream';

const H = 'sku;price_type;price;currency';

const flow = (name: string, target: string, mapping: string, extra = '') => `
apiVersion: magistral/v1
kind: Flow
name: ${name}
source: { connector: file.csv }
mapping: ${mapping}
target: ${target}
mode: ${target === 'prices' ? 'snapshot' : 'delta'}
${extra}
`;

describe('snapshot groups, run dependencies and autoCreate per entity', () => {
  let tp: TestPipeline;
  beforeAll(async () => {
    tp = await createTestPipeline('onecgroups', { workers: false });
    await tp.applyFlowYaml(flow('g-prices', 'prices', 'file/prices.yaml'));
    await tp.applyFlowYaml(flow('g-guarded', 'prices', 'file/prices.yaml', 'guard: { maxChangeRatio: 0.3 }'));
    await tp.applyFlowYaml(flow('g-strict', 'prices', 'file/prices.yaml', 'mode: delta\nautoCreate: [product]').replace('mode: snapshot\n', ''));
    await tp.applyFlowYaml(flow('g-types', 'priceTypes', 'file/price-types.yaml'));
    await tp.startWorkers();
  });
  afterAll(async () => {
    await tp?.close();
  });

  /** Receives files as runs of one group, before any worker can take them. */
  async function groupRuns(group: string, flowName: string, files: Array<[string, string]>): Promise<number[]> {
    await openSnapshotGroup(tp.rt.db, group);
    const ids: number[] = [];
    await tp.workers!.close();
    tp.workers = undefined;
    for (const [name, content] of files) {
      const { runId } = await receivePayload(tp.rt, { flow: flowName, files: [{ fileName: name, body: Readable.from([Buffer.from(content)]) }] });
      await tp.rt.pool.query(`UPDATE runs SET snapshot_group = $2 WHERE id = $1`, [runId, group]);
      ids.push(runId);
    }
    await tp.startWorkers();
    return ids;
  }

  const wait = (id: number): Promise<RunView> => waitForRun(tp.rt.db, id, { timeoutMs: 60_000, intervalMs: 50 });

  it('a snapshot split over files removes, at the group\'s end, only what no file carried', async () => {
    const base = await tp.ingest('g-prices', csv(H, ['A1;r;1;RUB', 'A2;r;2;RUB', 'A3;r;3;RUB', 'A4;r;4;RUB', 'A5;r;5;RUB']));
    expect(base.state).toBe('done');
    const [a, b] = await groupRuns('g1', 'g-prices', [
      ['offers0_1.csv', csv(H, ['A1;r;10;RUB', 'A2;r;2;RUB'])],
      ['offers0_2.csv', csv(H, ['A3;r;3;RUB', 'A6;r;6;RUB'])],
    ]);
    const ra = await wait(a!);
    const rb = await wait(b!);
    // Each file alone is not the snapshot: it upserts and removes nothing.
    expect(ra.rows).toMatchObject({ updated: 1, unchanged: 1, removed: 0 });
    expect(rb.rows).toMatchObject({ inserted: 1, unchanged: 1, removed: 0 });
    expect(ra.snapshotGroup).toBe('g1');
    expect((await pricesPicture(tp)).length).toBe(6);
    const finals = await closeSnapshotGroup(tp.rt, 'g1');
    expect(finals).toHaveLength(1);
    const f = await wait(finals[0]!);
    expect(f).toMatchObject({ state: 'done', kind: 'finalize', snapshotGroup: 'g1' });
    expect(f.rows).toMatchObject({ removed: 2, inScope: 6 });
    expect(f.files).toEqual(['offers0_1.csv', 'offers0_2.csv']);
    expect(await pricesPicture(tp)).toEqual(['A1|r|10.000000|RUB', 'A2|r|2.000000|RUB', 'A3|r|3.000000|RUB', 'A6|r|6.000000|RUB']);
    const hist = await tp.rt.pool.query(`SELECT op, count(*)::int AS n FROM price_history WHERE run_id = $1 GROUP BY op`, [f.id]);
    expect(hist.rows).toEqual([{ op: 'D', n: 2 }]);
    // The kept keys are gone with the group; closing again changes nothing.
    const kept = await tp.rt.pool.query(`SELECT count(*)::int AS n FROM runs WHERE staging_kept`);
    expect(kept.rows[0].n).toBe(0);
    expect(await closeSnapshotGroup(tp.rt, 'g1')).toEqual(finals);
    expect((await tp.rt.pool.query(`SELECT to_regclass('staging.run_${a}') AS t`)).rows[0].t).toBeNull();
  });

  it('removes nothing when a file of the group failed', async () => {
    const [a, b] = await groupRuns('g2', 'g-prices', [
      ['offers0_1.csv', csv(H, ['A1;r;10;RUB'])],
      ['offers0_2.csv', 'sku;price_type;price;currency\n"unterminated;r;1;RUB\n'],
    ]);
    expect((await wait(a!)).state).toBe('done');
    expect((await wait(b!)).state).toBe('failed');
    const before = await pricesPicture(tp);
    const [fin] = await closeSnapshotGroup(tp.rt, 'g2');
    const f = await wait(fin!);
    expect(f.state).toBe('failed');
    expect(f.error?.message).toMatch(new RegExp(`nothing removed: run ${b} \\(offers0_2.csv\\) of the same export ended failed`));
    expect(await pricesPicture(tp)).toEqual(before);
  });

  it('holds a removal past the guard until a person approves it', async () => {
    await tp.ingest('g-guarded', csv(H, ['B1;g;1;RUB', 'B2;g;2;RUB', 'B3;g;3;RUB', 'B4;g;4;RUB']));
    const [a] = await groupRuns('g3', 'g-guarded', [['offers.csv', csv(H, ['B1;g;1;RUB', 'B2;g;2;RUB'])]]);
    expect((await wait(a!)).rows).toMatchObject({ unchanged: 2, removed: 0 });
    const [fin] = await closeSnapshotGroup(tp.rt, 'g3');
    const held = await wait(fin!);
    expect(held.state).toBe('held');
    expect(held.heldReason).toMatch(/would remove 2 of 4 rows in scope that no file of the export carried \(50\.0 % > 30\.0 %\)/);
    expect((await pricesPicture(tp)).filter((p) => p.includes('|g|'))).toHaveLength(4);
    await approveRun(tp.rt, fin!);
    const done = await wait(fin!);
    expect(done.state).toBe('done');
    expect(done.rows.removed).toBe(2);
    expect((await pricesPicture(tp)).filter((p) => p.includes('|g|'))).toEqual(['B1|g|1.000000|RUB', 'B2|g|2.000000|RUB']);
  });

  it('an abandoned group (session expired unclosed) removes nothing and drops its kept keys', async () => {
    const [a] = await groupRuns('g4', 'g-prices', [['offers.csv', csv(H, ['A1;r;11;RUB'])]]);
    expect((await wait(a!)).state).toBe('done');
    expect((await getRun(tp.rt.db, a!))).toMatchObject({ state: 'done' });
    expect((await tp.rt.pool.query(`SELECT staging_kept FROM runs WHERE id = $1`, [a])).rows[0].staging_kept).toBe(true);
    const before = await pricesPicture(tp);
    await abandonSnapshotGroup(tp.rt, 'g4');
    expect(await closeSnapshotGroup(tp.rt, 'g4')).toEqual([]);
    expect(await pricesPicture(tp)).toEqual(before);
    expect((await tp.rt.pool.query(`SELECT staging_kept, to_regclass('staging.run_${a}') AS t FROM runs WHERE id = $1`, [a])).rows[0]).toEqual({ staging_kept: false, t: null });
  });

  it('a run waits for the runs it depends on; undeclared price types are rejected, the rest lands', async () => {
    await tp.workers!.close();
    tp.workers = undefined;
    const types = await tp.send('g-types', csv('code;name;currency', ['strict-a;Strict A;RUB']), 'offers.csv');
    const prices = await tp.send('g-strict', csv(H, ['S1;strict-a;5;RUB', 'S2;strict-b;6;RUB', 'S3;strict-a;7;RUB']), 'offers.csv');
    await tp.rt.pool.query(`UPDATE runs SET depends_on = $2 WHERE id = $1`, [prices, [types]]);
    // A fact run neither reads (its direct path would write while reading) nor merges before them.
    expect(await extractRun(tp.rt, prices)).toBe('waiting');
    expect((await getRun(tp.rt.db, prices)).state).toBe('received');
    await tp.rt.pool.query(`UPDATE runs SET state = 'staged' WHERE id = $1`, [prices]);
    expect(await mergeRun(tp.rt, prices)).toBe('waiting');
    await tp.rt.pool.query(`UPDATE runs SET state = 'received' WHERE id = $1`, [prices]);
    await tp.startWorkers();
    const t = await wait(types);
    const p = await wait(prices);
    expect(t.state).toBe('done');
    expect(p.state).toBe('done');
    expect(p.dependsOn).toEqual([types]);
    expect(p.finishedAt!.getTime()).toBeGreaterThanOrEqual(t.finishedAt!.getTime());
    expect(p.rows).toMatchObject({ inserted: 2, rejected: 1 });
    expect((await pricesPicture(tp)).filter((x) => x.startsWith('S'))).toEqual(['S1|strict-a|5.000000|RUB', 'S3|strict-a|7.000000|RUB']);
    const rejects = await listRejects(tp.rt.db, prices);
    expect(rejects).toMatchObject([{ file: 'offers.csv', line: 3, field: 'priceType', rule: 'reference', reason: "unknown price type 'strict-b' (system local)" }]);
    // No placeholder price type was made; the unknown product was.
    const pt = await tp.rt.pool.query(`SELECT code FROM price_types WHERE code LIKE 'strict%'`);
    expect(pt.rows).toEqual([{ code: 'strict-a' }]);
  });
});
