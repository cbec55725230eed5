// /metrics on a real store: gauges recomputed from the runs table and the queues at scrape time,
// zeros for states without runs, and an answer without queue gauges when Redis is unreachable.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFixture, closedPort, type ApiFixture } from './api-fixture.ts';
import type { RunState } from '../../src/db/index.ts';
import { ensureOffers } from '../../src/portal/offers.ts';

let fx: ApiFixture;

/** Value of one sample of the exposition text, e.g. sample(text, 'magistral_runs{state="done"}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

beforeAll(async () => {
  fx = await apiFixture('metrics');
  const flow = await fx.db.db.insertInto('flows').values({ name: 'm-flow', definition: JSON.stringify({ name: 'm-flow' }) })
    .returning('id').executeTakeFirstOrThrow();
  const run = (state: RunState, n: number) => ({
    flow_id: flow.id, inbox_ids: [], mode: 'delta' as const, target: 'prices', state,
    rows_read: n, rows_staged: n - 1, rows_rejected: 1, rows_inserted: n - 3, rows_updated: 2, rows_unchanged: 0, rows_removed: 0,
  });
  await fx.db.db.insertInto('runs').values([run('done', 10), run('done', 20), run('held', 5), run('failed', 4)]).execute();
  await fx.queues.extract.add('extract', { runId: 999 }, { jobId: 'extract-999' });
});
afterAll(async () => { await fx?.close(); });

describe('GET /metrics', () => {
  it('reports runs by state with zeros, rows by outcome and queue depths', async () => {
    const res = await fx.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const t = res.body;
    expect(sample(t, 'magistral_runs{state="done"}')).toBe(2);
    expect(sample(t, 'magistral_runs{state="held"}')).toBe(1);
    expect(sample(t, 'magistral_runs{state="failed"}')).toBe(1);
    for (const s of ['received', 'extracting', 'staged', 'merging', 'rejected']) expect(sample(t, `magistral_runs{state="${s}"}`)).toBe(0);
    expect(sample(t, 'magistral_rows{outcome="read"}')).toBe(39);
    expect(sample(t, 'magistral_rows{outcome="staged"}')).toBe(35);
    expect(sample(t, 'magistral_rows{outcome="rejected"}')).toBe(4);
    expect(sample(t, 'magistral_rows{outcome="inserted"}')).toBe(27);
    expect(sample(t, 'magistral_rows{outcome="updated"}')).toBe(8);
    expect(sample(t, 'magistral_rows{outcome="unchanged"}')).toBe(0);
    expect(sample(t, 'magistral_rows{outcome="removed"}')).toBe(0);
    expect(sample(t, 'magistral_queue_jobs{queue="extract",state="waiting"}')).toBe(1);
    expect(sample(t, 'magistral_queue_jobs{queue="merge",state="waiting"}')).toBe(0);
    for (const s of ['active', 'delayed', 'failed', 'completed', 'paused']) expect(sample(t, `magistral_queue_jobs{queue="extract",state="${s}"}`)).toBe(0);
    expect(sample(t, 'magistral_dependency_up{dependency="postgres"}')).toBe(1);
    expect(sample(t, 'magistral_dependency_up{dependency="redis"}')).toBe(1);
  });

  it('follows the store between scrapes', async () => {
    await fx.db.db.updateTable('runs').set({ state: 'rejected' }).where('state', '=', 'held').execute();
    const t = (await fx.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(sample(t, 'magistral_runs{state="held"}')).toBe(0);
    expect(sample(t, 'magistral_runs{state="rejected"}')).toBe(1);
  });

  it('observes request durations by route pattern', async () => {
    await fx.app.inject({ method: 'GET', url: '/healthz' });
    await fx.app.inject({ method: 'GET', url: '/admin/api/flows/some-flow', headers: fx.auth });
    await fx.app.inject({ method: 'GET', url: '/no/such/path' });
    const t = (await fx.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(sample(t, 'magistral_http_request_duration_seconds_count{route="/healthz",method="GET",status="200"}')).toBe(1);
    expect(sample(t, 'magistral_http_request_duration_seconds_count{route="/admin/api/flows/:name",method="GET",status="404"}')).toBe(1);
    expect(sample(t, 'magistral_http_request_duration_seconds_count{route="unmatched",method="GET",status="404"}')).toBe(1);
    expect(t).not.toContain('some-flow');
  });

  it('reports each city\'s catalog offers, whether they are stale, and the last build', async () => {
    const city = await fx.db.db.insertInto('cities').values({ code: 'msk', name: 'Москва' }).returning('id').executeTakeFirstOrThrow();
    const build = await ensureOffers(fx.db.db, city.id);
    expect(build).toMatchObject({ cityId: city.id, offers: 0 });
    let t = (await fx.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(sample(t, 'magistral_catalog_offers{city="msk"}')).toBe(0);
    expect(sample(t, 'magistral_catalog_offers_stale{city="msk"}')).toBe(0);
    expect(sample(t, 'magistral_catalog_offers_build_seconds{city="msk"}')).toBeGreaterThanOrEqual(0);
    await fx.db.db.updateTable('cities').set({ name: 'Москва!' }).where('code', '=', 'msk').execute();
    t = (await fx.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(sample(t, 'magistral_catalog_offers_stale{city="msk"}')).toBe(1);
  });

  it('still answers when Redis is unreachable, without queue gauges', async () => {
    const v = await fx.variant({ redisUrl: `redis://127.0.0.1:${await closedPort()}`, mode: 'workers-only' });
    const res = await v.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toMatch(/^magistral_queue_jobs\{/m);
    expect(sample(res.body, 'magistral_runs{state="done"}')).toBe(2);
    expect(sample(res.body, 'magistral_dependency_up{dependency="redis"}')).toBe(0);
  });
});
