// The console's runs through fastify inject on a real store, Redis and workers: the list with its filters
// and key pages, a held run's page (the guard's numbers, its sample of changes, the decision form), a viewer
// refused approve / reject / replay (403, audited, nothing changed), an operator's decision kept with who
// and the comment, rejects paged and as CSV, payload files, and a sender's <script> shown as text.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/index.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { waitForRun } from '../../src/pipeline/runs.ts';
import { createTestPipeline, csv, type TestPipeline } from '../helpers/pipeline.ts';
import { addConsoleUsers, CONSOLE_USERS, injectConsolePost, injectConsoleSignIn, type InjectSession } from '../helpers/console.ts';

const H = 'sku;price_type;price;currency';
const FLOW = `
apiVersion: magistral/v1
kind: Flow
name: guarded-prices
description: 'Prices <script>alert("flow")</script>'
source: { connector: file.csv }
mapping: file/prices.yaml
target: prices
mode: snapshot
guard: { maxChangeRatio: 0.3 }
`;
const XSS_FILE = '<img src=x onerror=alert(1)>.csv';

let tp: TestPipeline;
let app: FastifyInstance;
let viewer: InjectSession;
let operator: InjectSession;
let first: number;
let held: number;

beforeAll(async () => {
  tp = await createTestPipeline('conruns');
  await tp.startWorkers();
  await tp.applyFlowYaml(FLOW);
  await addConsoleUsers(tp.rt.db);
  app = await buildServer({
    registry: tp.rt.registry, config: tp.config, db: tp.rt.db, pool: tp.rt.pool, queues: tp.rt.queues,
    log: pino({ level: 'silent' }), metrics: createMetrics(), mode: 'full',
  });
  viewer = await injectConsoleSignIn(app, CONSOLE_USERS.viewer);
  operator = await injectConsoleSignIn(app, CONSOLE_USERS.operator);
  // 60 rows, one rejected with a reason carrying markup; then a snapshot changing most of them: held.
  const rows = Array.from({ length: 60 }, (_, i) => `P${i};retail;${i + 1};RUB`);
  const r1 = await tp.ingest('guarded-prices', csv(H, [...rows, 'BAD;retail;<script>alert(1)</script>;RUB']), XSS_FILE);
  expect(r1.state).toBe('done');
  first = r1.id;
  const r2 = await tp.ingest('guarded-prices', csv(H, rows.map((_, i) => `P${i};retail;${i + 100};RUB`)), 'prices-2.csv');
  expect(r2.state).toBe('held');
  held = r2.id;
}, 120_000);
afterAll(async () => {
  await app?.close();
  await tp?.close();
});

const get = (s: InjectSession, url: string) => app.inject({ method: 'GET', url, headers: { cookie: s.cookie } });
const audit = (action: string) => tp.rt.db.selectFrom('audit_log').selectAll().where('action', '=', `console.${action}`).orderBy('id').execute();
const runIds = (html: string) => [...html.matchAll(/<tr data-run="(\d+)"/g)].map((m) => Number(m[1]));

