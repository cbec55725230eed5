// This database's installation id (migration 0010), read once per database handle. Producers put it
// in every queue job; workers refuse jobs of another installation (workers/installation.ts).
import type { Kysely } from 'kysely';
import type { Database } from '../db/index.ts';

const cache = new WeakMap<Kysely<Database>, Promise<string>>();

/** The installation id of the database behind `db` (a UUID, never changes for that database). */
export function installationId(db: Kysely<Database>): Promise<string> {
  let id = cache.get(db);
  if (!id) {
    id = db.selectFrom('installation').select('id').executeTakeFirstOrThrow().then((r) => r.id);
    // A failed read (database not yet migrated, connection lost) is not remembered: ask again next time.
    id.catch(() => cache.delete(db));
    cache.set(db, id);
  }
  return id;
}

/**
 * The suffix a worker adds to its name so that the CLI, listing a queue's connected workers, counts
 * only the workers of its own installation (another database's workers would refuse its jobs).
 */
export function workerNameSuffix(installation: string): string {
  return `@${installation}`;
}
