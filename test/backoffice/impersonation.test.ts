// "Work as client" as a service and over HTTP on the demo data (real PostgreSQL, a real server): only
// the manager's own clients (another's → 403, audited), the default contact, the cabinet session that
// carries the impersonation (a contact without a cabinet account too), the audit of every change, the
// order placed by the manager and what the client and the API see of it, no password change, and the
// ends: logout, «Завершить», a new impersonation, 30 minutes (expires_at moved in the database), a
// blocked manager. The audit table refuses UPDATE and DELETE.
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditTrail } from '../../src/backoffice/audit.ts';
import { endImpersonation, listImpersonations, startImpersonation, type ManagerActor } from '../../src/backoffice/impersonation.ts';
import { CabinetError } from '../../src/cabinet/errors.ts';
import { purgeExpiredSessions } from '../../src/cabinet/sessions.ts';
import { getOrder } from '../../src/orders/read.ts';
import { createApiKey } from '../../src/portal/keys.ts';
import type { Db } from '../../src/db/index.ts';
import { cabinetFixture, type CabinetFixture } from '../helpers/cabinet.ts';

let f: CabinetFixture;
let db: Db['db'];
let m1: ManagerActor;
let m2: ManagerActor;
const ids: Record<string, number> = {};

beforeAll(async () => {
  f = await cabinetFixture('impersonation');
  db = f.tp.rt.db;
  const managers = await db.selectFrom('managers').select(['id', 'code', 'name']).where('code', 'in', ['M1', 'M2']).execute();
  m1 = { id: managers.find((m) => m.code === 'M1')!.id, name: 'Ирина Петрова' };
  m2 = { id: managers.find((m) => m.code === 'M2')!.id, name: 'Олег Кузнецов' };
  for (const c of await db.selectFrom('clients').select(['id', 'code']).execute()) ids[c.code] = Number(c.id);
  for (const c of await db.selectFrom('contacts').select(['id', 'code']).execute()) ids[c.code] = Number(c.id);
  for (const c of await db.selectFrom('legal_entities').select(['id', 'code']).execute()) ids[c.code] = Number(c.id);
}, 180_000);
afterAll(async () => { await f?.close(); });

const who = { ip: '10.1.2.3', userAgent: 'vitest' };

async function refusal(p: Promise<unknown>): Promise<CabinetError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CabinetError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

/** A cabinet request with the impersonation's cookie; non-GET requests carry the session's CSRF token. */
async function cabinet(cookie: string, method: string, path: string, form?: Record<string, string | string[]>): Promise<Response> {
  const headers: Record<string, string> = { cookie: `mg_cab=${cookie}`, 'user-agent': 'vitest-browserless' };
  let body: string | undefined;
  if (method !== 'GET') {
    const csrf = (await sql<{ csrf: string }>`SELECT csrf FROM cabinet_sessions WHERE id_hash = ${createHash('sha256').update(cookie).digest('hex')}`.execute(db)).rows[0]?.csrf ?? 'none';
    const p = new URLSearchParams({ _csrf: csrf });
    for (const [k, v] of Object.entries(form ?? {})) for (const x of [v].flat()) p.append(k, x);
    body = p.toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  }
  return fetch(`${f.baseUrl}${path}`, { method, headers, body, redirect: 'manual' });
}

const impRow = async (id: number) => db.selectFrom('impersonations').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

