// A settled run wakes the jobs that wait for it: a dependent's merge (same file, later rank) and a later
// run of the same flow leave their delay at once instead of at their next poll. Real Redis and
// PostgreSQL; no workers, so the jobs stay where the test puts them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractJobId, mergeJobId } from '../../src/pipeline/queues.ts';
import { wakeWaiting } from '../../src/pipeline/jobs.ts';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';

describe('wakeWaiting', () => {
  let tp: TestPipeline;
  beforeAll(async () => {
    tp = await createTestPipeline('wake', { workers: false });
    for (const f of ['prices-csv', 'stock-csv']) await tp.applyFlowFile(`ops/flows/${f}.yaml`);
  });
  afterAll(async () => {
    await tp?.close();
  });

  it('promotes the delayed jobs of dependents and of later runs of the flow, and nothing else', async () => {
    const first = await tp.send('prices-csv', 'x', 'a.csv');
    const later = await tp.send('prices-csv', 'x', 'b.csv');
    const dependent = await tp.send('stock-csv', 'x', 'c.csv');
    const unrelated = await tp.send('stock-csv', 'x', 'd.csv');
    await tp.rt.pool.query(`UPDATE runs SET state = 'staged' WHERE id = ANY($1::bigint[])`, [[later, dependent, unrelated]]);
    await tp.rt.pool.query(`UPDATE runs SET depends_on = ARRAY[$1::bigint] WHERE id = $2`, [first, dependent]);
    await tp.rt.pool.query(`UPDATE runs SET state = 'done' WHERE id = $1`, [first]);
    // The merge jobs as a worker leaves them after 'waiting': delayed for a while.
    for (const id of [later, dependent, unrelated]) {
      await tp.rt.queues.extract.remove(extractJobId(id));
      await tp.rt.queues.merge.add('merge', { runId: id }, { jobId: mergeJobId(id), delay: 60_000 });
    }
    const state = async (id: number) => (await tp.rt.queues.merge.getJob(mergeJobId(id)))!.getState();
    expect(await state(dependent)).toBe('delayed');

    await wakeWaiting(tp.rt, first);
    expect(await state(later)).toBe('waiting');
    expect(await state(dependent)).toBe('waiting');
    expect(await state(unrelated)).toBe('delayed');
  });

  it('of the later runs of the flow wakes only the next open one (the others would only wait again)', async () => {
    const first = await tp.send('prices-csv', 'x', 'e.csv');
    const next = await tp.send('prices-csv', 'x', 'f.csv');
    const after = await tp.send('prices-csv', 'x', 'g.csv');
    await tp.rt.pool.query(`UPDATE runs SET state = 'staged' WHERE id = ANY($1::bigint[])`, [[next, after]]);
    await tp.rt.pool.query(`UPDATE runs SET state = 'done' WHERE id = ANY($1::bigint[])`, [[first]]);
    // Runs of earlier tests of this flow are settled too.
    await tp.rt.pool.query(`UPDATE runs SET state = 'done' WHERE id < $1`, [first]);
    for (const id of [next, after]) {
      await tp.rt.queues.extract.remove(extractJobId(id));
      await tp.rt.queues.merge.add('merge', { runId: id }, { jobId: mergeJobId(id), delay: 60_000 });
    }
    const state = async (id: number) => (await tp.rt.queues.merge.getJob(mergeJobId(id)))!.getState();
    await wakeWaiting(tp.rt, first);
    expect(await state(next)).toBe('waiting');
    expect(await state(after)).toBe('delayed');
  });
});
