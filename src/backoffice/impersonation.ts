// "Work as client": a manager opens the cabinet as a contact of one of the manager's own clients, to
// assemble an order on the phone. An impersonations row (who, whom, when, from where; 30 minutes at most)
// and a cabinet session of the contact that carries it; every step is in the append-only audit log.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { CabinetError } from '../cabinet/errors.ts';
import { createSession } from '../cabinet/sessions.ts';
import { audit, type Actor } from './audit.ts';
import { assertOwnClient } from './managers.ts';

type Db = Kysely<Database>;

/** How long a manager may work as a client before the session ends by itself. */
export const IMPERSONATION_MINUTES = 30;

export interface ManagerActor {
  id: number;
  name: string;
}

export interface StartImpersonation {
  manager: ManagerActor;
  clientId: number;
  /** The contact to act as; default: a head of the client (by name). */
  contactId?: number | null;
  /** The legal entity to act for (one of the contact's); default: the contact's first, heads first. */
  legalEntityId?: number | null;
  ip: string | null;
  userAgent: string | null;
}

export interface StartedImpersonation {
  impersonationId: number;
  /** The cabinet cookie's value (`mg_cab`): the manager's browser is now in the contact's cabinet. */
  cookie: string;
  contactId: number;
  legalEntityId: number | null;
  expiresAt: Date;
}

const actorOf = (m: ManagerActor, ip: string | null, userAgent: string | null, impersonationId?: number): Actor =>
  ({ kind: 'manager', id: m.id, name: m.name, ip, userAgent, impersonationId: impersonationId ?? null });

export async function startImpersonation(db: Db, input: StartImpersonation): Promise<StartedImpersonation> {
  const client = await assertOwnClient(db, actorOf(input.manager, input.ip, input.userAgent) as Actor & { kind: 'manager' }, input.clientId, 'impersonation.start');

  // The contact: the one chosen (of this client), else a head of the client, else any contact of it.
  const contacts = await sql<{ id: number; name: string; heads: boolean }>`
    SELECT ct.id, ct.name, EXISTS (SELECT 1 FROM contact_legal_entities cle JOIN legal_entities le ON le.id = cle.legal_entity_id
      WHERE cle.contact_id = ct.id AND cle.role = 'head' AND le.client_id = ct.client_id AND NOT le.deleted) AS heads
    FROM contacts ct WHERE ct.client_id = ${client.id} AND NOT ct.deleted AND NOT ct.placeholder
    ORDER BY heads DESC, ct.name, ct.id`.execute(db);
  if (!contacts.rows.length) {
    throw new CabinetError(409, `У клиента «${client.name}» нет ни одного контактного лица: работать как клиент можно только от имени контакта. Добавьте контакт в CRM или учётной системе.`);
  }
  const contact = input.contactId == null ? contacts.rows[0]! : contacts.rows.find((c) => c.id === Number(input.contactId));
  if (!contact) throw new CabinetError(404, 'Такого контактного лица у клиента нет.', 'contact');

  const entities = (await sql<{ id: number }>`
    SELECT le.id FROM contact_legal_entities cle JOIN legal_entities le ON le.id = cle.legal_entity_id
    WHERE cle.contact_id = ${contact.id} AND le.client_id = ${client.id} AND NOT le.deleted AND NOT le.placeholder
    ORDER BY (cle.role = 'head') DESC, le.name, le.id`.execute(db)).rows;
  let legalEntityId: number | null = entities[0]?.id ?? null;
  if (input.legalEntityId != null) {
    if (!entities.some((e) => e.id === Number(input.legalEntityId))) {
      throw new CabinetError(404, `Контакт ${contact.name} не действует от имени выбранного юрлица: выберите одно из его юрлиц.`, 'legalEntity');
    }
    legalEntityId = Number(input.legalEntityId);
  }

  return db.transaction().execute(async (trx) => {
    // One impersonation per manager at a time: an earlier one (another tab, another client) ends here.
    const replaced = (await sql<{ id: string; client_id: string }>`
      UPDATE impersonations SET ended_at = now(), end_reason = 'replaced'
      WHERE manager_id = ${input.manager.id} AND ended_at IS NULL RETURNING id::text, client_id::text`.execute(trx)).rows;
    // Their sessions stay until their next request: the old tab then goes back to its client's card
    // (loadSession sees the impersonation ended) instead of landing on the cabinet's sign-in page.
    for (const r of replaced) {
      await audit(trx, actorOf(input.manager, input.ip, input.userAgent, Number(r.id)), { action: 'impersonation.end', clientId: Number(r.client_id), details: { reason: 'replaced' } });
    }
    const imp = await sql<{ id: string; expires_at: Date }>`
      INSERT INTO impersonations (manager_id, client_id, contact_id, legal_entity_id, ip, user_agent, expires_at)
      VALUES (${input.manager.id}, ${client.id}, ${contact.id}, ${legalEntityId}, ${input.ip}, ${input.userAgent?.slice(0, 300) ?? null},
        now() + make_interval(mins => ${IMPERSONATION_MINUTES}))
      RETURNING id::text, expires_at`.execute(trx);
    const row = imp.rows[0]!;
    const impersonationId = Number(row.id);
    const session = await createSession(trx, { contactId: contact.id, legalEntityId, impersonation: { id: impersonationId, expiresAt: row.expires_at } });
    await audit(trx, actorOf(input.manager, input.ip, input.userAgent, impersonationId), {
      action: 'impersonation.start', clientId: client.id,
      details: { contactId: contact.id, contact: contact.name, legalEntityId, expiresAt: row.expires_at.toISOString() },
    });
    return { impersonationId, cookie: session.id, contactId: contact.id, legalEntityId, expiresAt: row.expires_at };
  });
}