describe('starting', () => {
  it("refuses another manager's client with 403 and audits the refusal; an unknown client is 404", async () => {
    const e = await refusal(startImpersonation(db, { manager: m2, clientId: ids.C1!, ...who }));
    expect(e.status).toBe(403);
    expect(e.message).toBe('Клиент «ГК Энергомонтаж» закреплён за другим менеджером: действие не выполнено.');
    const [entry] = await auditTrail(db, { clientId: ids.C1! }, 1);
    expect(entry).toMatchObject({ action: 'impersonation.start', outcome: 'denied', actorKind: 'manager', actorId: String(m2.id), ip: '10.1.2.3' });
    expect(await db.selectFrom('impersonations').select('id').where('manager_id', '=', m2.id).execute()).toEqual([]);
    expect((await refusal(startImpersonation(db, { manager: m1, clientId: 999999, ...who }))).status).toBe(404);
  });

  it('a client without contacts is refused with the reason; a contact or legal entity not of the client is 404', async () => {
    const c = await db.insertInto('clients').values({ code: 'C-EMPTY', name: 'Пустой клиент', manager_id: m1.id }).returning('id').executeTakeFirstOrThrow();
    const e = await refusal(startImpersonation(db, { manager: m1, clientId: Number(c.id), ...who }));
    expect(e.status).toBe(409);
    expect(e.message).toMatch(/^У клиента «Пустой клиент» нет ни одного контактного лица/);
    expect((await refusal(startImpersonation(db, { manager: m1, clientId: ids.C1!, contactId: ids.P3!, ...who }))).status).toBe(404);
    const le = await refusal(startImpersonation(db, { manager: m1, clientId: ids.C1!, contactId: ids.P2!, legalEntityId: ids.LE2!, ...who }));
    expect(le.message).toBe('Контакт Мария Орлова не действует от имени выбранного юрлица: выберите одно из его юрлиц.');
  });

  it('defaults to a head of the client, opens the cabinet with the banner, and audits the start with the address', async () => {
    const s = await startImpersonation(db, { manager: m1, clientId: ids.C1!, ...who });
    expect(s.contactId).toBe(ids.P1);
    expect(s.expiresAt.getTime() - Date.now()).toBeGreaterThan(29 * 60_000);
    expect(s.expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(30 * 60_000);
    const res = await cabinet(s.cookie, 'GET', '/cabinet/catalog');
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('id="impersonation-banner"');
    expect(html.replace(/<[^>]+>/g, '')).toMatch(/Вы работаете как клиент ГК Энергомонтаж \(А\. Смирнов\) — менеджер Ирина Петрова\.\s+Сеанс до \d\d:\d\d\./);
    const [start] = await auditTrail(db, { impersonationId: s.impersonationId });
    expect(start).toMatchObject({ action: 'impersonation.start', outcome: 'ok', actorName: 'Ирина Петрова', ip: '10.1.2.3', clientId: ids.C1 });
    await endImpersonation(db, { impersonationId: s.impersonationId, reason: 'ended', ...who });
  });

  it('works as a contact that has no cabinet account (P4 of C3)', async () => {
    expect(await db.selectFrom('cabinet_accounts').select('contact_id').where('contact_id', '=', ids.P4!).executeTakeFirst()).toBeUndefined();
    const s = await startImpersonation(db, { manager: m1, clientId: ids.C3!, ...who });
    expect(s.contactId).toBe(ids.P4);
    const html = await (await cabinet(s.cookie, 'GET', '/cabinet/cart')).text();
    expect(html.replace(/<[^>]+>/g, '')).toContain('Вы работаете как клиент Светотехника (Е. Волкова) — менеджер Ирина Петрова.');
    await endImpersonation(db, { impersonationId: s.impersonationId, reason: 'ended', ...who });
  });
});

describe('working as the client', () => {
  it('audits every change, records the order as placed by the manager, and the client and the API see it', async () => {
    const s = await startImpersonation(db, { manager: m1, clientId: ids.C1!, legalEntityId: ids.LE1!, ...who });
    expect((await cabinet(s.cookie, 'POST', '/cabinet/cart/add', { sku: 'SKU-00001', quantity: '2' })).status).toBe(303);
    const cartPage = await (await cabinet(s.cookie, 'GET', '/cabinet/cart')).text();
    const key = /name="idempotencyKey" value="([^"]+)"/.exec(cartPage)![1]!;
    const placed = await cabinet(s.cookie, 'POST', '/cabinet/checkout', { delivery: 'entity', paymentKind: 'Безналичный расчёт', idempotencyKey: key });
    expect(placed.status).toBe(303);
    const number = decodeURIComponent(/\/cabinet\/orders\/([^?]+)/.exec(placed.headers.get('location')!)![1]!);

    const o = await db.selectFrom('orders').select(['placed_by_manager_id', 'impersonation_id', 'contact_id']).where('number', '=', number).executeTakeFirstOrThrow();
    expect(o).toEqual({ placed_by_manager_id: m1.id, impersonation_id: s.impersonationId, contact_id: ids.P1 });
    expect((await getOrder(db, { clientId: ids.C1!, contactId: ids.P1! }, number))!.placedByManager).toBe('Ирина Петрова');

    const trail = await auditTrail(db, { impersonationId: s.impersonationId });
    expect(trail.map((t) => t.action)).toEqual(['order.place', 'http.post', 'impersonation.start']);
    expect(trail[1]!.details).toMatchObject({ method: 'POST', route: '/cabinet/cart/add', status: 303, fields: { sku: 'SKU-00001', quantity: '2' } });
    expect(trail[1]!.details.fields).not.toHaveProperty('_csrf');
    expect(trail[0]).toMatchObject({ ip: '127.0.0.1', actorName: 'Ирина Петрова', clientId: ids.C1, details: { order: number, route: '/cabinet/checkout', status: 303 } });

    // The client's own order page says who placed it; the portal API says it too.
    const page = await (await cabinet(s.cookie, 'GET', `/cabinet/orders/${encodeURIComponent(number)}`)).text();
    expect(page).toContain('Оформлен вашим менеджером Ирина Петрова');
    const api = await createApiKey(db, { name: 'imp-test', scopes: ['orders:read'], clientCode: 'C1' });
    const res = await fetch(`${f.baseUrl}/api/v1/orders/${encodeURIComponent(number)}`, { headers: { authorization: `Bearer ${api.key}` } });
    expect(res.status).toBe(200);
    expect((await res.json() as { placedByManager: string | null }).placedByManager).toBe('Ирина Петрова');
    const list = await fetch(`${f.baseUrl}/api/v1/orders?limit=5`, { headers: { authorization: `Bearer ${api.key}` } });
    expect(((await list.json()) as { orders: Array<{ number: string; placedByManager: string | null }> }).orders.find((x) => x.number === number)?.placedByManager).toBe('Ирина Петрова');

    // Logout ends the impersonation and leads back to the client's card in /manager.
    const out = await cabinet(s.cookie, 'POST', '/cabinet/logout');
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe(`/manager/clients/${ids.C1}?impersonation=logout`);
    expect(await impRow(s.impersonationId)).toMatchObject({ end_reason: 'logout' });
    expect((await auditTrail(db, { impersonationId: s.impersonationId }, 1))[0]).toMatchObject({ action: 'impersonation.end', details: { reason: 'logout' } });
    expect(await db.selectFrom('cabinet_sessions').select('id_hash').where('impersonation_id', '=', s.impersonationId).execute()).toEqual([]);
  });

  it('a refusal of rights while working as a subordinate is the manager\'s in the audit, within the impersonation', async () => {
    // An order of the head (P1) that the subordinate P2 may not open.
    const le1 = await db.selectFrom('legal_entities').select('id').where('code', '=', 'LE1').executeTakeFirstOrThrow();
    const n = `IMP-${Date.now()}`;
    await db.insertInto('orders').values({ number: n, client_id: ids.C1!, legal_entity_id: Number(le1.id), contact_id: ids.P1!, currency: 'RUB', total: '10.00' }).execute();
    const s = await startImpersonation(db, { manager: m1, clientId: ids.C1!, contactId: ids.P2!, ...who });
    const res = await cabinet(s.cookie, 'GET', `/cabinet/orders/${n}`);
    expect(res.status).toBe(403);
    const denied = (await auditTrail(db, { clientId: ids.C1! }, 20)).find((a) => a.outcome === 'denied' && a.details.order === n);
    expect(denied).toMatchObject({ actorKind: 'manager', actorId: String(m1.id), impersonationId: s.impersonationId });
    await endImpersonation(db, { impersonationId: s.impersonationId, reason: 'ended', ...who });
  });

  it("refuses to change the contact's password (page and service), and says why", async () => {
    const s = await startImpersonation(db, { manager: m1, clientId: ids.C1!, ...who });
    const page = await (await cabinet(s.cookie, 'GET', '/cabinet/account')).text();
    expect(page).toContain('Вы работаете как клиент: пароль, адрес электронной почты и настройки уведомлений контакта может изменить только он сам.');
    expect(page).not.toContain('name="current"');
    // The notification settings are shown, not changeable.
    const prefsBefore = (await db.selectFrom('cabinet_accounts').select('prefs').where('contact_id', '=', ids.P1!).executeTakeFirstOrThrow()).prefs;
    const notif = await cabinet(s.cookie, 'POST', '/cabinet/account/notifications', { present: '1' });
    expect(notif.status).toBe(403);
    expect((await db.selectFrom('cabinet_accounts').select('prefs').where('contact_id', '=', ids.P1!).executeTakeFirstOrThrow()).prefs).toEqual(prefsBefore);
    const hashBefore = (await db.selectFrom('cabinet_accounts').select('password_hash').where('contact_id', '=', ids.P1!).executeTakeFirstOrThrow()).password_hash;
    const res = await cabinet(s.cookie, 'POST', '/cabinet/account/password', { current: 'Пароль-head-1', password: 'Новый-пароль-9', password2: 'Новый-пароль-9' });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('может изменить только он сам');
    expect((await db.selectFrom('cabinet_accounts').select('password_hash').where('contact_id', '=', ids.P1!).executeTakeFirstOrThrow()).password_hash).toBe(hashBefore);
    const [denied] = await auditTrail(db, { impersonationId: s.impersonationId }, 1);
    expect(denied).toMatchObject({ action: 'http.post', outcome: 'denied', details: { route: '/cabinet/account/password', status: 403 } });
    expect(denied!.details.fields).toBeUndefined(); // the passwords typed are never written
    await endImpersonation(db, { impersonationId: s.impersonationId, reason: 'ended', ...who });
  });
});

