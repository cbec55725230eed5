// Cabinet sessions: a random id in an HttpOnly SameSite=Lax cookie (Secure when the public address is
// https), its sha256 in `cabinet_sessions` with the contact signed in (NULL: an anonymous visitor, who
// still has a city and a CSRF token), the legal entity and city chosen, and view preferences. Signing
// in replaces the session (a new id: an id planted before sign-in opens nothing), signing out deletes it.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { newSecret, sha256 } from './tokens.ts';

type Db = Kysely<Database>;

export const SESSION_COOKIE = 'mg_cab';
/** A session unused this long is gone: a shared office computer does not stay signed in for weeks. */
export const SESSION_IDLE_DAYS = 14;

export interface SessionRow {
  idHash: string;
  contactId: number | null;
  legalEntityId: number | null;
  cityId: number | null;
  csrf: string;
  prefs: Record<string, unknown>;
  /** The session's expiry was pushed forward less than an hour ago. */
  fresh: boolean;
}

export interface NewSession {
  id: string;
  row: SessionRow;
}

export async function createSession(db: Db, init: { contactId?: number | null; legalEntityId?: number | null; cityId?: number | null; prefs?: Record<string, unknown> } = {}): Promise<NewSession> {
  const id = newSecret();
  const row: SessionRow = {
    idHash: sha256(id), contactId: init.contactId ?? null, legalEntityId: init.legalEntityId ?? null, cityId: init.cityId ?? null,
    csrf: newSecret(), prefs: init.prefs ?? {}, fresh: true,
  };
  await db.insertInto('cabinet_sessions').values({
    id_hash: row.idHash, contact_id: row.contactId, legal_entity_id: row.legalEntityId, city_id: row.cityId, csrf: row.csrf,
    prefs: JSON.stringify(row.prefs), expires_at: sql<Date>`now() + make_interval(days => ${SESSION_IDLE_DAYS})` as unknown as Date,
  }).execute();
  return { id, row };
}

/** The live session of a cookie value, or undefined (unknown, expired, or its account disabled). */
export async function loadSession(db: Db, id: string): Promise<SessionRow | undefined> {
  if (!id || id.length > 100) return undefined;
  const r = await sql<{ id_hash: string; contact_id: number | null; legal_entity_id: number | null; city_id: number | null; csrf: string; prefs: Record<string, unknown>; fresh: boolean }>`
    SELECT s.id_hash, s.contact_id, s.legal_entity_id, s.city_id, s.csrf, s.prefs,
      s.expires_at > now() + make_interval(days => ${SESSION_IDLE_DAYS}) - interval '1 hour' AS fresh
    FROM cabinet_sessions s LEFT JOIN cabinet_accounts a ON a.contact_id = s.contact_id
    WHERE s.id_hash = ${sha256(id)} AND s.expires_at > now()
      AND (s.contact_id IS NULL OR (a.contact_id IS NOT NULL AND NOT a.disabled))`.execute(db);
  const row = r.rows[0];
  if (!row) return undefined;
  return { idHash: row.id_hash, contactId: row.contact_id, legalEntityId: row.legal_entity_id, cityId: row.city_id, csrf: row.csrf, prefs: row.prefs ?? {}, fresh: row.fresh };
}

/** Pushes the idle expiry forward (at most once an hour per session: one write, not one per page). */
export async function touchSession(db: Db, s: SessionRow): Promise<void> {
  if (s.fresh) return;
  await sql`UPDATE cabinet_sessions SET seen_at = now(), expires_at = now() + make_interval(days => ${SESSION_IDLE_DAYS}) WHERE id_hash = ${s.idHash}`.execute(db);
}

export async function updateSession(db: Db, s: SessionRow, patch: { legalEntityId?: number | null; cityId?: number | null; prefs?: Record<string, unknown> }): Promise<void> {
  await db.updateTable('cabinet_sessions').set({
    ...(patch.legalEntityId !== undefined ? { legal_entity_id: patch.legalEntityId } : {}),
    ...(patch.cityId !== undefined ? { city_id: patch.cityId } : {}),
    ...(patch.prefs !== undefined ? { prefs: JSON.stringify(patch.prefs) } : {}),
  }).where('id_hash', '=', s.idHash).execute();
}

export async function deleteSession(db: Db, idHash: string): Promise<void> {
  await db.deleteFrom('cabinet_sessions').where('id_hash', '=', idHash).execute();
}

/** Ends every session of a contact (a new password, a disabled account). */
export async function deleteContactSessions(db: Db, contactId: number): Promise<void> {
  await db.deleteFrom('cabinet_sessions').where('contact_id', '=', contactId).execute();
}

/** Removes expired sessions and sign-in attempts older than a day (the workers, every few minutes). */
export async function purgeExpiredSessions(db: Db): Promise<number> {
  const r = await db.deleteFrom('cabinet_sessions').where('expires_at', '<', sql<Date>`now()`).executeTakeFirst();
  await db.deleteFrom('cabinet_login_attempts').where('at', '<', sql<Date>`now() - interval '1 day'`).execute();
  return Number(r.numDeletedRows);
}
