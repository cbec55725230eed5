// Datastore access: one pg pool and a kysely instance over it, migrations, and database creation
// for fresh machines. Dependencies are passed in; nothing here is a global singleton.
import pg from 'pg';
import { Kysely, Migrator, PostgresDialect, type Migration, type MigrationProvider } from 'kysely';
import type { Database } from './types.ts';
import * as m0001 from './migrations/0001-core.ts';
import * as m0002 from './migrations/0002-open-entities.ts';
import * as m0003 from './migrations/0003-portal.ts';
import * as m0004 from './migrations/0004-catalog-search.ts';
import * as m0005 from './migrations/0005-onec-exchange.ts';
import * as m0007 from './migrations/0007-poll-state.ts';
import * as m0008 from './migrations/0008-change-versions.ts';
import * as m0009 from './migrations/0009-catalog-offers.ts';
import * as m0010 from './migrations/0010-installation.ts';
import * as m0011 from './migrations/0011-receipt-keys.ts';
import * as m0012 from './migrations/0012-price-periods.ts';
import * as m0013 from './migrations/0013-order-exports.ts';
import * as m0014 from './migrations/0014-merged-with.ts';
import * as m0015 from './migrations/0015-runs-flow-open.ts';
import * as m0016 from './migrations/0016-coalesced-receipts.ts';
import * as m0020 from './migrations/0020-manager-photo.ts';
import * as m0021 from './migrations/0021-cabinet.ts';
import * as m0022 from './migrations/0022-promotion.ts';
import * as m0023 from './migrations/0023-backoffice.ts';
import * as m0024 from './migrations/0024-settlements.ts';
import * as m0025 from './migrations/0025-documents.ts';
import * as m0026 from './migrations/0026-manager-active.ts';
import * as m0027 from './migrations/0027-order-documents-flow.ts';
import * as m0028 from './migrations/0028-act-requests.ts';
import * as m0029 from './migrations/0029-stored-secrets.ts';
import * as m0030 from './migrations/0030-console.ts';
import * as m0031 from './migrations/0031-history-positions.ts';
import * as m0032 from './migrations/0032-runs-flow-finished.ts';
import * as m0033 from './migrations/0033-runs-held-at.ts';
import * as m0036 from './migrations/0036-runs-console.ts';
import * as m0038 from './migrations/0038-inbox-growth.ts';
import * as m0040 from './migrations/0040-fingerprints.ts';
import * as m0041 from './migrations/0041-fingerprint-held.ts';
import * as m0043 from './migrations/0043-placeholder-search.ts';

export type { Database } from './types.ts';
export { isDependencyUnavailable } from './availability.ts';
export * from './types.ts';

// int8 (counts, bigserial ids) as JS numbers: ids and counts stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

export interface Db {
  db: Kysely<Database>;
  pool: pg.Pool;
  close(): Promise<void>;
}

/**
 * A URL without a user name connects as $PGUSER, else `postgres`: the role every fresh PostgreSQL
 * has (a shell's $USER often has no role, and root shells and CI often have no $USER at all).
 */
export function withDefaultUser(url: string): string {
  const u = new URL(url);
  if (!u.username) u.username = process.env.PGUSER || 'postgres';
  return u.toString();
}

/**
 * Keeps a lost server from crashing the process through the pool's clients. pg-pool listens for a
 * client's 'error' only while it is idle; a client checked out (`pool.connect()`: a merge's
 * transaction, a COPY, kysely's own) that loses its server emits 'error' with nobody listening, and
 * `pg_ctl restart -m fast` during a merge killed `magistral start` (API and workers together) with
 * "Connection terminated unexpectedly … Unhandled 'error' event" (issue 17, test/faults). The
 * statement in flight fails on its own (the job is retried); the client is dropped on release (it is
 * no longer queryable), so the listener only has to exist, for every checkout of every client.
 */
export function guardPoolClients(pool: pg.Pool): void {
  pool.on('error', () => {});
  pool.on('connect', (client) => { client.on('error', () => {}); });
}

export function createDb(url: string, opts: { max?: number; applicationName?: string } = {}): Db {
  const pool = new pg.Pool({ connectionString: withDefaultUser(url), max: opts.max ?? 10, application_name: opts.applicationName ?? 'magistral' });
  // An idle client, or one checked out, that loses its server (restart, network) must not crash the process.
  guardPoolClients(pool);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    pool,
    close: async () => {
      await db.destroy();
    },
  };
}

