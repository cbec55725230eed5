// Pulled sources on a schedule: a flow's `schedule` becomes a BullMQ job scheduler on the real Redis,
// its ticks pull a fake 1C (a real HTTP server on this machine speaking 1C's OData JSON) and produce
// runs; schedulers follow pause, resume and schedule changes; one pull of a flow at a time.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { createPollQueue, pullFlow, schedulerId, type PollQueue } from '../../src/pipeline/poll.ts';
import { setFlowPaused } from '../../src/pipeline/flows.ts';
import { waitForRun } from '../../src/pipeline/runs.ts';

const ROOT = '/trade/odata/standard.odata';
const ENV_USER = 'ONEC_SCHED_USER';
const ENV_PASSWORD = 'ONEC_SCHED_PASSWORD';

function entry(n: number, name: string, version = 'AAAAAQAAAAA='): Record<string, unknown> {
  return { Ref_Key: `5c0e0a0${n}-0a53-11ee-8f3c-00155d010a01`, DataVersion: version, DeletionMark: false, Parent_Key: '00000000-0000-0000-0000-000000000000', IsFolder: false, Description: name };
}

let tp: TestPipeline;
let polls: PollQueue;
let url: string;
let rows = [entry(1, 'Кабель'), entry(2, 'Провод'), entry(3, 'Автомат')];
/** While set, requests wait for it (to hold a pull in the middle of its fetch). */
let gate: Promise<void> | undefined;
let arrived: () => void = () => {};

async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
  arrived();
  if (gate) await gate;
  const u = new URL(req.url ?? '/', 'http://x');
  const top = Number(u.searchParams.get('$top'));
  const skip = Number(u.searchParams.get('$skip'));
  res.writeHead(200, { 'content-type': 'application/json;charset=utf-8' })
    .end(JSON.stringify({ 'odata.metadata': `${url}/$metadata#Catalog_Номенклатура`, value: rows.slice(skip, skip + top) }));
}
const server = createServer((req, res) => void answer(req, res));

function flow(schedule?: string): string {
  return `
apiVersion: magistral/v1
kind: Flow
name: odata-sched
source:
  connector: onec.odata
  system: onec
  options: { url: "${url}", resource: Catalog_Номенклатура, userEnv: ${ENV_USER}, passwordEnv: ${ENV_PASSWORD}, incremental: true, pageSize: 100 }
mapping: onec/odata-products.yaml
target: products
mode: delta
${schedule ? `schedule: ${schedule}` : ''}
`;
}

