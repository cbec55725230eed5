// Coalesced receipts on a real store and queue: many small messages of a flow become one run while it
// has not started reading; a run that cannot be read is split into one run per message, which merge
// before anything received after them.
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnectorPort } from '../../src/pipeline/connector-port.ts';
import { extractBlocked, extractRun } from '../../src/pipeline/extract/index.ts';
import { claimRun } from '../../src/pipeline/lifecycle/index.ts';
import { mergeRun } from '../../src/pipeline/merge.ts';
import type { ConnectorPort } from '../../src/port/index.ts';
import { createTestPipeline, pricesPicture, type TestPipeline } from '../helpers/pipeline.ts';

const FLOW = `
apiVersion: magistral/v1
kind: Flow
name: msg-prices
source: { connector: file.csv, system: local, options: { delimiter: ';' } }
mapping: file/prices.yaml
target: prices
mode: delta
autoCreate: true
`;

const HEADER = 'sku;price_type;price;currency\n';
const message = (rows: string[]) => `${HEADER}${rows.join('\n')}\n`;
const file = (name: string, text: string) => ({ fileName: name, body: Readable.from([Buffer.from(text)]) });

interface RunRow { id: number; state: string; inbox_ids: number[]; coalesce_bytes: number | null; depends_on: number[]; error: string | null; files: string[] }

async function runs(tp: TestPipeline): Promise<RunRow[]> {
  return (await tp.rt.pool.query(`SELECT r.id::int, r.state, r.inbox_ids, r.coalesce_bytes::int, r.depends_on, r.error,
      (SELECT array_agg(i.file_name ORDER BY array_position(r.inbox_ids, i.id)) FROM inbox i WHERE i.id = ANY(r.inbox_ids)) AS files
    FROM runs r ORDER BY r.id`)).rows.map((r) => ({ ...r, inbox_ids: r.inbox_ids.map(Number), depends_on: r.depends_on.map(Number) }));
}

/** Drives every open run through extract and merge, as the workers would, until none moves. */
async function settle(tp: TestPipeline): Promise<void> {
  for (let round = 0; round < 20; round++) {
    const open = (await runs(tp)).filter((r) => !['done', 'failed', 'rejected'].includes(r.state));
    if (!open.length) return;
    for (const r of open) {
      if (r.state === 'received' || r.state === 'extracting') await extractRun(tp.rt, r.id);
      const now = (await runs(tp)).find((x) => x.id === r.id)!;
      if (now.state === 'staged' || now.state === 'merging') await mergeRun(tp.rt, r.id);
    }
  }
  throw new Error(`runs still open: ${JSON.stringify((await runs(tp)).filter((r) => r.state !== 'done'))}`);
}

