// The audit log: who did what to whom, when and from where. Append-only in the database (a trigger
// refuses UPDATE and DELETE). Written in the transaction of the action where there is one, so an
// action that rolled back leaves no "done" entry; refusals (403) are written on their own.
import type { Kysely } from 'kysely';
import type { Database } from '../db/index.ts';

type Db = Kysely<Database>;

export type ActorKind = 'manager' | 'contact' | 'admin' | 'console' | 'system';

export interface Actor {
  kind: ActorKind;
  id: string | number | null;
  name?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  /** A manager working as a client: every action is also the impersonation's. */
  impersonationId?: number | null;
}

export interface AuditEntry {
  /** Dotted verb: 'impersonation.start', 'order.place', 'credit.limit.set', 'http.post' … */
  action: string;
  outcome?: 'ok' | 'denied' | 'failed';
  clientId?: number | null;
  details?: Record<string, unknown>;
}

export async function audit(db: Db, actor: Actor, e: AuditEntry): Promise<void> {
  await db.insertInto('audit_log').values({
    actor_kind: actor.kind, actor_id: actor.id === null ? null : String(actor.id), actor_name: actor.name ?? null,
    action: e.action, outcome: e.outcome ?? 'ok', client_id: e.clientId ?? null, impersonation_id: actor.impersonationId ?? null,
    ip: actor.ip ?? null, user_agent: actor.userAgent?.slice(0, 300) ?? null, details: JSON.stringify(e.details ?? {}),
  }).execute();
}

export interface AuditRow {
  id: number;
  at: Date;
  actorKind: ActorKind;
  actorId: string | null;
  actorName: string | null;
  action: string;
  outcome: string;
  clientId: number | null;
  impersonationId: number | null;
  ip: string | null;
  details: Record<string, unknown>;
}

/** Entries of a client or an impersonation, newest first (keyset paging by id). */
export async function auditTrail(db: Db, of: { clientId?: number; impersonationId?: number }, limit = 100, beforeId?: number): Promise<AuditRow[]> {
  let q = db.selectFrom('audit_log').selectAll();
  if (of.clientId !== undefined) q = q.where('client_id', '=', of.clientId);
  if (of.impersonationId !== undefined) q = q.where('impersonation_id', '=', of.impersonationId);
  if (beforeId !== undefined) q = q.where('id', '<', beforeId);
  const rows = await q.orderBy('id', 'desc').limit(Math.min(500, Math.max(1, limit))).execute();
  return rows.map((r) => ({
    id: Number(r.id), at: r.at, actorKind: r.actor_kind, actorId: r.actor_id, actorName: r.actor_name, action: r.action,
    outcome: r.outcome, clientId: r.client_id === null ? null : Number(r.client_id), impersonationId: r.impersonation_id === null ? null : Number(r.impersonation_id),
    ip: r.ip, details: r.details as Record<string, unknown>,
  }));
}