describe('ending', () => {
  it('after 30 minutes (expires_at moved back) the next request ends it: the page goes back to the card, a form post is refused', async () => {
    const s = await startImpersonation(db, { manager: m1, clientId: ids.C1!, ...who });
    await sql`UPDATE impersonations SET expires_at = now() - interval '1 second' WHERE id = ${s.impersonationId}`.execute(db);
    const res = await cabinet(s.cookie, 'GET', '/cabinet/cart');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/manager/clients/${ids.C1}?impersonation=expired`);
    expect(await impRow(s.impersonationId)).toMatchObject({ end_reason: 'expired' });
    expect((await auditTrail(db, { impersonationId: s.impersonationId }, 1))[0]).toMatchObject({ action: 'impersonation.end', actorKind: 'system', details: { reason: 'expired' } });
    // The same cookie again: an anonymous visitor now, nothing of the contact.
    const again = await cabinet(s.cookie, 'GET', '/cabinet/cart');
    expect(again.headers.get('location')).toMatch(/^\/cabinet\/login/);

    const s2 = await startImpersonation(db, { manager: m1, clientId: ids.C1!, ...who });
    const lines = async () => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM cart_lines WHERE contact_id = ${ids.P1}`.execute(db)).rows[0]!.n;
    const before = await lines();
    await sql`UPDATE impersonations SET expires_at = now() - interval '1 second' WHERE id = ${s2.impersonationId}`.execute(db);
    const post = await cabinet(s2.cookie, 'POST', '/cabinet/cart/add', { sku: 'SKU-00002', quantity: '1' });
    expect(post.status).toBe(409);
    expect(await post.text()).toContain('Сеанс работы как клиент завершён: прошло 30 минут. Действие не выполнено');
    expect(await lines()).toBe(before);
  });

  it('a new impersonation replaces the open one; «Завершить» ends it and returns to the card', async () => {
    const a = await startImpersonation(db, { manager: m1, clientId: ids.C1!, ...who });
    const b = await startImpersonation(db, { manager: m1, clientId: ids.C3!, ...who });
    expect(await impRow(a.impersonationId)).toMatchObject({ end_reason: 'replaced' });
    expect((await cabinet(a.cookie, 'GET', '/cabinet/cart')).headers.get('location')).toBe(`/manager/clients/${ids.C1}?impersonation=ended`);
    const end = await cabinet(b.cookie, 'POST', '/cabinet/impersonation/end');
    expect(end.status).toBe(303);
    expect(end.headers.get('location')).toBe(`/manager/clients/${ids.C3}?impersonation=ended`);
    expect(await impRow(b.impersonationId)).toMatchObject({ end_reason: 'ended' });
    const hist = await listImpersonations(db, m1.id, { limit: 2 });
    expect(hist.map((h) => [h.id, h.state])).toEqual([[b.impersonationId, 'ended'], [a.impersonationId, 'replaced']]);
  });

  it("a blocked manager's impersonation stops at the next request", async () => {
    await db.insertInto('manager_accounts').values({ manager_id: m1.id, email: 'i.petrova@magistral.example' })
      .onConflict((oc) => oc.column('manager_id').doNothing()).execute();
    const s = await startImpersonation(db, { manager: m1, clientId: ids.C1!, ...who });
    await db.updateTable('manager_accounts').set({ disabled: true }).where('manager_id', '=', m1.id).execute();
    try {
      const res = await cabinet(s.cookie, 'GET', '/cabinet/cart');
      expect(res.headers.get('location')).toBe(`/manager/clients/${ids.C1}?impersonation=ended`);
      expect(await impRow(s.impersonationId)).toMatchObject({ end_reason: 'ended' });
    } finally {
      await db.updateTable('manager_accounts').set({ disabled: false }).where('manager_id', '=', m1.id).execute();
    }
  });
});