describe('console runs', () => {
  it('lists runs newest first, filtered by flow, state and period', async () => {
    let r = await get(viewer, '/console/runs');
    expect(r.statusCode).toBe(200);
    expect(runIds(r.body)).toEqual([held, first]);
    expect(runIds((await get(viewer, '/console/runs?state=held')).body)).toEqual([held]);
    expect(runIds((await get(viewer, '/console/runs?flow=guarded-prices&state=done')).body)).toEqual([first]);
    expect(runIds((await get(viewer, '/console/runs?from=2020-01-01&to=2020-01-02')).body)).toEqual([]);
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Moscow' }).format(new Date());
    r = await get(viewer, `/console/runs?from=${today}&to=${today}`);
    expect(runIds(r.body)).toEqual([held, first]);
    expect((await get(viewer, '/console/held')).body).toMatch(new RegExp(`data-run="${held}"[\\s\\S]*would change 60 of 60 rows in scope`));
  });

  it('shows a held run\'s reason and sample, with no decision form for a viewer, and refuses its posts', async () => {
    const page = await get(viewer, `/console/runs/${held}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('data-held-reason="true">would change 60 of 60 rows in scope (100.0 % > 30.0 %): 0 inserted, 60 updated, 0 removed');
    expect(page.body.replace(/<!-- -->/g, '')).toMatch(/data-guard="true">\s*Изменил бы 60 из 60 строк в охвате потока — 100,0\u00a0%,\s*а порог потока 30,0\u00a0%/);
    // In key order, so a person can look a product up.
    expect([...page.body.matchAll(/товар<\/span> (P\d+)/g)].map((m) => m[1]).slice(0, 3)).toEqual(['P0', 'P1', 'P2']);
    expect(page.body).toMatch(/<tr data-op="changed">.*товар<\/span> P\d+.*тип цены<\/span> retail/);
    expect(page.body).toContain('ваша роль — только просмотр');
    expect(page.body).not.toContain(`/console/runs/${held}/approve`);
    for (const verb of ['approve', 'reject', 'replay']) {
      const r = await injectConsolePost(app, viewer, `/console/runs/${held}/${verb}`, { comment: 'от зрителя' });
      expect(r.statusCode, verb).toBe(403);
      expect((await audit(`run.${verb}`)).map((e) => [e.actor_name, e.outcome]), verb).toEqual([['vera-viewer', 'denied']]);
    }
    expect((await waitForRun(tp.rt.db, held, { timeoutMs: 1 })).state).toBe('held');
  });

  it('an operator approves with a comment: kept with the run and in the audit log; a second decision is refused', async () => {
    const page = await get(operator, `/console/runs/${held}`);
    expect(page.body).toContain(`action="/console/runs/${held}/approve"`);
    const r = await injectConsolePost(app, operator, `/console/runs/${held}/approve`, { comment: 'закупки подтвердили' });
    expect(r.statusCode).toBe(303);
    expect(r.headers.location).toBe(`/console/runs/${held}?done=approved`);
    const done = await waitForRun(tp.rt.db, held, { timeoutMs: 30_000, intervalMs: 50 });
    expect(done.state).toBe('done');
    expect(done.decision).toMatchObject({ action: 'approved', by: 'oleg-operator (консоль)', comment: 'закупки подтвердили' });
    expect((await audit('run.approve')).at(-1)).toMatchObject({ actor_name: 'oleg-operator', outcome: 'ok', details: expect.objectContaining({ result: 'approved', comment: 'закупки подтвердили' }) });
    const after = await get(operator, `/console/runs/${held}`);
    expect(after.body).toContain('data-decision="approved"');
    expect(after.body).toMatch(/data-stage="held"[\s\S]*data-stage="merge"[\s\S]*data-stage="finished"/);
    const again = await injectConsolePost(app, operator, `/console/runs/${held}/reject`, {});
    expect(again.statusCode).toBe(409);
    expect(again.body).toContain('запуск уже не задержан');
  });

  it('shows a sender\'s markup as text: a file name, a reject\'s reason, a flow description', async () => {
    const page = await get(viewer, `/console/runs/${first}`);
    expect(page.body).not.toContain('<script>alert');
    expect(page.body).not.toContain('<img src=x');
    expect(page.body).toContain('&lt;img src=x onerror=alert(1)>.csv');
    expect(page.body).toMatch(/<tr data-reject="\d+"><td>&lt;img src=x onerror=alert\(1\)>\.csv<\/td><td class="num">62<\/td>/);
    const flows = await get(viewer, '/console/flows');
    expect(flows.body).toContain('Prices &lt;script>alert(&quot;flow&quot;)&lt;/script>');
  });

  it('pages rejects, and downloads them as CSV and the payload as received', async () => {
    const csvRes = await get(viewer, `/console/runs/${first}/rejects.csv`);
    expect(csvRes.statusCode).toBe(200);
    expect(csvRes.body.split('\r\n')[1]).toMatch(/^<img src=x onerror=alert\(1\)>\.csv;62;;price;/);
    const file = await get(viewer, `/console/runs/${first}/files/0`);
    expect(file.statusCode).toBe(200);
    expect(file.body.split('\n')[1]).toBe('P0;retail;1;RUB');
    expect((await get(viewer, `/console/runs/${first}/files/3`)).statusCode).toBe(404);
    expect((await get(viewer, '/console/runs/99999999')).statusCode).toBe(404);
  });

  it('replays a finished run for an operator, audited with the new run', async () => {
    const r = await injectConsolePost(app, operator, `/console/runs/${first}/replay`);
    expect(r.statusCode).toBe(303);
    const newId = Number(/\/console\/runs\/(\d+)$/.exec(r.headers.location as string)![1]);
    expect(newId).toBeGreaterThan(held);
    expect((await audit('run.replay')).at(-1)).toMatchObject({ actor_name: 'oleg-operator', outcome: 'ok', details: expect.objectContaining({ newRun: newId }) });
    expect((await waitForRun(tp.rt.db, newId, { timeoutMs: 30_000, intervalMs: 50 })).replayOf).toBe(first);
  });
});
