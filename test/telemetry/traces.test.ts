// Traces of `magistral start` as a child process (issue 15, part 7): with OTEL_EXPORTER_OTLP_ENDPOINT set
// it exports OTLP/HTTP JSON to a receiver in this test, and one CSV ingest is one trace from the upload's
// HTTP span through receive, extract and merge, with PostgreSQL and Redis client spans inside; unset, not
// one OpenTelemetry SDK module is loaded.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { extractJobId } from '../../src/pipeline/queues.ts';
import { createTestPipeline, csv, type TestPipeline } from '../helpers/pipeline.ts';
import { freePort } from '../helpers/spawn.ts';
import { until } from '../helpers/wait.ts';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.ts';
import { SEED_FLOW } from '../faults/harness.ts';

const CLI = path.join(REPO_DIR, 'bin/magistral.js');
const PROBE = path.join(REPO_DIR, 'test/telemetry/loaded-modules.mjs');
const TOKEN = 'otel-test-admin-token-0123456789';
const H = 'sku;price_type;price;currency';

interface Started { child: ChildProcess; port: number; stderr: () => string; stop: () => Promise<string[]> }

/** `magistral start` with the probe preloaded; stop() ends it with SIGTERM and answers the OpenTelemetry packages it loaded. */
async function start(tp: TestPipeline, env: Record<string, string>): Promise<Started> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', PROBE, CLI, 'start'], {
    cwd: REPO_DIR,
    env: { ...process.env, ...tp.env, PORT: String(port), MAGISTRAL_ADMIN_TOKEN: TOKEN, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Magistral is up')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`magistral start exited with ${code}:\n${err}`)));
  });
  return {
    child, port, stderr: () => err,
    async stop() {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
      const line = /LOADED_OTEL (.*)/.exec(err);
      if (!line) throw new Error(`the probe printed nothing:\n${err}`);
      return JSON.parse(line[1]!) as string[];
    },
  };
}