describe('the purge', () => {
  it('records an impersonation that ran out with nobody asking since as expired, and removes its session', async () => {
    const s = await startImpersonation(db, { manager: m1, clientId: ids.C3!, ...who });
    await sql`UPDATE impersonations SET expires_at = now() - interval '1 minute' WHERE id = ${s.impersonationId}`.execute(db);
    await sql`UPDATE cabinet_sessions SET expires_at = now() - interval '1 minute' WHERE impersonation_id = ${s.impersonationId}`.execute(db);
    await purgeExpiredSessions(db);
    expect(await impRow(s.impersonationId)).toMatchObject({ end_reason: 'expired' });
    expect(await db.selectFrom('cabinet_sessions').select('id_hash').where('impersonation_id', '=', s.impersonationId).execute()).toEqual([]);
    expect((await listImpersonations(db, m1.id, { limit: 1 }))[0]).toMatchObject({ id: s.impersonationId, state: 'expired' });
    // The end is in the trail as when a request finds it expired: once, by the system, with the manager.
    const trail = await auditTrail(db, { impersonationId: s.impersonationId });
    expect(trail.filter((e) => e.action === 'impersonation.end').map((e) => [e.actorKind, e.details])).toEqual([['system', { reason: 'expired', managerId: m1.id }]]);
    await purgeExpiredSessions(db);
    expect((await auditTrail(db, { impersonationId: s.impersonationId })).filter((e) => e.action === 'impersonation.end')).toHaveLength(1);
  });

  it("a manager working as the client cannot send the «write to manager» message (it would go to the manager as the contact)", async () => {
    const s = await startImpersonation(db, { manager: m1, clientId: ids.C1!, ...who });
    const before = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM email_outbox WHERE kind = 'manager-message'`.execute(db)).rows[0]!.n;
    const res = await cabinet(s.cookie, 'POST', '/cabinet/manager/message', { message: 'Проверка' });
    expect(res.status).toBe(403);
    expect((await sql<{ n: number }>`SELECT count(*)::int AS n FROM email_outbox WHERE kind = 'manager-message'`.execute(db)).rows[0]!.n).toBe(before);
    await endImpersonation(db, { impersonationId: s.impersonationId, reason: 'ended', ...who });
  });
});

describe('the audit log', () => {
  it('refuses UPDATE and DELETE', async () => {
    await expect(sql`UPDATE audit_log SET action = 'x'`.execute(db)).rejects.toThrow(/append-only/);
    await expect(sql`DELETE FROM audit_log`.execute(db)).rejects.toThrow(/append-only/);
    expect((await sql<{ n: number }>`SELECT count(*)::int AS n FROM audit_log WHERE action = 'x'`.execute(db)).rows[0]!.n).toBe(0);
  });
});
