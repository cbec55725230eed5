// Cabinet sessions: a random id in an HttpOnly SameSite=Lax cookie (Secure when the public address is
// https), its sha256 in `cabinet_sessions` with the contact signed in (NULL: an anonymous visitor, who
// still has a city and a CSRF token), the legal entity and city chosen, and view preferences. Signing
// in replaces the session (a new id: an id planted before sign-in opens nothing), signing out deletes it.
// A manager working as a client (src/backoffice/impersonation.ts) gets a session of the client's contact
// that carries the impersonation: it lives only while the impersonation does (30 minutes at most).
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { audit } from '../backoffice/audit.ts';
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
  /** A manager works as the contact in this session (impersonations.id). */
  impersonationId: number | null;
}

export interface NewSession {
  id: string;
  row: SessionRow;
}

export interface SessionInit {
  contactId?: number | null;
  legalEntityId?: number | null;
  cityId?: number | null;
  prefs?: Record<string, unknown>;
  /** An impersonation's session: it ends with the impersonation (`expiresAt`), never pushed forward. */
  impersonation?: { id: number; expiresAt: Date };
}

export async function createSession(db: Db, init: SessionInit = {}): Promise<NewSession> {
  const id = newSecret();
  const row: SessionRow = {
    idHash: sha256(id), contactId: init.contactId ?? null, legalEntityId: init.legalEntityId ?? null, cityId: init.cityId ?? null,
    csrf: newSecret(), prefs: init.prefs ?? {}, fresh: true, impersonationId: init.impersonation?.id ?? null,
  };
  await db.insertInto('cabinet_sessions').values({
    id_hash: row.idHash, contact_id: row.contactId, legal_entity_id: row.legalEntityId, city_id: row.cityId, csrf: row.csrf,
    prefs: JSON.stringify(row.prefs), impersonation_id: row.impersonationId,
    expires_at: init.impersonation ? init.impersonation.expiresAt : sql<Date>`now() + make_interval(days => ${SESSION_IDLE_DAYS})` as unknown as Date,
  }).execute();
  return { id, row };
}

/** An impersonation session found dead: its impersonation ended, expired, or no longer allowed. */
export interface DeadImpersonation {
  impersonationId: number;
  /** Why it is dead now: 'expired' (30 minutes passed), 'revoked' (the manager blocked, the client reassigned), 'ended' (ended before). */
  why: 'expired' | 'revoked' | 'ended';
  clientId: number;
}

/**
 * The live session of a cookie value, or undefined (unknown, expired, or its account disabled). A
 * manager's impersonation session needs no cabinet account of the contact (the manager acts, not the
 * contact), but lives only while its impersonation does: ended, past its 30 minutes, the manager's
 * account disabled or the manager gone (managers.active), or the client given to another manager. Then
 * the session is deleted, the end recorded and audited here, and `onDead` hears why (the cabinet sends
 * the manager back to the client's card).
 */