describe('coalesced receipts', () => {
  let tp: TestPipeline;
  let port: ConnectorPort;
  beforeAll(async () => {
    tp = await createTestPipeline('coalesce', { workers: false });
    await tp.applyFlowYaml(FLOW);
    port = createConnectorPort(tp.rt, {});
  });
  afterAll(async () => tp.close());

  it('gathers the messages of a flow into its newest run until that run is claimed, in the order received', async () => {
    const texts = [message(['A;retail;1.00;RUB']), message(['B;retail;2.00;RUB']), message(['A;retail;3.00;RUB'])];
    const receipts = [];
    for (const [i, t] of texts.entries()) receipts.push(await port.receive({ flows: ['msg-prices'], files: [file(`m${i + 1}.csv`, t)], key: `m${i + 1}`, coalesce: true }));
    const ids = receipts.map((r) => r.runs[0]!.id);
    expect(new Set(ids).size).toBe(1);
    let [run] = await runs(tp);
    expect(run).toMatchObject({ id: ids[0], state: 'received', files: ['m1.csv', 'm2.csv', 'm3.csv'], coalesce_bytes: texts.reduce((a, t) => a + t.length, 0) });
    // One job for the run, not one per message.
    expect((await tp.rt.queues.extract.getJobs(['waiting', 'delayed', 'prioritized'])).map((j) => j.data.runId)).toEqual([run!.id]);
    // A resend of the second message answers the run that holds it and stores nothing.
    const inbox = Number((await tp.rt.pool.query('SELECT count(*) AS n FROM inbox')).rows[0].n);
    expect((await port.receive({ flows: ['msg-prices'], files: [file('m2.csv', texts[1]!)], key: 'm2', coalesce: true })).runs).toEqual([{ id: run!.id, flow: 'msg-prices' }]);
    expect(Number((await tp.rt.pool.query('SELECT count(*) AS n FROM inbox')).rows[0].n)).toBe(inbox);

    // Claimed: the next message makes a new run, which later ones join.
    await extractRun(tp.rt, run!.id);
    const after = await port.receive({ flows: ['msg-prices'], files: [file('m4.csv', message(['B;retail;4.00;RUB']))], key: 'm4', coalesce: true });
    expect(after.runs[0]!.id).toBeGreaterThan(run!.id);
    // A payload received without coalescing (an upload) is a run of its own, and no later message joins
    // a run older than it: m6 would otherwise merge before the upload received ahead of it.
    const upload = await port.receive({ flows: ['msg-prices'], files: [file('upload.csv', message(['C;retail;5.00;RUB']))] });
    const m6 = await port.receive({ flows: ['msg-prices'], files: [file('m6.csv', message(['C;retail;6.00;RUB']))], key: 'm6', coalesce: true });
    expect(m6.runs[0]!.id).toBeGreaterThan(upload.runs[0]!.id);
    [run] = await runs(tp);
    expect(run!.files).toEqual(['m1.csv', 'm2.csv', 'm3.csv']);

    await settle(tp);
    // The later message wins a key both carry (A: m3 after m1), and runs merged in the order received.
    expect(await pricesPicture(tp)).toEqual(['A|retail|3.000000|RUB', 'B|retail|4.000000|RUB', 'C|retail|6.000000|RUB']);
    expect((await runs(tp)).map((r) => r.state)).toEqual(['done', 'done', 'done', 'done']);
  });

  it('reads a gathering run only once the read before it has ended, so it gathers what arrives meanwhile', async () => {
    await tp.rt.pool.query('TRUNCATE runs, inbox, prices, price_periods CASCADE');
    const send = async (name: string, row: string) => (await port.receive({ flows: ['msg-prices'], files: [file(name, message([row]))], coalesce: true })).runs[0]!.id;
    const first = await send('a.csv', 'G;retail;1.00;RUB');
    // The first run's read is under way (claimed as its worker would).
    expect(await claimRun(tp.rt.pool, first, { stage: 'extract', ordered: false, dependencies: true })).toEqual({ claimed: true });
    const second = await send('b.csv', 'G;retail;2.00;RUB');
    expect(second).toBeGreaterThan(first);
    expect(await extractRun(tp.rt, second)).toBe('waiting');
    expect(await extractBlocked(tp.rt, second)).toBe(true);
    // Meanwhile messages keep gathering in the waiting run.
    expect(await send('c.csv', 'H;retail;3.00;RUB')).toBe(second);
    expect(await extractRun(tp.rt, first)).not.toBe('waiting');
    expect(await extractBlocked(tp.rt, second)).toBe(false);
    expect(['staged', 'merged']).toContain(await extractRun(tp.rt, second));
    expect((await runs(tp)).find((r) => r.id === second)!.files).toEqual(['b.csv', 'c.csv']);
    await settle(tp);
    expect(await pricesPicture(tp)).toEqual(['G|retail|2.000000|RUB', 'H|retail|3.000000|RUB']);
  });

  it('sets apart a message of a gathered run that cannot be read: it fails alone, the run reads the others and keeps its place', async () => {
    await tp.rt.pool.query('TRUNCATE runs, inbox, prices, price_periods CASCADE');
    const r1 = await port.receive({ flows: ['msg-prices'], files: [file('good1.csv', message(['D;retail;1.00;RUB', 'E;retail;1.00;RUB']))], key: 'g1', coalesce: true });
    await port.receive({ flows: ['msg-prices'], files: [file('empty.csv', '')], key: 'bad', coalesce: true });
    await port.receive({ flows: ['msg-prices'], files: [file('good2.csv', message(['F;retail;2.00;RUB']))], key: 'g2', coalesce: true });
    const gathered = r1.runs[0]!.id;
    // Received after the gathered run: an upload setting D again. It must merge after good1's D.
    const later = (await port.receive({ flows: ['msg-prices'], files: [file('later.csv', message(['D;retail;9.00;RUB']))] })).runs[0]!.id;

    // Staged, or loaded straight into the emptied table (a direct load).
    expect(['staged', 'merged']).toContain(await extractRun(tp.rt, gathered));
    const all = await runs(tp);
    const apart = all.find((r) => r.id > later)!;
    expect(apart).toMatchObject({ state: 'failed', files: ['empty.csv'] });
    expect(apart.error).toMatch(/^empty\.csv:1: the file is empty/);
    expect(all.find((r) => r.id === gathered)).toMatchObject({ files: ['good1.csv', 'good2.csv'], error: null });
    // The bad message's key answers its own run; the others still the gathered one.
    const again = async (key: string) => (await port.receive({ flows: ['msg-prices'], files: [file('x.csv', 'x')], key, coalesce: true })).runs;
    expect(await again('bad')).toEqual([{ id: apart.id, flow: 'msg-prices' }]);
    expect(await again('g2')).toEqual([{ id: gathered, flow: 'msg-prices' }]);

    await settle(tp);
    expect((await runs(tp)).map((r) => r.state)).toEqual(['done', 'done', 'failed']);
    expect(await pricesPicture(tp)).toEqual(['D|retail|9.000000|RUB', 'E|retail|1.000000|RUB', 'F|retail|2.000000|RUB']);
  });
});

