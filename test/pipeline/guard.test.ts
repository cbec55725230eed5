// The guard (issue 17): a first load is never held — a new CSV flow's first 2-row run over prices another
// flow wrote was held "100 % > 50 %" —, an absolute floor `minRows` below which nothing is held, and a
// `maxChangeRatio` above 1 refused by the schema with a message saying what the number is.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkFlow } from '../../src/pipeline/flows.ts';
import { guardHoldReason, readGuardHold } from '../../src/pipeline/guard.ts';
import type { Flow } from '../../src/schemas/index.ts';
import { createTestPipeline, csv, pricesFlow, type TestPipeline } from '../helpers/pipeline.ts';
import { registry } from '../helpers/registry.ts';

const H = 'sku;price_type;price;currency';
const flowYaml = (name: string, guard: string, scope = 'flow'): string => pricesFlow(name, `scope: ${scope}\nguard: ${guard}`, 'snapshot');

describe('guard schema', () => {
  it('refuses a maxChangeRatio above 1 saying it is a share of at most 1', async () => {
    const flow = { apiVersion: 'magistral/v1', kind: 'Flow', name: 'g', source: { connector: 'file.csv' }, mapping: 'file/prices.yaml', target: 'prices', mode: 'delta', guard: { maxChangeRatio: 5 } } as unknown as Flow;
    const { problems } = await checkFlow(flow, registry);
    expect(problems).toEqual([{ path: '/guard/maxChangeRatio', rule: 'maximum', message: expect.stringMatching(/^5 must be <= 1 \(A share of the rows in scope, above 0 and at most 1 \(0\.3 = 30 %\)/) }]);
    expect((await checkFlow({ ...flow, guard: { maxChangeRatio: 1, minRows: 50 } } as Flow, registry)).problems).toEqual([]);
  });
});

describe('a guard\'s held reason', () => {
  it('is read back from the text the run records (what the console says in Russian), any other reason is not the guard\'s', () => {
    const change = { kind: 'change', changed: 600, inScope: 900, percent: 66.7, limitPercent: 50, inserted: 0, updated: 600, removed: 0 } as const;
    const removal = { kind: 'removal', removed: 2, inScope: 4, percent: 50, limitPercent: 30 } as const;
    // The texts as the logs, `runs show` and the 1C exchange's answer have always had them.
    expect(guardHoldReason(change)).toBe('would change 600 of 900 rows in scope (66.7 % > 50.0 %): 0 inserted, 600 updated, 0 removed');
    expect(guardHoldReason(removal)).toBe('would remove 2 of 4 rows in scope that no file of the export carried (50.0 % > 30.0 %)');
    expect(readGuardHold(guardHoldReason(change))).toEqual(change);
    expect(readGuardHold(guardHoldReason(removal))).toEqual(removal);
    expect(readGuardHold('the sender asked for a person to look first')).toBeNull();
    expect(readGuardHold('would change 6 of 10 rows in scope')).toBeNull();
    expect(readGuardHold(null)).toBeNull();
  });
});

describe('guard', () => {
  let tp: TestPipeline;
  beforeAll(async () => {
    tp = await createTestPipeline('guard');
    await tp.applyFlowYaml(flowYaml('demo-prices', '{ maxChangeRatio: 0.5 }'));
    await tp.applyFlowYaml(flowYaml('my-prices', '{ maxChangeRatio: 0.5 }'));
    await tp.applyFlowYaml(flowYaml('by-keys', '{ maxChangeRatio: 0.5 }', 'keys'));
  });
  afterAll(async () => {
    await tp?.close();
  });

  it('lets a new flow\'s first 2-row run through over prices another flow wrote, and guards its next', async () => {
    expect((await tp.ingest('demo-prices', csv(H, ['N1;retail;1;RUB', 'N2;retail;2;RUB']))).state).toBe('done');
    // The newcomer's own CSV flow, its first run: the same two prices, changed.
    const first = await tp.ingest('my-prices', csv(H, ['N1;retail;10;RUB', 'N2;retail;20;RUB']));
    expect(first.state).toBe('done');
    expect(first.rows).toMatchObject({ updated: 2 });
    // Its second run changes both of its 2 rows: 100 % > 50 %, held as before.
    const second = await tp.ingest('my-prices', csv(H, ['N1;retail;11;RUB', 'N2;retail;21;RUB']));
    expect(second.state).toBe('held');
    expect(second.heldReason).toMatch(/would change 2 of 2 rows in scope \(100\.0 % > 50\.0 %\)/);
  });

  it('holds nothing that changes fewer rows than minRows', async () => {
    await tp.applyFlowYaml(flowYaml('floored', '{ maxChangeRatio: 0.5, minRows: 5 }'));
    expect((await tp.ingest('floored', csv(H, ['F1;retail;1;RUB', 'F2;retail;1;RUB', 'F3;retail;1;RUB', 'F4;retail;1;RUB']))).state).toBe('done');
    // 3 of 4 rows (75 % > 50 %), under the floor of 5.
    const small = await tp.ingest('floored', csv(H, ['F1;retail;2;RUB', 'F2;retail;2;RUB', 'F3;retail;2;RUB', 'F4;retail;1;RUB']));
    expect(small.state).toBe('done');
    expect(small.rows).toMatchObject({ updated: 3, unchanged: 1 });
  });

  it('still holds a first run of a scope-keys flow that replaces most of a price type others wrote', async () => {
    expect((await tp.ingest('demo-prices', csv(H, ['K1;wholesale;1;RUB', 'K2;wholesale;1;RUB', 'K3;wholesale;1;RUB', 'K4;wholesale;1;RUB']))).state).toBe('done');
    // Scope keys: the wholesale rows, whoever wrote them; keeping 1 of 4 removes 3 (75 % > 50 %).
    const held = await tp.ingest('by-keys', csv(H, ['K1;wholesale;1;RUB']));
    expect(held.state).toBe('held');
  });
});
