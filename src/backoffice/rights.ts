// What a contact may do inside its client, in one place (pages, the portal API and the services ask
// here): a head (role 'head' in any legal entity of the client) heads the holding — every order of its
// legal entities, the balance and settlements, its subordinates' rights; a subordinate sees its own
// orders, orders at the client's prices (stage 1) and, once a head confirmed its authority for a legal
// entity (stage 2), that entity's balance, reconciliation acts and ordering on credit. A request without
// a contact (an API key of the client as a whole) acts for the client and may do everything.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { MagistralError } from '../errors/index.ts';
import { audit, type Actor } from './audit.ts';

type Db = Kysely<Database>;

export interface Viewer {
  clientId: number;
  /** null: the client as a whole (an API key without a contact). */
  contactId: number | null;
}

export interface EntityRights {
  legalEntityId: number;
  code: string;
  name: string;
  /** The contact's own role in this legal entity; null when it is not linked (a head sees it through the holding). */
  role: 'head' | 'subordinate' | null;
  /** Stage 2: a head confirmed the contact's authority here (heads are always). */
  confirmed: boolean;
  /** A subordinate's orders above this total wait for a head's approval. */
  approvalAbove: string | null;
}

export interface ContactRights {
  clientId: number;
  contactId: number | null;
  /** Heads the holding: every legal entity of the client is its. */
  head: boolean;
  /** The legal entities the contact acts in (a head: all of the client's). */
  entities: EntityRights[];
}

/**
 * A refusal of rights: 403 for the API (English message) and for pages (the Russian one). Written to the
 * audit log with outcome 'denied' before it is thrown (see `deny`).
 */
export class RightsError extends MagistralError {
  constructor(message: string, readonly russian: string) {
    super('MAG_ERR_FORBIDDEN', message);
    this.name = 'RightsError';
  }
}

export async function loadRights(db: Db, v: Viewer): Promise<ContactRights> {
  const rows = (await sql<{ id: number; code: string; name: string; role: 'head' | 'subordinate' | null; confirmed: boolean; approval_above: string | null }>`
    SELECT le.id::int, le.code, le.name, cl.role, (cr.authority_confirmed_at IS NOT NULL) AS confirmed, cr.approval_above::text AS approval_above
    FROM legal_entities le
    LEFT JOIN contact_legal_entities cl ON cl.legal_entity_id = le.id AND cl.contact_id = ${v.contactId}
    LEFT JOIN contact_rights cr ON cr.legal_entity_id = le.id AND cr.contact_id = ${v.contactId}
    WHERE le.client_id = ${v.clientId} AND NOT le.deleted AND NOT le.placeholder
    ORDER BY le.name, le.id`.execute(db)).rows;
  const head = v.contactId === null || rows.some((r) => r.role === 'head');
  const entities = rows.filter((r) => head || r.role !== null).map((r) => ({
    legalEntityId: r.id, code: r.code, name: r.name, role: r.role,
    confirmed: head || r.confirmed,
    approvalAbove: head || r.role === 'head' ? null : r.approval_above,
  }));
  return { clientId: v.clientId, contactId: v.contactId, head, entities };
}

/** Stage 2 in the legal entity (balance, settlements, reconciliation acts, ordering on credit). */
export function maySeeSettlements(r: ContactRights, legalEntityId: number): boolean {
  return r.entities.some((e) => e.legalEntityId === legalEntityId && e.confirmed);
}

/** The legal entities whose balance the contact may see. */
export function settlementEntities(r: ContactRights): EntityRights[] {
  return r.entities.filter((e) => e.confirmed);
}

/** Writes the refusal to the audit log (outcome 'denied', on its own: there is no transaction to join) and throws it. */
export async function deny(db: Db, actor: Actor, e: { action: string; clientId: number; details?: Record<string, unknown>; message: string; russian: string }): Promise<never> {
  await audit(db, actor, { action: e.action, outcome: 'denied', clientId: e.clientId, details: e.details ?? {} });
  throw new RightsError(e.message, e.russian);
}

