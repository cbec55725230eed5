// `magistral ingest` retrying through a database drop (issue 17's leftover): the attempt whose commit went
// through as the connection dropped left its run, and the retry used to store the payload again as a
// second run of the same file. Every attempt of one command now sends one receipt key (runs.receipt_key,
// migration 0011/0016), so the retry answers the first run and keeps no second copy of the payload.
import { createReadStream } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receivePayload } from '../../src/pipeline/receive.ts';
import { storeIngest } from '../../src/cli/commands/runs.ts';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';

let tp: TestPipeline;
let file: string;
const FLOW = 'prices-csv';

beforeAll(async () => {
  tp = await createTestPipeline('ingestkey', { workers: false });
  await tp.applyFlowFile('ops/flows/prices-csv.yaml');
  file = path.join(tp.dataDir, 'prices.csv');
  await writeFile(file, 'sku;price_type;price;currency\nK-1;retail;10.00;RUB\n');
});
afterAll(async () => { await tp?.close(); });

const runsOfFlow = async (): Promise<number[]> =>
  (await tp.rt.db.selectFrom('runs').innerJoin('flows', 'flows.id', 'runs.flow_id').select('runs.id').where('flows.name', '=', FLOW).orderBy('runs.id').execute()).map((r) => Number(r.id));
const storedPayloads = async (): Promise<number> =>
  (await readdir(path.join(tp.dataDir, 'inbox', FLOW), { recursive: true, withFileTypes: true }).catch(() => [])).filter((e) => e.isFile()).length;

describe('magistral ingest stores a payload once however often it retries', () => {
  it('the retry of an attempt that committed answers its run: no second run, no second copy of the payload', async () => {
    const key = 'ingest:test-retry-after-commit';
    // The first attempt: committed, but (as far as the CLI knows) the connection dropped before the answer.
    const first = await receivePayload(tp.rt, { flow: FLOW, key, files: [{ fileName: 'prices.csv', body: createReadStream(file) }] });
    expect(first.repeated).toBe(false);
    const before = { runs: await runsOfFlow(), payloads: await storedPayloads() };
    expect(before.runs).toEqual([first.runId]);

    const said: string[] = [];
    const retry = await storeIngest(tp.rt, FLOW, [file], { key, deadline: Date.now() + 10_000, say: (l) => said.push(l) });
    expect(retry).toEqual({ runId: first.runId, repeated: true });
    expect(said).toEqual([`magistral: the payload was stored before the database dropped the connection: run ${first.runId}`]);
    expect(await runsOfFlow()).toEqual(before.runs);
    expect(await storedPayloads()).toBe(before.payloads);
  });

  it('two commands are two deliveries: each makes its run', async () => {
    const before = await runsOfFlow();
    const a = await storeIngest(tp.rt, FLOW, [file], { deadline: Date.now() + 10_000, say: () => {} });
    const b = await storeIngest(tp.rt, FLOW, [file], { deadline: Date.now() + 10_000, say: () => {} });
    expect(a.repeated || b.repeated).toBe(false);
    expect(await runsOfFlow()).toEqual([...before, a.runId, b.runId]);
  });
});
