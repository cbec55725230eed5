// The change versions of migration 0008: a statement on a source table bumps its domain in the
// writing transaction (visible at commit, not before), and concurrent writers never wait on each
// other's slot.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';

let t: TestDb;
beforeAll(async () => { t = await createTestDb('versions'); }, 60_000);
afterAll(async () => { await t?.drop(); });

const version = async (domain: string) =>
  Number((await t.pool.query(`SELECT sum(v) AS v FROM change_versions WHERE domain = $1`, [domain])).rows[0].v);

describe('change versions', () => {
  it('a change bumps its domains when it commits, and not the others', async () => {
    const ctx = await version('portal_context');
    const cat = await version('catalog');
    const a = await t.pool.connect();
    try {
      await a.query('BEGIN');
      await a.query(`INSERT INTO portal_settings (key, value) VALUES ('x', 'y')`);
      expect(await version('portal_context')).toBe(ctx); // not yet committed
      await a.query('COMMIT');
    } finally {
      a.release();
    }
    expect(await version('portal_context')).toBe(ctx + 1);
    expect(await version('catalog')).toBe(cat);
    // cities belong to both domains.
    await t.pool.query(`UPDATE cities SET name = name WHERE false`);
    expect(await version('portal_context')).toBe(ctx + 2);
    expect(await version('catalog')).toBe(cat + 1);
  });

  it("a writer whose own slot another transaction holds takes the next one instead of waiting", async () => {
    const a = await t.pool.connect();
    const b = await t.pool.connect();
    try {
      const pidB = Number((await b.query('SELECT pg_backend_pid() AS p')).rows[0].p);
      const before = await version('portal_context');
      const slots = async () => new Map((await t.pool.query(`SELECT slot, v FROM change_versions WHERE domain = 'portal_context'`)).rows.map((r) => [Number(r.slot), Number(r.v)]));
      const was = await slots();
      await a.query('BEGIN');
      // A holds B's own slot (and the next), as a concurrent writer that got there first would.
      await a.query(`SELECT 1 FROM change_versions WHERE domain = 'portal_context' AND slot IN ($1, ($1 + 1) % 128) FOR UPDATE`, [pidB % 128]);
      await b.query(`SET statement_timeout = '2s'`);
      await b.query(`UPDATE portal_settings SET value = 'z' WHERE key = 'x'`);
      await a.query('COMMIT');
      expect(await version('portal_context')).toBe(before + 1);
      const now = await slots();
      expect([...now].filter(([slot, v]) => v !== was.get(slot)).map(([slot]) => slot)).toEqual([(pidB + 2) % 128]);
    } finally {
      await b.query(`RESET statement_timeout`).catch(() => {});
      a.release();
      b.release();
    }
  });
});