/** Waits for the store to show what a scheduler tick should have produced (the ticks are not ours to call). */
async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function productName(n: number): Promise<string | undefined> {
  const r = await tp.rt.pool.query(`SELECT name FROM products WHERE code = $1`, [`5c0e0a0${n}-0a53-11ee-8f3c-00155d010a01`]);
  return r.rows[0]?.name;
}

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${ROOT}`;
  // Scheduled pulls run in the workers, which read credentials from their environment.
  process.env[ENV_USER] = 'site';
  process.env[ENV_PASSWORD] = 'secret';
  tp = await createTestPipeline('odatasched');
  polls = createPollQueue(tp.config.REDIS_URL, tp.config.MAGISTRAL_QUEUE_PREFIX);
});

afterAll(async () => {
  await polls?.close();
  await tp?.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  delete process.env[ENV_USER];
  delete process.env[ENV_PASSWORD];
});

describe('scheduled pulls', () => {
  it('turns a schedule into a job scheduler whose ticks pull and load runs', async () => {
    await tp.applyFlowYaml(flow('{ everySeconds: 1 }'));
    await tp.workers!.syncSchedules();
    const s = await polls.queue.getJobScheduler(schedulerId('odata-sched'));
    expect(s).toMatchObject({ every: 1000, template: { data: { flow: 'odata-sched' } } });

    // The scheduler's own ticks (nothing here calls a pull) load the catalog…
    const first = await until('the first scheduled run', async () => {
      const r = await tp.rt.pool.query(`SELECT r.id FROM runs r JOIN flows f ON f.id = r.flow_id WHERE f.name = 'odata-sched' ORDER BY r.id LIMIT 1`);
      return r.rows[0]?.id as number | undefined;
    });
    expect((await waitForRun(tp.rt.db, first, { timeoutMs: 60_000, intervalMs: 50 })).state).toBe('done');
    expect(await productName(1)).toBe('Кабель');

    // …and keep pulling: a change in 1C reaches the store without anyone asking.
    rows = [entry(1, 'Кабель ВВГнг', 'AAAAAgAAAAA='), entry(2, 'Провод'), entry(3, 'Автомат')];
    await until('the changed name', async () => ((await productName(1)) === 'Кабель ВВГнг' ? true : undefined));
    const runs = await tp.rt.pool.query(`SELECT r.rows_read FROM runs r JOIN flows f ON f.id = r.flow_id WHERE f.name = 'odata-sched' ORDER BY r.id`);
    // Incremental: the first run read all three, the one after the change only the changed entry.
    expect(runs.rows.map((r) => Number(r.rows_read))).toEqual([3, 1]);
  });

  it('follows pause, resume and a changed schedule', async () => {
    await setFlowPaused(tp.rt.db, 'odata-sched', true);
    await tp.workers!.syncSchedules();
    expect(await polls.queue.getJobScheduler(schedulerId('odata-sched'))).toBeUndefined();

    await setFlowPaused(tp.rt.db, 'odata-sched', false);
    await tp.applyFlowYaml(flow('{ cron: "*/15 * * * *", timezone: Europe/Moscow }'));
    await tp.workers!.syncSchedules();
    expect(await polls.queue.getJobScheduler(schedulerId('odata-sched'))).toBeUndefined();
    expect(await polls.queue.getJobScheduler(`${schedulerId('odata-sched')}.cron`)).toMatchObject({ pattern: '*/15 * * * *', tz: 'Europe/Moscow' });

    await tp.applyFlowYaml(flow('{ everySeconds: 3600, cron: "0 3 * * *" }'));
    await tp.workers!.syncSchedules();
    expect(await polls.queue.getJobScheduler(schedulerId('odata-sched'))).toMatchObject({ every: 3_600_000 });
    expect((await polls.queue.getJobScheduler(`${schedulerId('odata-sched')}.cron`))?.pattern).toBe('0 3 * * *');
  });

  it('runs one pull of a flow at a time', async () => {
    // No more ticks: this test pulls by hand. A tick already under way, and its run, finish first.
    await tp.applyFlowYaml(flow());
    await tp.workers!.syncSchedules();
    await until('the last tick to end', async () => {
      const c = await polls.queue.getJobCounts('active', 'waiting', 'delayed', 'prioritized');
      return Object.values(c).every((n) => n === 0) ? true : undefined;
    });
    expect(await polls.queue.getJobScheduler(schedulerId('odata-sched'))).toBeUndefined();
    expect(await polls.queue.getJobScheduler(`${schedulerId('odata-sched')}.cron`)).toBeUndefined();
    const last = await tp.rt.pool.query(`SELECT max(r.id) AS id FROM runs r JOIN flows f ON f.id = r.flow_id WHERE f.name = 'odata-sched'`);
    await waitForRun(tp.rt.db, Number(last.rows[0].id), { timeoutMs: 60_000, intervalMs: 50 });

    let release!: () => void;
    gate = new Promise<void>((r) => { release = r; });
    const reached = new Promise<void>((r) => { arrived = r; });
    rows = [entry(1, 'Кабель ВВГнг 3x2,5', 'AAAAAwAAAAA='), entry(2, 'Провод'), entry(3, 'Автомат')];
    const env = { [ENV_USER]: 'site', [ENV_PASSWORD]: 'secret' };
    const first = pullFlow(tp.rt, 'odata-sched', { env });
    // The first pull holds the flow and waits on 1C.
    await Promise.race([reached, first.then((o) => { throw new Error(`the first pull ended early: ${JSON.stringify(o)}`); })]);
    expect(await pullFlow(tp.rt, 'odata-sched', { env })).toMatchObject({ outcome: 'busy', reason: 'another pull of this flow is running' });
    gate = undefined;
    release();
    arrived = () => {};
    expect(await first).toMatchObject({ outcome: 'received', records: 1 });
  });
});
