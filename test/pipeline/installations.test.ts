// Two installations (two databases) on one Redis: with one explicit queue prefix, each worker runs
// only its own installation's jobs (run ids collide on purpose); without a prefix, each gets its own.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestPipeline, csv, pricesPicture, type TestPipeline } from '../helpers/pipeline.ts';
import { testQueuePrefix } from '../helpers/db.ts';
import { sleep } from '../helpers/spawn.ts';
import { installationId } from '../../src/pipeline/installation.ts';
import { extractJobId } from '../../src/pipeline/queues.ts';
import { waitForRun } from '../../src/pipeline/runs.ts';

const H = 'sku;price_type;price;currency';

/** A logger that keeps its lines (JSON) in memory, to read what a worker said. */
function capturingLogger(): { log: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { log: pino({ level: 'warn' }, sink), lines };
}

describe('two installations on one Redis', () => {
  const open: TestPipeline[] = [];
  afterEach(async () => {
    for (const tp of open.splice(0)) await tp.close();
  });

  async function pipeline(label: string, env: Record<string, string>, log?: pino.Logger): Promise<TestPipeline> {
    const tp = await createTestPipeline(label, { workers: false, env, log });
    open.push(tp);
    await tp.applyFlowFile('ops/flows/prices-csv.yaml');
    // The example flow guards against big changes; these tiny files change most of their rows.
    await tp.rt.pool.query(`UPDATE flows SET definition = definition - 'guard'`);
    return tp;
  }

  it('with one explicit prefix, each run is processed by its own installation: a foreign job is handed back, not run', async () => {
    const prefix = testQueuePrefix('shared');
    const a = await pipeline('insta', { MAGISTRAL_QUEUE_PREFIX: prefix });
    const bLog = capturingLogger();
    const b = await pipeline('instb', { MAGISTRAL_QUEUE_PREFIX: prefix }, bLog.log);
    const [idA, idB] = [await installationId(a.rt.db), await installationId(b.rt.db)];
    expect(idA).not.toBe(idB);

    // Only B's workers are up when A's first run (id 1, as B's first will be) is enqueued.
    await b.startWorkers();
    const runA = await a.send('prices-csv', csv(H, ['A1;retail;10;RUB']));
    await sleep(1500);
    expect((await a.rt.pool.query('SELECT state FROM runs WHERE id = $1', [runA])).rows[0].state).toBe('received');
    const job = (await a.rt.queues.extract.getJob(extractJobId(runA)))!;
    expect(job.data).toEqual({ runId: runA, installation: idA });
    // Handed back untouched: not failed, not removed, no attempt spent.
    expect(['delayed', 'waiting', 'active']).toContain(await job.getState());
    expect(job.attemptsMade).toBe(0);
    expect((await b.rt.pool.query('SELECT count(*)::int AS n FROM runs')).rows[0].n).toBe(0);
    const refusals = bLog.lines.filter((l) => l.includes('refused job'));
    expect(refusals).toHaveLength(1); // one line however often the job bounced
    const line = JSON.parse(refusals[0]!) as { msg: string };
    expect(line.msg).toContain(idA);
    expect(line.msg).toContain(idB);
    expect(line.msg).toContain(prefix);

    // A's own worker takes it.
    await a.startWorkers();
    expect((await waitForRun(a.rt.db, runA, { timeoutMs: 30_000, intervalMs: 50 })).state).toBe('done');
    expect((await a.rt.queues.extract.getJob(extractJobId(runA)))!.processedBy).toMatch(new RegExp(`@${idA}$`));

    // B's first run has the same id; it completes on B's worker.
    const runB = await b.send('prices-csv', csv(H, ['B1;retail;20;RUB']));
    expect(runB).toBe(runA);
    expect((await waitForRun(b.rt.db, runB, { timeoutMs: 30_000, intervalMs: 50 })).state).toBe('done');
    expect((await b.rt.queues.extract.getJob(extractJobId(runB)))!.processedBy).toMatch(new RegExp(`@${idB}$`));

    // Both at once, ids colliding again: each ingest completes, each store holds only its own rows.
    const [a2, b2] = await Promise.all([
      a.ingest('prices-csv', csv(H, ['A1;retail;11;RUB', 'A2;retail;12;RUB'])),
      b.ingest('prices-csv', csv(H, ['B1;retail;21;RUB', 'B2;retail;22;RUB'])),
    ]);
    expect([a2.id, a2.state, b2.id, b2.state]).toEqual([2, 'done', 2, 'done']);
    expect(await pricesPicture(a)).toEqual(['A1|retail|11.000000|RUB', 'A2|retail|12.000000|RUB']);
    expect(await pricesPicture(b)).toEqual(['B1|retail|21.000000|RUB', 'B2|retail|22.000000|RUB']);
  }, 120_000);

  it('with no prefix set, two databases get different prefixes and each ingest completes', async () => {
    const a = await pipeline('noprefa', { MAGISTRAL_QUEUE_PREFIX: '' });
    const b = await pipeline('noprefb', { MAGISTRAL_QUEUE_PREFIX: '' });
    expect(a.config.MAGISTRAL_QUEUE_PREFIX).toMatch(/^magistral:magistral_test_noprefa_[0-9a-f]+:[0-9a-f]{8}$/);
    expect(b.config.MAGISTRAL_QUEUE_PREFIX).toMatch(/^magistral:magistral_test_noprefb_[0-9a-f]+:[0-9a-f]{8}$/);
    expect(a.config.MAGISTRAL_QUEUE_PREFIX).not.toBe(b.config.MAGISTRAL_QUEUE_PREFIX);
    await a.startWorkers();
    await b.startWorkers();
    const [ra, rb] = await Promise.all([
      a.ingest('prices-csv', csv(H, ['A1;retail;10;RUB'])),
      b.ingest('prices-csv', csv(H, ['B1;retail;20;RUB'])),
    ]);
    expect([ra.state, rb.state]).toEqual(['done', 'done']);
    expect(await pricesPicture(a)).toEqual(['A1|retail|10.000000|RUB']);
    expect(await pricesPicture(b)).toEqual(['B1|retail|20.000000|RUB']);
  });
});