export async function loadSession(db: Db, id: string, onDead?: (dead: DeadImpersonation) => Promise<void>): Promise<SessionRow | undefined> {
  if (!id || id.length > 100) return undefined;
  const r = await sql<{
    id_hash: string; contact_id: number | null; legal_entity_id: number | null; city_id: number | null; csrf: string; prefs: Record<string, unknown>; fresh: boolean;
    impersonation_id: string | null; live: boolean; account_ok: boolean; imp_client_id: string | null; imp_ended: boolean | null; imp_expired: boolean | null; imp_allowed: boolean | null;
  }>`
    SELECT s.id_hash, s.contact_id, s.legal_entity_id, s.city_id, s.csrf, s.prefs,
      s.expires_at > now() + make_interval(days => ${SESSION_IDLE_DAYS}) - interval '1 hour' AS fresh,
      s.impersonation_id::text, s.expires_at > now() AS live, (a.contact_id IS NOT NULL AND NOT a.disabled) AS account_ok,
      i.client_id::text AS imp_client_id, i.ended_at IS NOT NULL AS imp_ended, i.expires_at <= now() AS imp_expired,
      (cl.manager_id = i.manager_id AND ct.id IS NOT NULL AND mg.active
        AND NOT EXISTS (SELECT 1 FROM manager_accounts ma WHERE ma.manager_id = i.manager_id AND ma.disabled)) AS imp_allowed
    FROM cabinet_sessions s
    LEFT JOIN cabinet_accounts a ON a.contact_id = s.contact_id
    LEFT JOIN impersonations i ON i.id = s.impersonation_id
    LEFT JOIN clients cl ON cl.id = i.client_id
    LEFT JOIN managers mg ON mg.id = i.manager_id
    LEFT JOIN contacts ct ON ct.id = s.contact_id AND NOT ct.deleted AND ct.client_id = i.client_id
    WHERE s.id_hash = ${sha256(id)}`.execute(db);
  const row = r.rows[0];
  if (!row) return undefined;
  if (row.impersonation_id !== null) {
    // The impersonation decides, not the session's own expiry (which is the impersonation's anyway).
    const why = row.imp_ended ? 'ended' : row.imp_expired ? 'expired' : row.imp_allowed ? null : 'revoked';
    if (why) {
      const dead: DeadImpersonation = { impersonationId: Number(row.impersonation_id), why, clientId: Number(row.imp_client_id) };
      await closeDeadImpersonation(db, row.id_hash, dead);
      await onDead?.(dead);
      return undefined;
    }
  } else if (!row.live || (row.contact_id !== null && !row.account_ok)) {
    return undefined;
  }
  return {
    idHash: row.id_hash, contactId: row.contact_id, legalEntityId: row.legal_entity_id, cityId: row.city_id, csrf: row.csrf, prefs: row.prefs ?? {},
    fresh: row.fresh, impersonationId: row.impersonation_id === null ? null : Number(row.impersonation_id),
  };
}

/**
 * Deletes a dead impersonation's session and, unless it was ended before, records the end (expired or
 * ended) once — the UPDATE's condition makes two requests racing record one end — and audits it.
 */
async function closeDeadImpersonation(db: Db, idHash: string, dead: DeadImpersonation): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await deleteSession(trx, idHash);
    if (dead.why === 'ended') return;
    const r = await sql<{ manager_id: number; client_id: string }>`
      UPDATE impersonations SET ended_at = CASE WHEN ${dead.why} = 'expired' THEN least(now(), expires_at) ELSE now() END,
        end_reason = ${dead.why === 'expired' ? 'expired' : 'ended'}
      WHERE id = ${dead.impersonationId} AND ended_at IS NULL RETURNING manager_id, client_id::text`.execute(trx);
    const imp = r.rows[0];
    if (!imp) return;
    await sql`DELETE FROM cabinet_sessions WHERE impersonation_id = ${dead.impersonationId}`.execute(trx);
    await audit(trx, { kind: 'system', id: null, impersonationId: dead.impersonationId }, {
      action: 'impersonation.end', clientId: Number(imp.client_id),
      details: { reason: dead.why === 'expired' ? 'expired' : 'revoked', managerId: imp.manager_id },
    });
  });
}

/** Pushes the idle expiry forward (at most once an hour per session: one write, not one per page). */
export async function touchSession(db: Db, s: SessionRow): Promise<void> {
  // An impersonation's session ends when the impersonation does: use does not extend it.
  if (s.fresh || s.impersonationId !== null) return;
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

/**
 * Removes expired sessions and sign-in attempts older than a day (the workers, every few minutes), and
 * records the end of impersonations whose 30 minutes passed without another request (their history then
 * says "expired" rather than staying open).
 */
export async function purgeExpiredSessions(db: Db): Promise<number> {
  // An impersonation that ran out with nobody asking since ends here, audited as a request would audit it
  // (closeDeadImpersonation): the end and its audit entry in one statement, once (ended_at IS NULL).
  await sql`
    WITH ended AS (
      UPDATE impersonations SET ended_at = expires_at, end_reason = 'expired' WHERE ended_at IS NULL AND expires_at <= now()
      RETURNING id, manager_id, client_id
    )
    INSERT INTO audit_log (actor_kind, actor_id, actor_name, action, outcome, client_id, impersonation_id, details)
    SELECT 'system', NULL, NULL, 'impersonation.end', 'ok', client_id, id, jsonb_build_object('reason', 'expired', 'managerId', manager_id) FROM ended`.execute(db);
  const r = await db.deleteFrom('cabinet_sessions').where('expires_at', '<', sql<Date>`now()`).executeTakeFirst();
  await db.deleteFrom('cabinet_login_attempts').where('at', '<', sql<Date>`now() - interval '1 day'`).execute();
  return Number(r.numDeletedRows);
}
