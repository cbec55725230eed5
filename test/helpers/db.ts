// Test databases: each suite gets its own freshly migrated PostgreSQL database on the real server
// (never the default one) and drops it afterwards.
import { randomBytes } from 'node:crypto';
import { deleteQueueKeys } from '../../src/pipeline/queues.ts';
import { createDb, dropDatabase, ensureDatabase, migrate, type Db } from '../../src/db/index.ts';
import { registry } from './registry.ts';

export const PG_BASE = process.env.TEST_PG_BASE ?? 'postgres://127.0.0.1:5432';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestDb extends Db {
  url: string;
  drop(): Promise<void>;
}

/** `base`: another server than the machine's (a fault test's own cluster, test/helpers/pg-cluster.ts). */
export async function createTestDb(label = 't', base = PG_BASE): Promise<TestDb> {
  const name = `magistral_test_${label.replace(/[^a-z0-9]/gi, '').toLowerCase().slice(0, 20)}_${randomBytes(4).toString('hex')}`;
  const url = `${base}/${name}`;
  await ensureDatabase(url);
  const d = createDb(url, { applicationName: 'magistral-test' });
  await migrate(d.db, registry.migrationSets());
  return {
    ...d,
    url,
    async drop() {
      await d.close();
      await dropDatabase(url);
    },
  };
}

/** A Redis key prefix unique to one suite, so suites never see each other's queues. */
export function testQueuePrefix(label = 't'): string {
  return `magistral-test-${label}-${randomBytes(4).toString('hex')}`;
}

/** Deletes every Redis key under a suite's prefix (BullMQ leaves meta keys behind after obliterate). */
export async function dropQueuePrefix(prefix: string, url = REDIS_URL): Promise<void> {
  await deleteQueueKeys(url, prefix);
}
