// What a manager's workplace reads about the manager's own clients: the list (search, paging, recent
// orders, pending orders), a client's card (legal entities with requisites, contacts and their cabinet
// status, agreements, recent orders), the orders of the manager's clients, and sign-ups to decide. Every
// query is bounded by the manager: another manager's client is refused (assertOwnClient, audited).
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { decideSignup, inviteContact, type Invitation } from '../cabinet/accounts.ts';
import { CabinetError } from '../cabinet/errors.ts';
import { decodeCursor, encodeCursor } from '../orders/read.ts';
import { audit, type Actor } from './audit.ts';
import type { ManagerActor } from './impersonation.ts';
import { assertOwnClient } from './managers.ts';

type Db = Kysely<Database>;

/** Where a manager's request came from (the audit records it). */
export interface RequestOrigin {
  ip: string | null;
  userAgent: string | null;
}

export interface ManagerClientRow {
  id: number;
  code: string;
  name: string;
  city: string | null;
  legalEntities: string[];
  orders30d: number;
  lastOrder: { number: string; at: Date } | null;
  /** Orders placed and not in a final status (not completed, not cancelled). */
  openOrders: number;
  pending: boolean;
  blocked: boolean;
}

export interface ManagerClientPage {
  rows: ManagerClientRow[];
  total: number;
  page: number;
  pages: number;
}

const actor = (m: ManagerActor, o: RequestOrigin): Actor & { kind: 'manager' } => ({ kind: 'manager', id: m.id, name: m.name, ip: o.ip, userAgent: o.userAgent });

