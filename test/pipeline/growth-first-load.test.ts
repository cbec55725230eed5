// A first load of a file still arriving (growth.ts) loads into a shadow while the file comes and commits
// only after the sender says it is whole: its commit is its merge. A reader that ends before the end of
// the file (a connector that has what it needs) still waits for the seal; given up meanwhile, nothing is
// left. Real workers, PostgreSQL and Redis; the file is received through the connector port as the 1C
// exchange receives an upload's first piece.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONNECTOR_MODULES } from '../../connectors/index.ts';
import { csvConnector } from '../../connectors/file/csv.ts';
import type { Connector, ConnectorPort } from '../../src/port/index.ts';
import { Registry } from '../../src/pipeline/registry.ts';
import { createConnectorPort } from '../../src/pipeline/connector-port.ts';
import { waitForRun } from '../../src/pipeline/runs.ts';
import { createTestPipeline, csv, pricesFlow, pricesPicture, type TestPipeline } from '../helpers/pipeline.ts';

/** Reads the first chunk of its input as file.csv does, and stops there: the rest is not its business. */
const firstChunk: Connector = {
  kind: 'test.firstchunk',
  optionsSchema: { type: 'object' },
  async *parse(input, ctx) {
    for await (const chunk of input) {
      yield* csvConnector.parse(Readable.from([chunk as Buffer]), ctx);
      return;
    }
  },
};

const state = async (tp: TestPipeline, id: number): Promise<string> => (await tp.rt.pool.query(`SELECT state FROM runs WHERE id = $1`, [id])).rows[0].state as string;

describe('a first load of a file still arriving', () => {
  let tp: TestPipeline;
  let port: ConnectorPort;
  beforeAll(async () => {
    tp = await createTestPipeline('growfirst', { registry: new Registry([...CONNECTOR_MODULES, { name: 'test', connectors: [firstChunk] }]) });
    await tp.applyFlowYaml(pricesFlow('first-chunk', '', 'delta').replace('connector: file.csv', 'connector: test.firstchunk'));
    port = createConnectorPort(tp.rt, {});
  }, 60_000);
  afterAll(async () => {
    await tp?.close();
  });

  /** The whole file stored and committed, not sealed: its run is made now. */
  async function arriving(key: string, body: string): Promise<{ runId: number; size: number }> {
    const file = path.join(tp.dataDir, `${key}.csv`);
    writeFileSync(file, body);
    const size = Buffer.byteLength(body);
    const r = await port.receive({ key, flows: ['first-chunk'], growing: true, files: [{ fileName: `${key}.csv`, stored: { path: file, sha256: '', size } }] });
    expect(await port.growth.extend(key, size)).toBe(true);
    return { runId: r.runs[0]!.id, size };
  }

  it('commits after the seal, not when its reader is done', async () => {
    const { runId, size } = await arriving('k-seal', csv('sku;price_type;price;currency', ['A1;retail;10;RUB', 'A2;retail;20;RUB']));
    const end = Date.now() + 20_000;
    while ((await state(tp, runId)) !== 'extracting' && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
    // The reader had the whole file long ago; the load waits, holding nothing visible.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await state(tp, runId)).toBe('extracting');
    expect(await pricesPicture(tp)).toEqual([]);
    expect(await port.growth.seal('k-seal', { sha256: 'x', size })).toBe('sealed');
    const done = await waitForRun(tp.rt.db, runId, { timeoutMs: 30_000, intervalMs: 25 });
    expect(done).toMatchObject({ state: 'done', loadPath: 'direct', rows: { read: 2, inserted: 2 } });
    expect(await pricesPicture(tp)).toEqual(['A1|retail|10.000000|RUB', 'A2|retail|20.000000|RUB']);
    await tp.rt.pool.query('TRUNCATE prices');
  });

  it('given up while it waits for the seal, leaves nothing', async () => {
    const { runId } = await arriving('k-gone', csv('sku;price_type;price;currency', ['B1;retail;30;RUB']));
    const end = Date.now() + 20_000;
    while ((await state(tp, runId)) !== 'extracting' && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
    await new Promise((r) => setTimeout(r, 300));
    expect(await port.growth.abandon(['k-gone'], 'the sender stopped')).toEqual(['k-gone']);
    const failed = await waitForRun(tp.rt.db, runId, { timeoutMs: 30_000, intervalMs: 25 });
    expect(failed.state).toBe('failed');
    expect(await pricesPicture(tp)).toEqual([]);
    expect((await tp.rt.pool.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'prices_load_%'`)).rows[0].n).toBe(0);
  });
});