describe('coalesced receipts, capped', () => {
  let tp: TestPipeline;
  beforeAll(async () => {
    tp = await createTestPipeline('coalesce-cap', { workers: false, env: { MAGISTRAL_COALESCE_MAX_BYTES: '100', MAGISTRAL_COALESCE_MAX_FILES: '3' } });
    await tp.applyFlowYaml(FLOW);
  });
  afterAll(async () => tp.close());

  it('starts a new run once the run holds the most bytes or files it may', async () => {
    const port = createConnectorPort(tp.rt, {});
    const send = async (name: string, text: string) => (await port.receive({ flows: ['msg-prices'], files: [file(name, text)], coalesce: true })).runs[0]!.id;
    const small = message(['A;r;1;RUB']);
    const big = message(['B;r;1;RUB', 'C;r;1;RUB']);
    expect([small.length, big.length]).toEqual([40, 50]);
    const a = [await send('1.csv', small), await send('2.csv', small)];
    const b = await send('3.csv', big); // 80 + 50 > 100
    const c = [await send('4.csv', small), await send('5.csv', small)];
    expect(a[0]).toBe(a[1]);
    expect(b).toBeGreaterThan(a[0]!);
    expect(c[0]).toBe(b);
    expect(c[1]).toBeGreaterThan(b); // 50 + 40 + 40 > 100
    const filesCap = [await send('6.csv', 'x'), await send('7.csv', 'x'), await send('8.csv', 'x'), await send('9.csv', 'x')];
    // 5.csv is c[1]'s first file: 6 and 7 join it, 8 would be its fourth.
    expect(filesCap[0]).toBe(c[1]);
    expect(filesCap[1]).toBe(c[1]);
    expect(filesCap[2]).toBeGreaterThan(c[1]!);
    expect(filesCap[3]).toBe(filesCap[2]);
  });
});

describe('paced receipts', () => {
  let tp: TestPipeline;
  let port: ConnectorPort;
  beforeAll(async () => {
    tp = await createTestPipeline('pace', { workers: false, env: { MAGISTRAL_PACE_LAG_MS: '1000', MAGISTRAL_PACE_MAX_WAIT_MS: '2500' } });
    await tp.applyFlowYaml(FLOW);
    port = createConnectorPort(tp.rt, {});
  });
  afterAll(async () => tp.close());

  const paced = () => port.receive({ flows: ['msg-prices'], files: [file('m.csv', message(['A;retail;1.00;RUB']))], coalesce: true, pace: true });

  it('answers at once while the flow keeps up', async () => {
    const r = await paced();
    expect(r.pacedMs).toBeUndefined();
    await tp.rt.pool.query(`UPDATE runs SET state = 'done'`);
  });

  it('holds the answer while the flow lags, until it has caught up', async () => {
    // A run received 5 s ago is still being read: the flow is behind.
    const behind = (await port.receive({ flows: ['msg-prices'], files: [file('old.csv', message(['B;retail;1.00;RUB']))] })).runs[0]!.id;
    await tp.rt.pool.query(`UPDATE runs SET received_at = now() - interval '5 seconds', state = 'extracting' WHERE id = $1`, [behind]);
    const t0 = Date.now();
    const answer = paced();
    setTimeout(() => void tp.rt.pool.query(`UPDATE runs SET state = 'done' WHERE id = $1`, [behind]), 400);
    const r = await answer;
    // Answered once the old run ended (the run holding this message is younger than the lag allowed).
    expect(r.runs).toHaveLength(1);
    expect(r.pacedMs).toBeGreaterThanOrEqual(350);
    expect(Date.now() - t0).toBeLessThan(2000);
    await tp.rt.pool.query(`UPDATE runs SET state = 'done'`);
  });

  it('answers after the longest wait when the flow does not catch up, the payload stored all the same', async () => {
    const behind = (await port.receive({ flows: ['msg-prices'], files: [file('old.csv', message(['C;retail;1.00;RUB']))] })).runs[0]!.id;
    await tp.rt.pool.query(`UPDATE runs SET received_at = now() - interval '5 seconds', state = 'merging' WHERE id = $1`, [behind]);
    const r = await paced();
    expect(r.pacedMs).toBeGreaterThanOrEqual(2500);
    expect(r.pacedMs).toBeLessThan(3500);
    expect((await tp.rt.pool.query(`SELECT state FROM runs WHERE id = $1`, [r.runs[0]!.id])).rows[0].state).toBe('received');
  });

  it('does not wait when nothing moves (workers stopped), for a held run or a paused flow', async () => {
    await tp.rt.pool.query(`UPDATE runs SET state = 'received', received_at = now() - interval '5 seconds'`);
    expect((await paced()).pacedMs).toBeUndefined();
    await tp.rt.pool.query(`UPDATE runs SET state = 'held', received_at = now() - interval '5 seconds'`);
    await tp.rt.pool.query(`UPDATE runs SET state = 'extracting', received_at = now() WHERE id = (SELECT max(id) FROM runs)`);
    // The run being read is young; the old ones are held.
    expect((await paced()).pacedMs).toBeUndefined();
    await tp.rt.pool.query(`UPDATE runs SET state = 'merging', received_at = now() - interval '5 seconds'`);
    await tp.rt.pool.query(`UPDATE flows SET paused = true`);
    expect((await paced()).pacedMs).toBeUndefined();
  });
});