export type EndReason = 'logout' | 'ended';

/**
 * Ends an impersonation (the cabinet's "Выйти": 'logout'; the banner's «Завершить»: 'ended'): its
 * sessions are deleted. Returns the client's id (the manager goes back to its card); an impersonation
 * ended before changes nothing and is not audited again.
 */
export async function endImpersonation(db: Db, input: { impersonationId: number; reason: EndReason; ip: string | null; userAgent: string | null }): Promise<{ clientId: number } | undefined> {
  return db.transaction().execute(async (trx) => {
    const r = await sql<{ client_id: string; manager_id: number; manager_name: string }>`
      UPDATE impersonations i SET ended_at = now(), end_reason = ${input.reason}
      FROM managers m WHERE i.id = ${input.impersonationId} AND i.ended_at IS NULL AND m.id = i.manager_id
      RETURNING i.client_id::text, i.manager_id, m.name AS manager_name`.execute(trx);
    await trx.deleteFrom('cabinet_sessions').where('impersonation_id', '=', input.impersonationId).execute();
    const row = r.rows[0];
    if (!row) return undefined;
    await audit(trx, { kind: 'manager', id: row.manager_id, name: row.manager_name, ip: input.ip, userAgent: input.userAgent, impersonationId: input.impersonationId },
      { action: 'impersonation.end', clientId: Number(row.client_id), details: { reason: input.reason } });
    return { clientId: Number(row.client_id) };
  });
}

export interface ImpersonationSummary {
  id: number;
  clientId: number;
  clientName: string;
  contactName: string;
  legalEntityName: string | null;
  ip: string | null;
  startedAt: Date;
  expiresAt: Date;
  endedAt: Date | null;
  /** 'active' while it lasts; 'expired' also for one that ran out with nobody asking since. */
  state: 'active' | 'logout' | 'expired' | 'ended' | 'replaced';
  /** Audit entries of the impersonation (start, actions, end). */
  actions: number;
}

/** A manager's impersonations, newest first (keyset paging by id). */
export async function listImpersonations(db: Db, managerId: number, opts: { limit?: number; beforeId?: number } = {}): Promise<ImpersonationSummary[]> {
  const limit = Math.min(200, Math.max(1, opts.limit ?? 50));
  const r = await sql<{
    id: string; client_id: string; client_name: string; contact_name: string; le_name: string | null; ip: string | null;
    started_at: Date; expires_at: Date; ended_at: Date | null; end_reason: ImpersonationSummary['state'] | null; expired: boolean; actions: number;
  }>`
    SELECT i.id::text, i.client_id::text, cl.name AS client_name, ct.name AS contact_name, le.name AS le_name, i.ip,
      i.started_at, i.expires_at, i.ended_at, i.end_reason, i.expires_at <= now() AS expired,
      (SELECT count(*)::int FROM audit_log a WHERE a.impersonation_id = i.id) AS actions
    FROM impersonations i JOIN clients cl ON cl.id = i.client_id JOIN contacts ct ON ct.id = i.contact_id
    LEFT JOIN legal_entities le ON le.id = i.legal_entity_id
    WHERE i.manager_id = ${managerId} ${opts.beforeId ? sql`AND i.id < ${opts.beforeId}` : sql``}
    ORDER BY i.id DESC LIMIT ${limit}`.execute(db);
  return r.rows.map((x) => ({
    id: Number(x.id), clientId: Number(x.client_id), clientName: x.client_name, contactName: x.contact_name, legalEntityName: x.le_name, ip: x.ip,
    startedAt: x.started_at, expiresAt: x.expires_at, endedAt: x.ended_at,
    state: x.end_reason ?? (x.expired ? 'expired' : 'active'), actions: x.actions,
  }));
}
