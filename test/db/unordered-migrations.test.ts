// Migration numbers are handed to parallel branches in advance, so a database can have 0036 applied before
// 0032 arrives (the console's partial runs indexes merged after the runs pages): `migrate` applies the
// late one instead of refusing the database as "corrupted".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { migrate } from '../../src/db/index.ts';
import { createTestDb, type TestDb } from '../helpers/db.ts';

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb('unordered');
});
afterAll(async () => {
  await db?.drop();
});

describe('migrations merged out of order', () => {
  it('applies a migration numbered below one already applied', async () => {
    // The database as a branch without 0032 left it: 0036 applied, 0032 never.
    await sql`DROP INDEX runs_flow_done, runs_flow_finished`.execute(db.db);
    await sql`DELETE FROM kysely_migration WHERE name = '0032-runs-flow-finished'`.execute(db.db);
    expect(await migrate(db.db)).toEqual(['0032-runs-flow-finished']);
    const idx = await sql<{ indexname: string }>`SELECT indexname FROM pg_indexes WHERE tablename = 'runs' AND indexname LIKE 'runs_flow_%' ORDER BY 1`.execute(db.db);
    expect(idx.rows.map((r) => r.indexname)).toEqual(['runs_flow_done', 'runs_flow_finished', 'runs_flow_open']);
  });
});
