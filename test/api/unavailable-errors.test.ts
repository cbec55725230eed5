// A request that fails because PostgreSQL is out of reach (refused, restarting, the session ended by a
// shutdown) is answered 503 MAG_ERR_UNAVAILABLE with Retry-After, not 500: the client may retry, and
// nothing changed. The errors are the real ones pg raises (test/faults/api.test.ts sees them end to end).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toErrorReply } from '../../src/api/error-handler.ts';
import { isDependencyUnavailable } from '../../src/db/index.ts';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { closedPort } from './api-fixture.ts';

async function errorOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a failure');
}

describe('errors of an unreachable database', () => {
  let t: TestDb;
  beforeAll(async () => { t = await createTestDb('unavail'); });
  afterAll(async () => { await t.drop(); });

  it('connection refused, session terminated by a shutdown, connection ended: 503 with Retry-After', async () => {
    const port = await closedPort();
    const refused = await errorOf(new pg.Pool({ connectionString: `postgres://postgres@127.0.0.1:${port}/x` }).query('SELECT 1'));

    const client = await t.pool.connect();
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const inFlight = errorOf(client.query('SELECT pg_sleep(30)'));
    await t.pool.query('SELECT pg_terminate_backend($1)', [pid]);
    const terminated = await inFlight;
    const afterwards = await errorOf(client.query('SELECT 1'));
    client.release();

    for (const e of [refused, terminated, afterwards]) {
      expect(isDependencyUnavailable(e), String(e)).toBe(true);
      const r = toErrorReply(e);
      expect(r.status).toBe(503);
      expect(r.body.code).toBe('MAG_ERR_UNAVAILABLE');
      expect(r.retryAfter).toBeGreaterThan(0);
      expect(r.internal).toBe(false);
    }
    // 57P01 admin_shutdown is what a fast restart sends each session.
    expect((terminated as { code?: string }).code).toBe('57P01');
  });

  it('other errors stay what they were: a failing statement is a 500, not an outage', async () => {
    const e = await errorOf(t.pool.query('SELECT * FROM no_such_table'));
    expect(isDependencyUnavailable(e)).toBe(false);
    expect(toErrorReply(e).status).toBe(500);
  });
});
