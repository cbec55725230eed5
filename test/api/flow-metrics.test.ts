// The metrics alerts are written on (issue 15, part 8), from real runs through real workers: per-flow lag,
// last success, expected interval and rejects, each held run's age under its run label, and the freshness
// histogram observed once a run's rows are visible.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/api/index.ts';
import { createTestPipeline, csv, pricesDeltaFlow as flow, type TestPipeline } from '../helpers/pipeline.ts';
import { until } from '../helpers/wait.ts';

const H = 'sku;price_type;price;currency';

let tp: TestPipeline;
let app: FastifyInstance;

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
const scrape = async () => (await app.inject({ method: 'GET', url: '/metrics' })).body;

beforeAll(async () => {
  tp = await createTestPipeline('flowmetrics');
  app = await buildServer({ ...tp.rt, mode: 'full' });
  await tp.applyFlowYaml(flow('fm-plain', 'expectEverySeconds: 3600'));
  // Any change of more than 1 % of the flow's rows is held.
  await tp.applyFlowYaml(flow('fm-guarded', 'guard: { maxChangeRatio: 0.01 }'));
}, 60_000);
afterAll(async () => {
  await app?.close();
  await tp?.close();
});

describe('flow and run metrics', () => {
  it('sets last success, rejects and freshness of a run done, and the expected interval', async () => {
    expect(await scrape()).not.toMatch(/^magistral_flow_last_success_timestamp_seconds\{flow="fm-plain"\}/m);
    const before = Date.now() / 1000;
    const run = await tp.ingest('fm-plain', csv(H, ['A;retail;1;RUB', 'B;retail;2;RUB', 'C;retail;oops;RUB', 'D;retail;;RUB']));
    expect(run).toMatchObject({ state: 'done', rows: { rejected: 2 } });
    // Observed by the worker right after it ended the run.
    const t = await until('a freshness observation', async () => {
      const text = await scrape();
      return sample(text, 'magistral_freshness_seconds_count{flow="fm-plain"}') === 1 && text;
    });
    const last = sample(t, 'magistral_flow_last_success_timestamp_seconds{flow="fm-plain"}')!;
    expect(last).toBeGreaterThanOrEqual(Math.floor(before));
    expect(last).toBeLessThanOrEqual(Date.now() / 1000);
    expect(sample(t, 'magistral_flow_rows_rejected{flow="fm-plain"}')).toBe(2);
    expect(sample(t, 'magistral_flow_lag_seconds{flow="fm-plain"}')).toBe(0);
    expect(sample(t, 'magistral_flow_expected_interval_seconds{flow="fm-plain"}')).toBe(3600);
    // No schedule, no expectEverySeconds: no expectation, so no silence alert either.
    expect(t).not.toMatch(/^magistral_flow_expected_interval_seconds\{flow="fm-guarded"\}/m);
    const seconds = sample(t, 'magistral_freshness_seconds_sum{flow="fm-plain"}')!;
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThan(30);
    // A second run counts its rejects too.
    await tp.ingest('fm-plain', csv(H, ['A;retail;x;RUB']));
    expect(sample(await scrape(), 'magistral_flow_rows_rejected{flow="fm-plain"}')).toBe(3);
  });

  it('reports a held run\'s age under its run label, and a flow\'s lag while a run is open', async () => {
    await tp.ingest('fm-guarded', csv(H, ['G1;retail;1;RUB', 'G2;retail;2;RUB']));
    const held = await tp.ingest('fm-guarded', csv(H, ['G1;retail;10;RUB', 'G2;retail;20;RUB']));
    expect(held.state).toBe('held');
    const first = sample(await scrape(), `magistral_run_held_age_seconds{flow="fm-guarded",run="${held.id}"}`)!;
    expect(first).toBeGreaterThanOrEqual(0);
    await new Promise((r) => setTimeout(r, 1100));
    expect(sample(await scrape(), `magistral_run_held_age_seconds{flow="fm-guarded",run="${held.id}"}`)).toBeGreaterThanOrEqual(first + 1);

    // A run behind the held one waits (runs of a flow merge in order): the flow lags by its age.
    const waiting = await tp.send('fm-guarded', csv(H, ['G1;retail;11;RUB']));
    await until('the run behind to be staged', async () => (await tp.db.db.selectFrom('runs').select('state').where('id', '=', waiting).executeTakeFirst())?.state === 'staged');
    await new Promise((r) => setTimeout(r, 600));
    expect(sample(await scrape(), 'magistral_flow_lag_seconds{flow="fm-guarded"}')).toBeGreaterThan(0.5);

    // Rejected by an operator: gone from the held gauge.
    await tp.db.db.updateTable('runs').set({ state: 'rejected' }).where('id', '=', held.id).execute();
    expect(await scrape()).not.toContain(`run="${held.id}"`);
  });
});
