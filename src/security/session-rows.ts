// Session rows of the areas with their own sign-in (/manager, /console): the cookie holds a random id, the
// table its sha256 with the owner, the CSRF token of the session and when it ends; an idle session ends
// after the area's idle hours, and its expiry is pushed forward at most every ten minutes (a page view
// is then not a write).
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { newSecret, sha256 } from '../cabinet/tokens.ts';

type Db = Kysely<Database>;

export interface SessionTable {
  table: 'manager_sessions' | 'console_sessions';
  /** The column naming the session's owner. */
  owner: 'manager_id' | 'user_id';
  idleHours: number;
}

/** A new session of `ownerId`; returns the cookie's value (only its hash is stored). */
export async function createSessionRow(db: Db, t: SessionTable, ownerId: number, from: { ip?: string | null; userAgent?: string | null }): Promise<string> {
  const id = newSecret();
  await sql`INSERT INTO ${sql.table(t.table)} (id_hash, ${sql.ref(t.owner)}, csrf, ip, user_agent, expires_at)
    VALUES (${sha256(id)}, ${ownerId}, ${newSecret()}, ${from.ip ?? null}, ${from.userAgent?.slice(0, 300) ?? null},
      now() + make_interval(hours => ${t.idleHours}))`.execute(db);
  return id;
}

/** SQL true when a session row's expiry was pushed forward less than ten minutes ago (`s` is the row's alias). */
export const freshSql = (t: SessionTable) =>
  sql<boolean>`s.expires_at > now() + make_interval(hours => ${t.idleHours}) - interval '10 minutes'`;

export async function touchSessionRow(db: Db, t: SessionTable, s: { idHash: string; fresh: boolean }): Promise<void> {
  if (s.fresh) return;
  await sql`UPDATE ${sql.table(t.table)} SET seen_at = now(), expires_at = now() + make_interval(hours => ${t.idleHours})
    WHERE id_hash = ${s.idHash}`.execute(db);
}

export async function deleteSessionRow(db: Db, t: SessionTable, idHash: string): Promise<void> {
  await sql`DELETE FROM ${sql.table(t.table)} WHERE id_hash = ${idHash}`.execute(db);
}

/** Removes expired sessions and sign-in attempts older than a day (the workers' sweep). */
export async function purgeSessionRows(db: Db, t: SessionTable, attempts: 'manager_login_attempts' | 'console_login_attempts'): Promise<number> {
  const r = await sql`DELETE FROM ${sql.table(t.table)} WHERE expires_at < now()`.execute(db);
  await sql`DELETE FROM ${sql.table(attempts)} WHERE at < now() - interval '1 day'`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}
