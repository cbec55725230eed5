// A checked-out client whose server connection ends (PostgreSQL restarted, the backend terminated)
// must not crash the process: pg emits 'error' on the client, and pg-pool listens only while it is
// idle. Before guardPoolClients this test ended in vitest's "Unhandled Error: Connection terminated
// unexpectedly" (the same crash that killed `magistral start` in issue 17).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';

describe('a checked-out pool client that loses its server', () => {
  let t: TestDb;
  beforeAll(async () => { t = await createTestDb('poolerr'); });
  afterAll(async () => { await t.drop(); });

  for (const how of ['between statements', 'during a statement'] as const) {
    it(`${how}: the statement fails, the process lives, the pool serves the next checkout`, async () => {
      const client = await t.pool.connect();
      try {
        const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        // Not events.once: it rejects on the 'error' the client emits first, which is what is under test.
        const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
        const inFlight = how === 'during a statement' ? client.query('SELECT pg_sleep(30)').then(() => 'answered', (e: Error) => e.message) : undefined;
        // As `pg_ctl restart -m fast` does to every session: the server ends the backend.
        await t.pool.query('SELECT pg_terminate_backend($1)', [pid]);
        await ended;
        if (inFlight) expect(await inFlight).toMatch(/terminat/i);
        await expect(client.query('SELECT 1')).rejects.toThrow();
      } finally {
        client.release();
      }
      // The broken client left the pool; the next one works.
      expect((await t.pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
      // Kysely's transactions check out clients the same way.
      expect(await t.db.transaction().execute(async (trx) => (await trx.selectFrom('runs').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)).toBe(0);
    });
  }
});
