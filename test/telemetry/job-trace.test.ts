// How a run's trace crosses the queues, in process (the SDK with an in-memory exporter, real PostgreSQL and
// Redis): an extract job made by the receipt carries its traceparent and the stage continues that trace;
// a job the sweeper made (its first one lost with Redis) carries none, and its stage starts a trace of its
// own that the run attribute ties to the run.
import { NodeSDK, tracing } from '@opentelemetry/sdk-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPipeline, csv, type TestPipeline } from '../helpers/pipeline.ts';
import { until } from '../helpers/wait.ts';
import { extractJobId } from '../../src/pipeline/queues.ts';
import { waitForRun } from '../../src/pipeline/runs.ts';

const exporter = new tracing.InMemorySpanExporter();
const sdk = new NodeSDK({ spanProcessors: [new tracing.SimpleSpanProcessor(exporter)], instrumentations: [], metricReaders: [], logRecordProcessors: [] });
const H = 'sku;price_type;price;currency';

let tp: TestPipeline;
beforeAll(async () => {
  sdk.start();
  tp = await createTestPipeline('jobtrace', { workers: false });
  await tp.applyFlowFile('ops/flows/prices-csv.yaml');
}, 60_000);
afterAll(async () => {
  await tp?.close();
  await sdk.shutdown();
});

const spans = () => exporter.getFinishedSpans();
const ofRun = (name: string, runId: number) => spans().filter((s) => s.name === name && s.attributes['magistral.run'] === runId);

describe('trace context in job data', () => {
  it('continues the receipt\'s trace in the job its receipt made', async () => {
    const runId = await tp.send('prices-csv', csv(H, ['A;retail;1;RUB']));
    const [receive] = ofRun('magistral.receive', runId);
    const job = await tp.rt.queues.extract.getJob(extractJobId(runId));
    expect(job!.data.trace).toBe(`00-${receive!.spanContext().traceId}-${receive!.spanContext().spanId}-01`);
    await tp.startWorkers();
    await waitForRun(tp.rt.db, runId, { timeoutMs: 30_000 });
    const extract = await until('the extract span', async () => ofRun('magistral.extract', runId).find((s) => s.attributes['magistral.outcome'] === 'merged'));
    expect(extract.parentSpanContext?.spanId).toBe(receive!.spanContext().spanId);
    expect(extract.spanContext().traceId).toBe(receive!.spanContext().traceId);
    await tp.workers!.close();
    tp.workers = undefined;
  });

  it('starts a trace of the run\'s own for a job the sweeper made', async () => {
    const runId = await tp.send('prices-csv', csv(H, ['A;retail;2;RUB']));
    const [receive] = ofRun('magistral.receive', runId);
    // Lost with Redis: the sweeper makes the run a new job, outside any span.
    await (await tp.rt.queues.extract.getJob(extractJobId(runId)))!.remove();
    const workers = await tp.startWorkers();
    await until('the sweeper\'s job', async () => (await workers.sweep()) > 0 || !!(await tp.rt.queues.extract.getJob(extractJobId(runId))));
    await waitForRun(tp.rt.db, runId, { timeoutMs: 30_000 });
    const stages = await until('the stages', async () => {
      const s = [...ofRun('magistral.extract', runId), ...ofRun('magistral.merge', runId)];
      // The second payload of a snapshot flow changes all its rows: the guard holds it, which ends it as well.
      return s.some((x) => ['done', 'merged', 'held'].includes(String(x.attributes['magistral.outcome']))) && s;
    });
    const first = stages.find((s) => s.name === 'magistral.extract')!;
    expect(first.parentSpanContext).toBeUndefined();
    expect(first.spanContext().traceId).not.toBe(receive!.spanContext().traceId);
    for (const s of stages) expect(s.spanContext().traceId).toBe(first.spanContext().traceId);
  });
});
