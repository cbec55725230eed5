// The price roll: a price valid from a future date becomes the price in `prices` on that date without
// another message, and a price whose validity ended leaves it. Every worker runs it on a timer; one at
// a time holds the prices merge lock (so it never races a merge of the same keys) and moves the mark
// `price_roll_state.rolled_to` forward in the same transaction, so each boundary is applied once.
// Reads at an instant (`at`) never wait for it: they look the periods up themselves (src/portal/price-at.ts).
import type pg from 'pg';
import { execute, queryOne, statement } from '../db/query.ts';
import { rollStatement, type InForceCounts } from './merge-sql/index.ts';
import { mergeLockName, TRY_XACT_LOCK_SQL } from './locks.ts';
import { BUS_WRITE_SQL, invalidateFingerprints } from './fingerprints.ts';

export interface RollResult {
  /** false: another worker (or a merge of prices) holds the lock; nothing was done. */
  rolled: boolean;
  since?: Date;
  until?: Date;
  counts?: InForceCounts;
}

export async function rollPrices(pool: Pick<pg.Pool, 'connect'>): Promise<RollResult> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { ok } = await queryOne(client, statement<{ ok: boolean }>(TRY_XACT_LOCK_SQL, [mergeLockName('prices')]));
    if (!ok) {
      await client.query('ROLLBACK');
      return { rolled: false };
    }
    // Its statements fire the fingerprint trigger on every tick, changed rows or not (a statement
    // trigger): the roll clears fingerprints itself, only when it changed a live price.
    await client.query(BUS_WRITE_SQL);
    // now() is the transaction's start: the same instant the in-force check of the statement uses.
    const state = await queryOne(client, statement<{ since: Date; until: Date }>(
      'SELECT rolled_to AS since, now() AS until FROM price_roll_state FOR UPDATE'));
    const counts = await queryOne(client, rollStatement(state.since, state.until));
    await execute(client, statement('UPDATE price_roll_state SET rolled_to = $1', [state.until]));
    if (Number(counts.ins) + Number(counts.upd) + Number(counts.del) > 0) {
      // Periods may move any flow's live row (flows with validity are never fingerprinted, but may share keys).
      await invalidateFingerprints(client, 'prices', { why: 'the price roll changed live prices' });
    }
    await client.query('COMMIT');
    return { rolled: true, since: state.since, until: state.until, counts: { ins: Number(counts.ins), upd: Number(counts.upd), del: Number(counts.del) } };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}
