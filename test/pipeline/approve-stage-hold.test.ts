// A run a stage held for a person (a connector's HoldRunError while reading) and then approved is read
// and merged: its rows reach the store. Found by the console's held-reasons test: approving such a run
// ended it done without reading its payload (its empty staging passed the merge's check) — the approved
// rows were silently lost — or, on an empty store, read it again and held it again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONNECTOR_MODULES } from '../../connectors/index.ts';
import { csvConnector } from '../../connectors/file/csv.ts';
import { HoldRunError } from '../../src/errors/index.ts';
import type { Connector } from '../../src/port/index.ts';
import { Registry } from '../../src/pipeline/registry.ts';
import { approveRun, waitForRun } from '../../src/pipeline/runs.ts';
import { createTestPipeline, csv, pricesFlow, pricesPicture, type TestPipeline } from '../helpers/pipeline.ts';

const H = 'sku;price_type;price;currency';

/** CSV that asks for a person first: held until approved (ParseContext.approved), then read as file.csv reads it. */
const reviewed: Connector = {
  kind: 'test.reviewed',
  optionsSchema: { type: 'object' },
  async *parse(input, ctx) {
    if (!ctx.approved) throw new HoldRunError('the sender marked this export for review');
    yield* csvConnector.parse(input, ctx);
  },
};

describe('approving a run a stage held', () => {
  let tp: TestPipeline;
  beforeAll(async () => {
    tp = await createTestPipeline('approve-stage-hold', { registry: new Registry([...CONNECTOR_MODULES, { name: 'test', connectors: [reviewed] }]) });
    await tp.applyFlowYaml(pricesFlow('reviewed', '', 'delta').replace('connector: file.csv', 'connector: test.reviewed'));
    await tp.applyFlowYaml(pricesFlow('plain', '', 'delta'));
  });
  afterAll(async () => {
    await tp?.close();
  });

  for (const store of ['empty', 'holding rows'] as const) {
    it(`reads and merges it, the store ${store}`, async () => {
      if (store === 'holding rows') expect((await tp.ingest('plain', csv(H, ['Z1;retail;1;RUB']))).state).toBe('done');
      const before = await pricesPicture(tp);
      const lines = store === 'empty' ? ['A1;retail;10;RUB', 'A2;retail;20;RUB'] : ['B1;retail;30;RUB'];
      const held = await tp.ingest('reviewed', csv(H, lines));
      expect(held).toMatchObject({ state: 'held', heldReason: 'the sender marked this export for review' });
      expect(await pricesPicture(tp)).toEqual(before);
      await approveRun(tp.rt, held.id, { by: 'test' });
      const done = await waitForRun(tp.rt.db, held.id, { timeoutMs: 60_000, intervalMs: 50 });
      expect(done).toMatchObject({ state: 'done', rows: { read: lines.length, inserted: lines.length } });
      const expected = lines.map((l) => { const [sku, t, v, c] = l.split(';'); return `${sku}|${t}|${Number(v).toFixed(6)}|${c}`; });
      expect((await pricesPicture(tp)).sort()).toEqual([...before, ...expected].sort());
    });
  }
});