async function upload(port: number, flow: string, body: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/admin/api/flows/${flow}/runs?filename=prices.csv`, {
    method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/csv' }, body,
  });
  expect(res.status, await res.clone().text()).toBe(202);
  return ((await res.json()) as { runId: number }).runId;
}

async function settled(tp: TestPipeline, runId: number): Promise<string> {
  return until(`run ${runId} to settle`, async () => {
    const r = await tp.db.db.selectFrom('runs').select('state').where('id', '=', runId).executeTakeFirst();
    return r && ['done', 'failed', 'held', 'rejected'].includes(r.state) ? r.state : undefined;
  }, 60_000);
}

let tp: TestPipeline;
let receiver: OtlpReceiver;
const children: ChildProcess[] = [];

beforeAll(async () => {
  tp = await createTestPipeline('otel', { workers: false });
  await tp.applyFlowFile('ops/flows/prices-csv.yaml');
  await tp.applyFlowYaml(SEED_FLOW);
  receiver = await startOtlpReceiver();
}, 60_000);
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await receiver?.close();
  await tp?.close();
});

describe('tracing off', () => {
  it('loads no OpenTelemetry SDK module when OTEL_EXPORTER_OTLP_ENDPOINT is unset', async () => {
    const m = await start(tp, { OTEL_EXPORTER_OTLP_ENDPOINT: '' });
    children.push(m.child);
    // Work through the stages, so that every module they import is loaded.
    const seed = await upload(m.port, 'seed', csv(H, ['SEED;seed;1;RUB']));
    expect(await settled(tp, seed)).toBe('done');
    // Its job (kept an hour once completed) carries no trace field.
    expect((await tp.rt.queues.extract.getJob(extractJobId(seed)))!.data).toEqual({ runId: seed, installation: expect.any(String) });
    const loaded = await m.stop();
    // The API (a no-op without the SDK) is all.
    expect(loaded).toEqual(['@opentelemetry/api']);
  });
});

describe('tracing on', () => {
  let spans: ReceivedSpan[];
  let runId: number;
  let loaded: string[];

  beforeAll(async () => {
    const m = await start(tp, {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      // Nothing is exported before shutdown (a minute's delay, room for every span in one batch): the
      // spans the test finds were flushed by the stop handler.
      OTEL_BSP_SCHEDULE_DELAY: '60000', OTEL_BSP_MAX_QUEUE_SIZE: '100000', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '100000',
    });
    children.push(m.child);
    // Probes and scrapes are not traced (README: they would bury the traces of work).
    for (const probe of ['/healthz', '/metrics']) expect((await fetch(`http://127.0.0.1:${m.port}${probe}`)).status).toBe(200);
    // `prices` holds a row (the tracing-off test's seed), so this payload is staged and merged, not loaded directly.
    runId = await upload(m.port, 'prices-csv', csv(H, ['P1;retail;10.50;RUB', 'P2;retail;11;RUB', 'P3;retail;x;RUB']));
    expect(await settled(tp, runId)).toBe('done');
    expect(receiver.spans).toEqual([]);
    loaded = await m.stop();
    spans = receiver.spans;
  }, 90_000);

  it('loads the SDK and its instrumentations', () => {
    expect(loaded).toEqual(expect.arrayContaining(['@opentelemetry/sdk-node', '@opentelemetry/instrumentation-pg', '@opentelemetry/instrumentation-ioredis', '@fastify/otel']));
    expect(receiver.refused).toEqual([]);
    expect(spans.filter((s) => ['/healthz', '/metrics'].includes(String(s.attributes['url.path'] ?? s.attributes['url.full'] ?? s.attributes['http.route'])))).toEqual([]);
    expect(spans.filter((s) => s.scope === '@fastify/otel' && /healthz|metrics/.test(s.name + JSON.stringify(s.attributes)))).toEqual([]);
  });

  it('exports one trace from the upload through receive, extract and merge, with pg and redis spans', () => {
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const children = (s: ReceivedSpan) => spans.filter((c) => c.parentSpanId === s.spanId && c.traceId === s.traceId);
    const below = (s: ReceivedSpan): ReceivedSpan[] => children(s).flatMap((c) => [c, ...below(c)]);
    const ancestors = (s: ReceivedSpan): ReceivedSpan[] => {
      const p = byId.get(s.parentSpanId);
      return p ? [p, ...ancestors(p)] : [];
    };

    const receive = spans.find((s) => s.name === 'magistral.receive' && s.attributes['magistral.run'] === runId)!;
    expect(receive, spans.map((s) => s.name).join(', ')).toBeDefined();
    expect(receive.attributes).toMatchObject({ 'magistral.flow': 'prices-csv', 'magistral.runs': [runId], 'magistral.outcome': 'received' });
    // The upload's HTTP server span is the root, fastify's route span between it and receive.
    const up = ancestors(receive);
    const root = up.at(-1)!;
    expect(root.parentSpanId).toBe('');
    expect(root.scope).toBe('@opentelemetry/instrumentation-http');
    expect(root.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/admin/api/flows/:name/runs', 'http.response.status_code': 202 });
    expect(up.some((s) => s.scope === '@fastify/otel')).toBe(true);

    const trace = spans.filter((s) => s.traceId === root.traceId);
    const extract = trace.filter((s) => s.name === 'magistral.extract');
    const merge = trace.filter((s) => s.name === 'magistral.merge');
    // Continued through the job's traceparent: extract under receive, merge under extract.
    const done = extract.find((s) => s.attributes['magistral.outcome'] === 'staged')!;
    expect(done, JSON.stringify(extract.map((s) => s.attributes))).toBeDefined();
    expect(ancestors(done)).toContain(receive);
    expect(done.attributes).toMatchObject({ 'magistral.flow': 'prices-csv', 'magistral.run': runId, 'magistral.rows': 3, 'magistral.rows.staged': 2, 'magistral.rows.rejected': 1 });
    const merged = merge.find((s) => s.attributes['magistral.outcome'] === 'done')!;
    expect(merged, JSON.stringify(merge.map((s) => s.attributes))).toBeDefined();
    expect(ancestors(merged)).toContain(done);
    expect(merged.attributes).toMatchObject({ 'magistral.flow': 'prices-csv', 'magistral.run': runId, 'magistral.rows.inserted': 2 });

    // Client spans inside the stages: statements of each, the job hand-off to Redis.
    const pg = (s: ReceivedSpan) => below(s).filter((c) => c.scope === '@opentelemetry/instrumentation-pg' && c.name.startsWith('pg.query:'));
    expect(pg(receive).length).toBeGreaterThan(0);
    expect(pg(done).length).toBeGreaterThan(0);
    expect(pg(merged).length).toBeGreaterThan(0);
    const redis = below(receive).filter((c) => c.scope === '@opentelemetry/instrumentation-ioredis');
    expect(redis.length).toBeGreaterThan(0);
    expect(below(done).some((c) => c.scope === '@opentelemetry/instrumentation-ioredis')).toBe(true);
    // Not a span of the run outside its trace.
    expect(spans.filter((s) => s.attributes['magistral.run'] === runId && s.traceId !== root.traceId)).toEqual([]);
  });
});

describe('tracing a command that ends by itself', () => {
  it('exports the spans of `magistral ingest` (receive and its stages, in embedded workers) before it exits', async () => {
    const file = path.join(tp.dataDir, 'cli-prices.csv');
    await writeFile(file, csv(H, ['P1;retail;12;RUB', 'P4;retail;13;RUB']));
    const child = spawn(process.execPath, [CLI, 'ingest', '--flow', 'seed', file, '--json'], {
      cwd: REPO_DIR, env: { ...process.env, ...tp.env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '60000' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    const [code] = await once(child, 'exit') as [number | null];
    expect(code, out).toBe(0);
    const runId = (JSON.parse(out) as { id: number }).id;
    // Nothing exported it on a timer (a minute's delay): the exit did.
    const receive = receiver.spans.find((s) => s.name === 'magistral.receive' && s.attributes['magistral.run'] === runId)!;
    expect(receive).toBeDefined();
    expect(receive.parentSpanId).toBe('');
    const stages = receiver.spans.filter((s) => s.traceId === receive.traceId && /^magistral\.(extract|merge)$/.test(s.name));
    expect(stages.map((s) => s.attributes['magistral.outcome'])).toEqual(expect.arrayContaining(['staged', 'done']));
  });
});
