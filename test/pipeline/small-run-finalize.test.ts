// A snapshot group's finalize takes the slot kept for small runs when it will remove nothing (no run of its
// group is a snapshot with rows): bench:freshness's 1C deltas, one changes-only exchange session each,
// waited p95 44 s for their finalize, which counted as big and was parked behind a big snapshot's merge.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSmallRun } from '../../workers/small-runs.ts';
import { createTestPipeline, pricesFlow, type TestPipeline } from '../helpers/pipeline.ts';

describe('the small-run slot and a snapshot group\'s finalize', () => {
  let tp: TestPipeline;
  let flowId: number;
  beforeAll(async () => {
    tp = await createTestPipeline('smallfin', { workers: false });
    await tp.applyFlowYaml(pricesFlow('fin', '', 'snapshot'));
    flowId = Number((await tp.rt.pool.query(`SELECT id FROM flows WHERE name = 'fin'`)).rows[0].id);
  });
  afterAll(async () => {
    await tp?.close();
  });

  /** Runs of group `g` (payload runs of the given modes and states, rows read) and its finalize run; returns the finalize's id. */
  async function group(g: string, runs: Array<{ mode: 'delta' | 'snapshot'; state: string; read: number }>): Promise<number> {
    for (const r of runs) {
      await tp.rt.pool.query(`INSERT INTO runs (flow_id, inbox_ids, mode, target, state, rows_read, snapshot_group) VALUES ($1, '{}', $2, 'prices', $3, $4, $5)`,
        [flowId, r.mode, r.state, r.read, g]);
    }
    return Number((await tp.rt.pool.query(`INSERT INTO runs (flow_id, inbox_ids, mode, target, kind, snapshot_group) VALUES ($1, '{}', 'snapshot', 'prices', 'finalize', $2) RETURNING id`,
      [flowId, g])).rows[0].id);
  }

  it('is small for a group of deltas only, big when a run of it is a snapshot with rows or may still become one', async () => {
    const max = 1024 * 1024;
    expect(await isSmallRun(tp.rt, await group('deltas', [{ mode: 'delta', state: 'done', read: 100 }, { mode: 'delta', state: 'done', read: 1 }]), max)).toBe(true);
    expect(await isSmallRun(tp.rt, await group('empty-snapshot', [{ mode: 'snapshot', state: 'done', read: 0 }]), max)).toBe(true);
    expect(await isSmallRun(tp.rt, await group('snapshot', [{ mode: 'delta', state: 'done', read: 5 }, { mode: 'snapshot', state: 'done', read: 5 }]), max)).toBe(false);
    // Not read yet: its mode is the flow's until the payload says otherwise.
    expect(await isSmallRun(tp.rt, await group('unread', [{ mode: 'snapshot', state: 'received', read: 0 }]), max)).toBe(false);
  });
});