/**
 * Kysely on one connection of a hand-written transaction (the merge's): statements run on that client, in
 * its transaction, and are committed or rolled back with it. Never call `.transaction()` or `.destroy()` on it.
 */
export function onClient(client: pg.PoolClient): Kysely<Database> {
  const connection = { query: client.query.bind(client), release: () => {} };
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: { connect: () => Promise.resolve(connection), end: () => Promise.resolve() } as unknown as pg.Pool }) });
}

const MIGRATIONS: Record<string, Migration> = {
  '0001-core': m0001,
  '0002-open-entities': m0002,
  '0003-portal': m0003,
  '0004-catalog-search': m0004,
  '0005-onec-exchange': m0005,
  '0007-poll-state': m0007,
  '0008-change-versions': m0008,
  '0009-catalog-offers': m0009,
  '0010-installation': m0010,
  '0011-receipt-keys': m0011,
  '0012-price-periods': m0012,
  '0013-order-exports': m0013,
  '0014-merged-with': m0014,
  '0015-runs-flow-open': m0015,
  '0016-coalesced-receipts': m0016,
  '0020-manager-photo': m0020,
  '0021-cabinet': m0021,
  '0022-promotion': m0022,
  '0023-backoffice': m0023,
  '0024-settlements': m0024,
  '0025-documents': m0025,
  '0026-manager-active': m0026,
  '0027-order-documents-flow': m0027,
  '0028-act-requests': m0028,
  '0029-stored-secrets': m0029,
  '0030-console': m0030,
  '0031-history-positions': m0031,
  '0032-runs-flow-finished': m0032,
  '0033-runs-held-at': m0033,
  '0036-runs-console': m0036,
  '0038-inbox-growth': m0038,
  '0040-fingerprints': m0040,
  '0041-fingerprint-held': m0041,
  '0043-placeholder-search': m0043,
};

class StaticProvider implements MigrationProvider {
  constructor(private readonly migrations: Readonly<Record<string, Migration>>) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return { ...this.migrations };
  }
}

/** The migrations of one connector module: its own tables, recorded in a bookkeeping table of its own. */
export interface ConnectorMigrations {
  name: string;
  migrations: Readonly<Record<string, Migration>>;
}

async function runMigrator(db: Kysely<Database>, migrations: Readonly<Record<string, Migration>>, table?: string): Promise<string[]> {
  const migrator = new Migrator({
    // Numbers are handed out to parallel branches ahead of time, so a lower number can arrive after a
    // higher one was applied (0032 merged after 0036): it is applied then instead of refusing the database.
    db, provider: new StaticProvider(migrations), allowUnorderedMigrations: true,
    ...(table ? { migrationTableName: table, migrationLockTableName: `${table}_lock` } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * Applies the core's migrations, then each connector's (in the order given), each connector ordered
 * among its own only. Answers the names applied, a connector's prefixed with its name.
 */
export async function migrate(db: Kysely<Database>, connectors: readonly ConnectorMigrations[] = []): Promise<string[]> {
  const applied = await runMigrator(db, MIGRATIONS);
  for (const c of connectors) {
    for (const name of await runMigrator(db, c.migrations, `kysely_migration_${c.name}`)) applied.push(`${c.name}/${name}`);
  }
  return applied;
}

/** Creates the database named in `url` when it does not exist yet (connecting to the `postgres` database). */
export async function ensureDatabase(url: string): Promise<boolean> {
  const u = new URL(withDefaultUser(url));
  const name = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!name) return false;
  u.pathname = '/postgres';
  const client = new pg.Client({ connectionString: u.toString() });
  client.on('error', () => {});
  await client.connect();
  try {
    const r = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (r.rowCount) return false;
    await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    return true;
  } catch (e) {
    // Two processes racing to create it: the loser sees duplicate_database.
    if ((e as { code?: string }).code === '42P04') return false;
    throw e;
  } finally {
    await client.end();
  }
}

/** Drops a database (tests clean up after themselves). */
export async function dropDatabase(url: string): Promise<void> {
  const u = new URL(withDefaultUser(url));
  const name = decodeURIComponent(u.pathname.replace(/^\//, ''));
  u.pathname = '/postgres';
  const client = new pg.Client({ connectionString: u.toString() });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name.replace(/"/g, '""')}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
