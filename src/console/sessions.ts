// Console sessions: the cookie mg_con (path /console) holds a random id, console_sessions its sha256; a
// session ends after CONSOLE_SESSION_IDLE_HOURS unused, at sign-out, or when its user is disabled.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { sha256 } from '../cabinet/tokens.ts';
import { createSessionRow, deleteSessionRow, freshSql, purgeSessionRows, touchSessionRow, type SessionTable } from '../security/session-rows.ts';
import type { ConsoleRole } from './users.ts';

type Db = Kysely<Database>;

export const CONSOLE_COOKIE = 'mg_con';
/** An on-call shift is at most 12 hours: a console left open overnight does not stay signed in. */
export const CONSOLE_SESSION_IDLE_HOURS = 12;
const SESSIONS: SessionTable = { table: 'console_sessions', owner: 'user_id', idleHours: CONSOLE_SESSION_IDLE_HOURS };

export interface ConsoleSession {
  idHash: string;
  csrf: string;
  user: { id: number; name: string; role: ConsoleRole };
  fresh: boolean;
}

export const createConsoleSession = (db: Db, userId: number, from: { ip?: string | null; userAgent?: string | null }): Promise<string> =>
  createSessionRow(db, SESSIONS, userId, from);

/** The live session of a cookie value; unknown, expired or of a disabled user → undefined. */
export async function loadConsoleSession(db: Db, id: string | undefined): Promise<ConsoleSession | undefined> {
  if (!id || id.length > 100) return undefined;
  const r = await sql<{ id_hash: string; csrf: string; fresh: boolean; user_id: number; name: string; role: ConsoleRole }>`
    SELECT s.id_hash, s.csrf, ${freshSql(SESSIONS)} AS fresh, u.id AS user_id, u.name, u.role
    FROM console_sessions s JOIN console_users u ON u.id = s.user_id
    WHERE s.id_hash = ${sha256(id)} AND s.expires_at > now() AND NOT u.disabled`.execute(db);
  const row = r.rows[0];
  return row && { idHash: row.id_hash, csrf: row.csrf, fresh: row.fresh, user: { id: row.user_id, name: row.name, role: row.role } };
}

export const touchConsoleSession = (db: Db, s: ConsoleSession): Promise<void> => touchSessionRow(db, SESSIONS, s);
export const deleteConsoleSession = (db: Db, idHash: string): Promise<void> => deleteSessionRow(db, SESSIONS, idHash);
export const purgeConsoleSessions = (db: Db): Promise<number> => purgeSessionRows(db, SESSIONS, 'console_login_attempts');