const likeOf = (q: string): string => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** The manager's clients, by name; `q` finds a name, a code or an INN (of any of the client's legal entities). */
export async function listManagerClients(db: Db, managerId: number, opts: { q?: string; page?: number; pageSize?: number } = {}): Promise<ManagerClientPage> {
  const size = Math.min(100, Math.max(5, opts.pageSize ?? 25));
  const q = (opts.q ?? '').trim().slice(0, 100);
  const filter = q
    ? sql`AND (cl.name ILIKE ${likeOf(q)} OR cl.code ILIKE ${likeOf(q)}
        OR EXISTS (SELECT 1 FROM legal_entities le WHERE le.client_id = cl.id AND NOT le.deleted AND (le.inn LIKE ${likeOf(q.replace(/\s/g, ''))} OR le.name ILIKE ${likeOf(q)})))`
    : sql``;
  const total = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM clients cl WHERE cl.manager_id = ${managerId} AND NOT cl.placeholder ${filter}`.execute(db)).rows[0]!.n;
  const pages = Math.max(1, Math.ceil(total / size));
  const page = Math.min(pages, Math.max(1, Math.floor(opts.page ?? 1)));
  const rows = (await sql<{
    id: string; code: string; name: string; city: string | null; les: string[] | null; orders30d: number; last_number: string | null; last_at: Date | null;
    open_orders: number; pending: boolean; blocked: boolean;
  }>`
    SELECT cl.id::text, cl.code, cl.name, ci.name AS city, cl.pending, cl.blocked,
      (SELECT array_agg(le.name ORDER BY le.name) FROM legal_entities le WHERE le.client_id = cl.id AND NOT le.deleted AND NOT le.placeholder) AS les,
      (SELECT count(*)::int FROM orders o WHERE o.client_id = cl.id AND o.created_at > now() - interval '30 days') AS orders30d,
      lo.number AS last_number, lo.created_at AS last_at,
      (SELECT count(*)::int FROM orders o JOIN order_statuses st ON st.code = o.status WHERE o.client_id = cl.id AND NOT st.final AND NOT o.cancelled) AS open_orders
    FROM clients cl
    LEFT JOIN cities ci ON ci.id = cl.city_id
    LEFT JOIN LATERAL (SELECT o.number, o.created_at FROM orders o WHERE o.client_id = cl.id ORDER BY o.id DESC LIMIT 1) lo ON true
    WHERE cl.manager_id = ${managerId} AND NOT cl.placeholder ${filter}
    ORDER BY cl.name, cl.id LIMIT ${size} OFFSET ${(page - 1) * size}`.execute(db)).rows;
  return {
    total, page, pages,
    rows: rows.map((r) => ({
      id: Number(r.id), code: r.code, name: r.name, city: r.city, legalEntities: r.les ?? [], orders30d: r.orders30d,
      lastOrder: r.last_number && r.last_at ? { number: r.last_number, at: r.last_at } : null, openOrders: r.open_orders, pending: r.pending, blocked: r.blocked,
    })),
  };
}

/** A contact's cabinet access, as the manager's card shows it. */
export type CabinetStatus = 'none' | 'invited' | 'never' | 'active' | 'disabled';

export interface ClientCard {
  client: { id: number; code: string; name: string; city: string | null; email: string | null; phone: string | null; pending: boolean; blocked: boolean };
  legalEntities: Array<{
    id: number; code: string; name: string; fullName: string | null; inn: string | null; kpp: string | null; ogrn: string | null; address: string | null;
    bankName: string | null; bik: string | null; account: string | null; corrAccount: string | null;
  }>;
  contacts: Array<{
    id: number; code: string; name: string; email: string | null; phone: string | null; position: string | null;
    roles: Array<{ legalEntityId: number; legalEntity: string; role: 'head' | 'subordinate' }>;
    cabinet: CabinetStatus; lastLoginAt: Date | null; invitedAt: Date | null;
  }>;
  agreements: Array<{ code: string; name: string; legalEntity: string | null; priceType: string | null; discountPercent: string; creditLimit: string | null; paymentDelayDays: number | null; currency: string | null }>;
  recentOrders: ManagerOrderRow[];
}

/** A client's card for its manager (others: 403 audited, unknown: 404). */
export async function clientCard(db: Db, m: ManagerActor, clientId: number, origin: RequestOrigin): Promise<ClientCard> {
  await assertOwnClient(db, actor(m, origin), clientId, 'client.view');
  const c = await sql<{ id: string; code: string; name: string; city: string | null; email: string | null; phone: string | null; pending: boolean; blocked: boolean }>`
    SELECT cl.id::text, cl.code, cl.name, ci.name AS city, cl.email, cl.phone, cl.pending, cl.blocked
    FROM clients cl LEFT JOIN cities ci ON ci.id = cl.city_id WHERE cl.id = ${clientId}`.execute(db);
  const client = c.rows[0]!;
  const legalEntities = await db.selectFrom('legal_entities')
    .select(['id', 'code', 'name', 'full_name', 'inn', 'kpp', 'ogrn', 'address', 'bank_name', 'bik', 'account', 'corr_account'])
    .where('client_id', '=', clientId).where('deleted', '=', false).where('placeholder', '=', false).orderBy('name').execute();
  const contacts = (await sql<{
    id: string; code: string; name: string; email: string | null; phone: string | null; position: string | null;
    roles: Array<{ legalEntityId: number; legalEntity: string; role: 'head' | 'subordinate' }> | null;
    has_account: boolean; has_password: boolean; disabled: boolean | null; last_login_at: Date | null; invited_at: Date | null;
  }>`
    SELECT ct.id::text, ct.code, ct.name, coalesce(a.email, ct.email) AS email, ct.phone, ct.position,
      (SELECT json_agg(json_build_object('legalEntityId', le.id, 'legalEntity', le.name, 'role', cle.role) ORDER BY le.name)
        FROM contact_legal_entities cle JOIN legal_entities le ON le.id = cle.legal_entity_id
        WHERE cle.contact_id = ct.id AND le.client_id = ct.client_id AND NOT le.deleted) AS roles,
      a.contact_id IS NOT NULL AS has_account, a.password_hash IS NOT NULL AS has_password, a.disabled, a.last_login_at,
      (SELECT max(t.created_at) FROM cabinet_tokens t WHERE t.contact_id = ct.id AND t.kind = 'invite') AS invited_at
    FROM contacts ct LEFT JOIN cabinet_accounts a ON a.contact_id = ct.id
    WHERE ct.client_id = ${clientId} AND NOT ct.deleted AND NOT ct.placeholder
    ORDER BY ct.name, ct.id`.execute(db)).rows;
  const agreements = (await sql<{ code: string; name: string; le: string | null; pt: string | null; discount: string; credit_limit: string | null; delay: number | null; currency: string | null }>`
    SELECT ag.code, ag.name, le.name AS le, pt.name AS pt, trim_scale(ag.discount_percent)::text AS discount, ag.credit_limit::text, ag.payment_delay_days AS delay, ag.currency
    FROM agreements ag LEFT JOIN legal_entities le ON le.id = ag.legal_entity_id LEFT JOIN price_types pt ON pt.id = ag.price_type_id
    WHERE ag.client_id = ${clientId} AND NOT ag.deleted AND NOT ag.placeholder ORDER BY ag.name`.execute(db)).rows;
  const recent = await listManagerOrders(db, m.id, { clientId, limit: 10 });
  return {
    client: { id: Number(client.id), code: client.code, name: client.name, city: client.city, email: client.email, phone: client.phone, pending: client.pending, blocked: client.blocked },
    legalEntities: legalEntities.map((l) => ({
      id: Number(l.id), code: l.code, name: l.name, fullName: l.full_name, inn: l.inn, kpp: l.kpp, ogrn: l.ogrn, address: l.address,
      bankName: l.bank_name, bik: l.bik, account: l.account, corrAccount: l.corr_account,
    })),
    contacts: contacts.map((x) => ({
      id: Number(x.id), code: x.code, name: x.name, email: x.email, phone: x.phone, position: x.position, roles: x.roles ?? [],
      cabinet: !x.has_account ? 'none' : x.disabled ? 'disabled' : !x.has_password ? 'invited' : x.last_login_at ? 'active' : 'never',
      lastLoginAt: x.last_login_at, invitedAt: x.invited_at,
    })),
    agreements: agreements.map((a) => ({
      code: a.code, name: a.name, legalEntity: a.le, priceType: a.pt, discountPercent: a.discount, creditLimit: a.credit_limit, paymentDelayDays: a.delay, currency: a.currency,
    })),
    recentOrders: recent.orders,
  };
}

/** Invites a contact of the manager's own client to the cabinet (an e-mail with the link), audited. */
export async function inviteClientContact(db: Db, m: ManagerActor, clientId: number, contactId: number, publicUrl: string, origin: RequestOrigin): Promise<Invitation> {
  await assertOwnClient(db, actor(m, origin), clientId, 'contact.invite');
  const c = await db.selectFrom('contacts').select(['code', 'name']).where('id', '=', contactId).where('client_id', '=', clientId)
    .where('deleted', '=', false).where('placeholder', '=', false).executeTakeFirst();
  if (!c) throw new CabinetError(404, 'Такого контактного лица у клиента нет.');
  const inv = await inviteContact(db, { contactCode: c.code, publicUrl });
  await audit(db, { kind: 'manager', id: m.id, name: m.name, ...origin }, { action: 'contact.invite', clientId, details: { contactId, contact: c.name, email: inv.email } });
  return inv;
}

export interface ManagerOrderRow {
  number: string;
  clientId: number;
  client: string;
  legalEntity: string;
  status: { code: string; name: string; final: boolean };
  total: string;
  currency: string;
  createdAt: Date;
  origin: 'portal' | 'offline';
  contactName: string | null;
  /** The manager who placed it working as the client. */
  placedByManager: string | null;
  approval: 'waiting' | 'approved' | 'rejected' | null;
}

export interface ManagerOrderQuery {
  status?: string;
  clientId?: number;
  /** YYYY-MM-DD, placed on or after (Moscow time is not assumed: UTC days, like the portal API). */
  from?: string;
  to?: string;
  limit?: number;
  cursor?: string;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const validDay = (d: string): boolean => DAY.test(d) && !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d);

/** Orders of the manager's clients, newest first (keyset paging). */
export async function listManagerOrders(db: Db, managerId: number, q: ManagerOrderQuery = {}): Promise<{ orders: ManagerOrderRow[]; nextCursor: string | null }> {
  const limit = Math.min(200, Math.max(1, q.limit ?? 50));
  for (const d of [q.from, q.to]) if (d !== undefined && !validDay(d)) throw new CabinetError(400, `Дата «${d}» не похожа на дату: укажите её как ДД.ММ.ГГГГ.`);
  const before = q.cursor ? (() => {
    try { return decodeCursor(q.cursor!); } catch { throw new CabinetError(400, 'Ссылка на страницу списка устарела: откройте список заново.'); }
  })() : undefined;
  const rows = (await sql<{
    id: string; number: string; client_id: string; client: string; le: string; status: string; status_name: string; final: boolean; total: string; currency: string;
    created_at: Date; origin: 'portal' | 'offline'; contact_name: string | null; manager_name: string | null; approval: ManagerOrderRow['approval'];
  }>`
    SELECT o.id::text, o.number, o.client_id::text, cl.name AS client, le.name AS le, o.status, st.name AS status_name, st.final, o.total::text, o.currency,
      o.created_at, o.origin, ct.name AS contact_name, pm.name AS manager_name, o.approval
    FROM orders o JOIN clients cl ON cl.id = o.client_id JOIN legal_entities le ON le.id = o.legal_entity_id
    JOIN order_statuses st ON st.code = o.status
    LEFT JOIN contacts ct ON ct.id = o.contact_id LEFT JOIN managers pm ON pm.id = o.placed_by_manager_id
    WHERE cl.manager_id = ${managerId}
      ${q.clientId !== undefined ? sql`AND o.client_id = ${q.clientId}` : sql``}
      ${q.status !== undefined ? sql`AND o.status = ${q.status}` : sql``}
      ${q.from !== undefined ? sql`AND o.created_at >= ${q.from}::date::timestamptz` : sql``}
      ${q.to !== undefined ? sql`AND o.created_at < (${q.to}::date + 1)::timestamptz` : sql``}
      ${before !== undefined ? sql`AND o.id < ${before}` : sql``}
    ORDER BY o.id DESC LIMIT ${limit + 1}`.execute(db)).rows;
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  return {
    orders: page.map((r) => ({
      number: r.number, clientId: Number(r.client_id), client: r.client, legalEntity: r.le, status: { code: r.status, name: r.status_name, final: r.final },
      total: r.total, currency: r.currency, createdAt: r.created_at, origin: r.origin, contactName: r.contact_name, placedByManager: r.manager_name, approval: r.approval,
    })),
    nextCursor: more ? encodeCursor(Number(page[page.length - 1]!.id)) : null,
  };
}

/** The client of an order, when the order exists and its client is the manager's (others: 403 audited; none: 404). */
export async function managersOrderClient(db: Db, m: ManagerActor, number: string, origin: RequestOrigin): Promise<number> {
  const o = await db.selectFrom('orders').select('client_id').where('number', '=', number.slice(0, 64)).executeTakeFirst();
  if (!o) throw new CabinetError(404, `Заказ ${number} не найден.`);
  await assertOwnClient(db, actor(m, origin), Number(o.client_id), 'order.view');
  return Number(o.client_id);
}

export interface SignupRow {
  id: number;
  company: string;
  inn: string;
  kpp: string | null;
  contactName: string;
  email: string;
  phone: string | null;
  city: string | null;
  createdAt: Date;
  /** The sign-up's city is one where the manager has clients (or it named no city). */
  mine: boolean;
}

/**
 * Pending sign-ups, oldest first. 'mine': those of the cities where the manager has clients (and those
 * that named no city) — managers work by region; 'all': every pending one (any manager may decide it).
 */
export async function listPendingSignups(db: Db, managerId: number, scope: 'mine' | 'all'): Promise<SignupRow[]> {
  const rows = (await sql<{
    id: string; company: string; inn: string; kpp: string | null; contact_name: string; email: string; phone: string | null; city: string | null; created_at: Date; mine: boolean;
  }>`
    SELECT s.id::text, s.company, s.inn, s.kpp, s.contact_name, s.email, s.phone, ci.name AS city, s.created_at,
      (s.city_id IS NULL OR s.city_id IN (SELECT cl.city_id FROM clients cl WHERE cl.manager_id = ${managerId} AND cl.city_id IS NOT NULL)) AS mine
    FROM cabinet_signups s LEFT JOIN cities ci ON ci.id = s.city_id
    WHERE s.status = 'pending'
    ORDER BY s.created_at, s.id`.execute(db)).rows;
  return rows.filter((r) => scope === 'all' || r.mine).map((r) => ({
    id: Number(r.id), company: r.company, inn: r.inn, kpp: r.kpp, contactName: r.contact_name, email: r.email, phone: r.phone, city: r.city, createdAt: r.created_at, mine: r.mine,
  }));
}

/** Approves (the client becomes this manager's) or rejects a sign-up; audited in the decision's transaction. */
export async function decideSignupAsManager(db: Db, m: ManagerActor, signupId: number, decision: { approve: boolean; reason?: string }, origin: RequestOrigin): Promise<void> {
  const reason = decision.reason?.trim().slice(0, 1000) || undefined;
  if (!decision.approve && !reason) throw new CabinetError(400, 'Укажите причину отказа: её получит заявитель.', 'reason');
  await decideSignup(db, signupId, { approve: decision.approve, by: m.name, ...(reason ? { reason } : {}), manager: actor(m, origin) });
}
