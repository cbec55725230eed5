// Id translation for `lookup: {entity, system}` transforms, read from the datastore's external_ids:
// two systems' ids of one entity are the same thing when they share an internal id.
import type { Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import type { LookupSource } from './compile.ts';

export function dbLookups(db: Kysely<Database>): LookupSource {
  return {
    async translate(entity, fromSystem, toSystem) {
      const rows = await db
        .selectFrom('external_ids as a')
        .innerJoin('external_ids as b', (j) => j.onRef('b.entity', '=', 'a.entity').onRef('b.internal_id', '=', 'a.internal_id'))
        .select(['a.external_id as from_id', 'b.external_id as to_id'])
        .where('a.entity', '=', entity as Database['external_ids']['entity'])
        .where('a.system', '=', fromSystem)
        .where('b.system', '=', toSystem)
        // When a system holds several ids for one internal id, the smallest wins, every run the same.
        .orderBy('a.external_id')
        .orderBy('b.external_id', 'desc')
        .execute();
      const out = new Map<string, string>();
      for (const r of rows) out.set(r.from_id, r.to_id);
      return out;
    },
  };
}