/** The actor of a contact's request (pages, API): the audit's who. */
export function contactActor(v: Viewer, from: { ip?: string | null; userAgent?: string | null; name?: string | null; impersonationId?: number | null } = {}): Actor {
  return v.contactId === null
    ? { kind: 'system', id: null, name: 'api-key', ip: from.ip ?? null, userAgent: from.userAgent ?? null }
    : { kind: 'contact', id: v.contactId, name: from.name ?? null, ip: from.ip ?? null, userAgent: from.userAgent ?? null, impersonationId: from.impersonationId ?? null };
}

/** Refuses (audited) unless the viewer may see the settlements of the legal entity. */
export async function assertSettlements(db: Db, v: Viewer, legalEntityId: number, actor: Actor, action = 'balance.view'): Promise<ContactRights> {
  const r = await loadRights(db, v);
  if (!maySeeSettlements(r, legalEntityId)) {
    await deny(db, actor, {
      action, clientId: v.clientId, details: { legalEntityId },
      message: 'the balance and settlements are open to the client\'s heads and to contacts whose authority a head confirmed',
      russian: 'Баланс и взаиморасчёты доступны руководителю и сотрудникам, чьи полномочия подтвердил руководитель. Обратитесь к руководителю.',
    });
  }
  return r;
}

/** Refuses (audited) unless the viewer heads the holding (team management, approvals). */
export async function assertHead(db: Db, v: Viewer, actor: Actor, action: string): Promise<ContactRights> {
  const r = await loadRights(db, v);
  if (!r.head) {
    await deny(db, actor, {
      action, clientId: v.clientId,
      message: 'only a head of the client may do this', russian: 'Это доступно только руководителю компании.',
    });
  }
  return r;
}

/**
 * Whether an order number the viewer asked for is visible, another contact's (exists in the client but
 * not the viewer's: refused and audited by the caller), or absent.
 */
export async function orderVisibility(db: Db, v: Viewer, number: string): Promise<'visible' | 'forbidden' | 'absent'> {
  const o = await db.selectFrom('orders').select(['contact_id']).where('client_id', '=', v.clientId).where('number', '=', number).executeTakeFirst();
  if (!o) return 'absent';
  if (v.contactId === null || o.contact_id === v.contactId) return 'visible';
  const r = await loadRights(db, v);
  return r.head ? 'visible' : 'forbidden';
}

/** Refuses (audited) an order of another contact of the client; answers whether the order exists at all. */
export async function assertOrderVisible(db: Db, v: Viewer, number: string, actor: Actor): Promise<boolean> {
  const vis = await orderVisibility(db, v, number);
  if (vis === 'forbidden') {
    await deny(db, actor, {
      action: 'order.view', clientId: v.clientId, details: { order: number },
      message: `order ${number} was placed by another contact: a subordinate sees its own orders only`,
      russian: 'Это заказ другого сотрудника: вам видны только ваши заказы.',
    });
  }
  return vis !== 'absent';
}

/** Refuses (audited) ordering on credit without stage 2 rights in the legal entity. */
export async function assertCredit(db: Db, v: Viewer, legalEntityId: number, actor: Actor, rights?: ContactRights): Promise<void> {
  const r = rights ?? await loadRights(db, v);
  if (!maySeeSettlements(r, legalEntityId)) {
    await deny(db, actor, {
      action: 'order.credit', clientId: v.clientId, details: { legalEntityId },
      message: 'ordering on credit is open to the client\'s heads and to contacts whose authority a head confirmed',
      russian: 'Оплата с отсрочкой доступна руководителю и сотрудникам, чьи полномочия подтвердил руководитель. Выберите другой способ оплаты или обратитесь к руководителю.',
    });
  }
}

/** The Russian text of a back office refusal (rights, credit, approval), or undefined for other errors. */
export function russianOf(e: unknown): string | undefined {
  const r = (e as { russian?: unknown } | null)?.russian;
  return e instanceof MagistralError && typeof r === 'string' ? r : undefined;
}
