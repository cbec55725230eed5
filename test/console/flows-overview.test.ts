// The flow list's figures on a real database: the expected interval from a schedule (cron read as BullMQ
// reads it), lag and "late", open rejects (those of the last finished run, whatever runs after it),
// rows per second of the last run, and a paused flow never late.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { applyFlows } from '../../src/pipeline/flows.ts';
import { expectedIntervalS, flowsOverview } from '../../src/console/flows.ts';
import type { Flow } from '../../src/schemas/index.ts';

let db: TestDb;

const flow = (name: string, extra: Partial<Flow> = {}): Flow => ({
  apiVersion: 'magistral/v1', kind: 'Flow', name, source: { connector: 'onec.odata', system: 'onec', options: {} },
  mapping: 'onec/odata-prices.yaml', target: 'prices', mode: 'snapshot', ...extra,
} as Flow);

/** A run of `flow` received `agoS` seconds ago that took `tookS` seconds (unfinished when `state` is open). */
async function run(name: string, state: string, agoS: number, o: { tookS?: number; read?: number; rejected?: number } = {}): Promise<void> {
  await sql`INSERT INTO runs (flow_id, inbox_ids, state, mode, target, rows_read, rows_rejected, received_at, started_at, finished_at)
    SELECT id, '{}', ${state}, 'snapshot', 'prices', ${o.read ?? 0}, ${o.rejected ?? 0}, now() - make_interval(secs => ${agoS}), now() - make_interval(secs => ${agoS}),
      CASE WHEN ${state} IN ('done', 'failed', 'rejected', 'held') THEN now() - make_interval(secs => ${agoS}) + make_interval(secs => ${o.tookS ?? 1}) END
    FROM flows WHERE name = ${name}`.execute(db.db);
}

beforeAll(async () => {
  db = await createTestDb('conflows');
}, 60_000);
afterAll(async () => {
  await db?.drop();
});

describe('flow list figures', () => {
  it('reads the expected interval from everySeconds, a cron pattern, or both', () => {
    expect(expectedIntervalS(null)).toBeNull();
    expect(expectedIntervalS({ everySeconds: 300 })).toBe(300);
    expect(expectedIntervalS({ cron: '*/15 * * * *' })).toBe(900);
    expect(expectedIntervalS({ cron: '0 * * * *', everySeconds: 600 })).toBe(600);
    expect(expectedIntervalS({ cron: '30 9 * * *', timezone: 'Europe/Moscow' })).toBe(86_400);
    expect(expectedIntervalS({ cron: 'not a cron at all x' })).toBeNull();
  });

  it('computes lag against the schedule, open rejects of the last finished run, rows/s, and never calls a paused flow late', async () => {
    await applyFlows(db.db, [flow('every-minute', { schedule: { everySeconds: 60 } }), flow('hourly', { schedule: { cron: '0 * * * *' } }), flow('pushed'), flow('never-ok', { schedule: { everySeconds: 60 } })]);
    // every-minute: last success 10 minutes ago, then a failed run with 3 rejects, then one still reading.
    await run('every-minute', 'done', 600, { tookS: 4, read: 8000, rejected: 1 });
    await run('every-minute', 'failed', 120, { read: 50, rejected: 3 });
    await run('every-minute', 'extracting', 5);
    // hourly: on time.
    await run('hourly', 'done', 1800, { tookS: 2, read: 1000 });
    // pushed: no schedule, so no verdict whatever its age.
    await run('pushed', 'done', 86_400 * 3, { tookS: 10, read: 100_000 });
    await run('never-ok', 'failed', 30);

    const rows = Object.fromEntries((await flowsOverview(db.db)).map((r) => [r.name, r]));
    const m = rows['every-minute']!;
    expect(m.expectedIntervalS).toBe(60);
    expect(m.lagS).toBeGreaterThanOrEqual(596);
    expect(m.lagS).toBeLessThan(620);
    expect(m.late).toBe(true);
    expect(m.openRejects).toBe(3);
    expect(m.lastRun).toMatchObject({ state: 'extracting', rowsPerSecond: null });

    expect(rows.hourly).toMatchObject({ expectedIntervalS: 3600, late: false, openRejects: 0 });
    expect(rows.hourly!.lastRun!.rowsPerSecond).toBe(500);
    expect(rows.pushed).toMatchObject({ expectedIntervalS: null, late: false });
    expect(rows.pushed!.lagS).toBeGreaterThan(86_400 * 3 - 20);
    expect(rows.pushed!.lastRun!.rowsPerSecond).toBe(10_000);
    expect(rows['never-ok']).toMatchObject({ lagS: null, lastSuccessAt: null, late: true });

    await sql`UPDATE flows SET paused = true WHERE name = 'every-minute'`.execute(db.db);
    expect((await flowsOverview(db.db)).find((r) => r.name === 'every-minute')!.late).toBe(false);
  });
});
