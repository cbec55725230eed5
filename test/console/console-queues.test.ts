// The console's queue page on real Redis: a run received while no worker is connected shows as one waiting
// extract job with its age and "no workers"; once workers start it is taken and the page shows them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { waitForRun } from '../../src/pipeline/runs.ts';
import type { TestPipeline } from '../helpers/pipeline.ts';
import { consoleServer, CONSOLE_USERS, type ConsoleServer, injectConsoleSignIn, type InjectSession } from '../helpers/console.ts';

let server: ConsoleServer;
let tp: TestPipeline;
let app: FastifyInstance;
let viewer: InjectSession;

beforeAll(async () => {
  server = await consoleServer('conqueues', ['ops/flows/prices-csv.yaml']);
  ({ tp, app } = server);
  viewer = await injectConsoleSignIn(app, CONSOLE_USERS.viewer);
}, 60_000);
afterAll(async () => {
  await server?.close();
});

/** The cells of a queue's row, as text. */
function row(html: string, queue: string): string[] {
  const tr = new RegExp(`<tr data-queue="${queue}">([\\s\\S]*?)</tr>`).exec(html)?.[1] ?? '';
  return [...tr.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((m) => m[1]!.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim());
}

describe('console queues', () => {
  it('shows a job waiting with no worker, then the workers that took it', async () => {
    const runId = await tp.send('prices-csv', 'sku;price_type;price;currency\nA-1;retail;10;RUB\n', 'p.csv');
    await new Promise((r) => setTimeout(r, 1100));
    const before = await app.inject({ method: 'GET', url: '/console/queues', headers: { cookie: viewer.cookie } });
    expect(before.statusCode).toBe(200);
    const extract = row(before.body, 'extract');
    // queue, waiting, active, delayed, failed, workers, oldest waiting, link
    expect(extract.slice(1, 6)).toEqual(['1', '0', '0', '0', 'нет']);
    expect(extract[6]).toMatch(/^ждёт \d+ с$/);
    expect(before.body).toContain('href="/admin/queues/queue/extract"');
    expect(row(before.body, 'merge')[6]).toBe('никто не ждёт');

    await tp.startWorkers();
    expect((await waitForRun(tp.rt.db, runId, { timeoutMs: 30_000, intervalMs: 50 })).state).toBe('done');
    const after = await app.inject({ method: 'GET', url: '/console/queues', headers: { cookie: viewer.cookie, 'hx-request': 'true' } });
    const now = row(after.body, 'extract');
    expect(now[1]).toBe('0');
    expect(Number(now[5])).toBeGreaterThanOrEqual(1);
    expect(now[6]).toBe('никто не ждёт');
    // The htmx refresh answers the table alone.
    expect(after.body.startsWith('<div id="queues"')).toBe(true);
  });
});
