// The workers' timer loops through a PostgreSQL outage (issue 17's leftover): they used to log a warning on
// every tick while the database was down (the e-mail outbox once a second, the offers refresh every 2 s).
// Each loop now says once that it pauses and once that it resumes, with the ticks it skipped. The
// database is a private cluster of the test's own, stopped for a few seconds and started again. A
// connector's loop (the Bitrix24 events sweep, through the port) speaks the same way.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPgCluster, type PgCluster } from '../helpers/pg-cluster.ts';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { createConnectorPort } from '../../src/pipeline/connector-port.ts';
import { EventDrain } from '../../connectors/crm/bitrix24/events/drain.ts';
import { sleep } from '../helpers/spawn.ts';

const LOOPS = ['sweeper', 'pull schedules', 'outbound sweep', 'catalog offers refresh', 'price roll', 'e-mail outbox', 'Bitrix24 events sweep'];
/** What the loops logged on each failed tick before. */
const PER_TICK = ['catalog offers refresh failed', 'price roll failed', 'invoice run failed', 'e-mail delivery failed', 'sweep skipped', 'schedule sync skipped', 'outbound sweep skipped',
  'Bitrix24 events sweep failed'];

interface Line { level: number; msg: string; loop?: string; skippedTicks?: number; time: number }
const lines: Line[] = [];
const log = pino({ level: 'debug' }, new Writable({ write(chunk: Buffer, _enc, done) { lines.push(JSON.parse(chunk.toString()) as Line); done(); } }));

let pg: PgCluster;
let tp: TestPipeline;
let drain: EventDrain;
beforeAll(async () => {
  pg = await startPgCluster();
  tp = await createTestPipeline('outagelog', { pgBase: pg.base, workers: false, log, env: { MAGISTRAL_SWEEP_INTERVAL_MS: '200', MAGISTRAL_PRICE_ROLL_MS: '200' } });
  await tp.startWorkers();
  drain = new EventDrain(createConnectorPort(tp.rt, {}), { sweepMs: 200 });
  drain.start();
}, 60_000);
afterAll(async () => {
  await drain?.stop();
  await pg?.start().catch(() => {});
  await tp?.close();
  await pg?.destroy();
});

const said = (msg: string, from = 0): Line[] => lines.filter((l) => l.time >= from && l.msg === msg);

describe('worker loops in a PostgreSQL outage', () => {
  it('log once when the database goes away and once when it is back, with the ticks skipped', async () => {
    await sleep(1500);
    const down = Date.now();
    await pg.stop('fast');
    await sleep(3500);
    const up = Date.now();
    await pg.start();
    for (let waited = 0; waited < 20_000 && !LOOPS.every((l) => said(`postgres available again, resuming ${l}`, up).length); waited += 200) await sleep(200);

    const report = (l: Line) => `${l.msg} ${l.skippedTicks ?? ''}`;
    for (const loop of LOOPS) {
      expect(said(`postgres unavailable, pausing ${loop}`, down).map(report), loop).toHaveLength(1);
      const back = said(`postgres available again, resuming ${loop}`, up);
      expect(back.map(report), loop).toHaveLength(1);
      expect(back[0]!.skippedTicks, loop).toBeGreaterThanOrEqual(1);
    }
    // The fastest loop ticks every 200 ms: ~17 ticks skipped in 3.5 s, one line for them.
    expect(said('postgres available again, resuming sweeper', up)[0]!.skippedTicks).toBeGreaterThanOrEqual(5);
    expect(lines.filter((l) => l.time >= down && PER_TICK.includes(l.msg)).map(report)).toEqual([]);
    // Working again: a payload goes through the loops' database as before.
    await tp.applyFlowFile('ops/flows/prices-csv.yaml');
    expect((await tp.ingest('prices-csv', 'sku;price_type;price;currency\nO-1;retail;1.00;RUB\n')).state).toBe('done');
  }, 60_000);
});
