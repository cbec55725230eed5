// Rights, settlements and credit lines on the demo data set loaded through the real CSV flows (receivables
// and settlement entries included): the head's and the subordinate's views through the portal API, 403s
// audited, the credit rule inside placeOrder (API), its lock against two concurrent orders, the head's
// approval holding an order from the ERP, receivables snapshot and delta through real flows, and the
// debt and limit notifications written once.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/portal/keys.ts';
import { KNOWN_SCOPES } from '../../src/portal/keys.ts';
import { CREDIT_PAYMENT_KIND, CreditBlockedError, creditStatus, creditSummaries } from '../../src/backoffice/credit.ts';
import { settlementNotices } from '../../src/backoffice/credit-notices.ts';
import { decideApproval, waitingApprovals } from '../../src/backoffice/approvals.ts';
import { placeOrder } from '../../src/orders/place.ts';
import { ordersPort } from '../../src/orders/outbound.ts';
import { cabinetFixture, type CabinetFixture } from '../helpers/cabinet.ts';
import { reconciliationAct } from '../../src/backoffice/reconciliation.ts';

let fx: CabinetFixture;
let db: CabinetFixture['tp']['rt']['db'];
let key: string;
const ids: Record<string, number> = {};

beforeAll(async () => {
  fx = await cabinetFixture('bocredit');
  db = fx.tp.rt.db;
  key = (await createApiKey(db, { name: 'frontend', scopes: [...KNOWN_SCOPES] })).key;
  await fx.tp.applyFlowFile('ops/flows/receivables-delta-csv.yaml');
  ids.spb = Number((await sql<{ id: string }>`SELECT id::text FROM cities WHERE code = 'spb'`.execute(db)).rows[0]!.id);
  for (const [t, codes] of [['contacts', ['P1', 'P2', 'P3']], ['legal_entities', ['LE1', 'LE2', 'LE3']], ['clients', ['C1', 'C2']], ['agreements', ['A1', 'A2', 'A3']]] as const) {
    for (const c of codes) ids[c] = Number((await sql<{ id: string }>`SELECT id::text FROM ${sql.table(t)} WHERE code = ${c}`.execute(db)).rows[0]!.id);
  }
}, 180_000);
afterAll(async () => { await fx?.close(); });

const api = (method: 'GET' | 'POST', url: string, contact: string, payload?: object) =>
  fx.app.inject({ method, url, headers: { 'x-api-key': key, 'x-contact-id': contact }, ...(payload ? { payload } : {}) });

const denied = async (action: string) => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM audit_log WHERE action = ${action} AND outcome = 'denied'`.execute(db)).rows[0]!.n;
const mails = async (kind: string) => (await sql<{ to_address: string; subject: string; dedupe_key: string | null }>`
  SELECT to_address, subject, dedupe_key FROM email_outbox WHERE kind = ${kind} ORDER BY id`.execute(db)).rows;

describe('settlements from the ERP through real flows', () => {
  it('gives C1 its debt with one overdue document (blocked) and C2 a limit 92 % used', async () => {
    const c1 = await creditStatus(db, { clientId: ids.C1!, legalEntityId: ids.LE1! });
    expect(c1).toMatchObject({ agreement: { code: 'A1' }, limit: '1000000.00', debt: '234000.50', openOrders: '0.00', available: '765999.50', blocked: true, reasonCode: 'overdue' });
    expect(c1.overdue.amount).toBe('150000.00');
    expect(c1.overdue.documents).toBe(1);
    expect(c1.reason).toMatch(/^Есть просроченная задолженность: 150\s000,00\s₽, просрочка до \d+ (день|дня|дней)\. Оформление с отсрочкой платежа заблокировано/);
    const c2 = await creditStatus(db, { clientId: ids.C2!, legalEntityId: ids.LE3! });
    expect(c2).toMatchObject({ limit: '100000.00', debt: '92000.00', usedPercent: 92, available: '8000.00', blocked: false });
    const sums = await creditSummaries(db, [ids.C1!, ids.C2!]);
    expect(sums.get(ids.C1!)).toMatchObject({ debt: '276000.50', overdue: '150000.00', blocked: true });
    expect(sums.get(ids.C2!)).toMatchObject({ debt: '92000.00', available: '8000.00', blocked: false });
  });

  it('wrote each debt notification once (heads and the manager) and the 90 % crossing once', async () => {
    // The merge's hook wrote them; a second pass (the workers' timer) writes nothing more.
    const before = await mails('debt');
    expect(before.length).toBeGreaterThan(0);
    expect(before.filter((m) => m.to_address === 'a.smirnov@energomontazh.example').map((m) => m.subject)).toEqual(expect.arrayContaining([
      expect.stringMatching(/^Просрочена оплата: Реализация товаров № РТ-101 от 01\.09\.2026$/),
      expect.stringMatching(/^Задолженность по документу Реализация товаров № РТ-145/),
    ]));
    // The subordinate (stage 1) is not told about the holding's debts.
    expect(before.some((m) => m.to_address === 'm.orlova@energomontazh.example')).toBe(false);
    const limit = await mails('credit-limit');
    expect(limit.map((m) => m.to_address)).toContain('sidorov@example.ru');
    expect(limit.filter((m) => m.to_address === 'sidorov@example.ru')[0]!.subject).toBe('Кредитный лимит почти исчерпан (92 %): Договор № 15 (скидка 5 %)');
    await settlementNotices(db);
    expect((await mails('debt')).length).toBe(before.length);
    expect((await mails('credit-limit')).length).toBe(limit.length);

    // A document becomes overdue by the calendar (no merge says so): the timer's pass notices it once.
    await sql`UPDATE receivables SET due_date = current_date - 3 WHERE document = 'RT-0003'`.execute(db);
    await settlementNotices(db);
    const overdue = (await mails('debt')).filter((m) => m.subject.includes('Просрочена оплата: Реализация товаров № РТ-150'));
    expect(overdue.map((m) => m.to_address).sort()).toEqual(['a.smirnov@energomontazh.example', 'i.petrova@magistral.example']);
    await settlementNotices(db);
    expect((await mails('debt')).filter((m) => m.subject.includes('Просрочена оплата: Реализация товаров № РТ-150'))).toHaveLength(2);
  });

  it('takes a delta (one document paid) without a snapshot, and a snapshot per legal entity', async () => {
    const delta = await fx.tp.ingest('receivables-delta-csv', Buffer.from('legal_entity;document;owed\nLE1;RT-0001;0\n'), 'paid.csv');
    expect(delta.state).toBe('done');
    const c1 = await creditStatus(db, { clientId: ids.C1!, legalEntityId: ids.LE1! });
    expect(c1).toMatchObject({ debt: '84000.50', overdue: { amount: '0.00', documents: 0 }, blocked: false });
    // A snapshot naming LE2 only replaces LE2's documents; LE1 and C2 keep theirs.
    const snap = await fx.tp.ingest('receivables-csv', Buffer.from('legal_entity;document;agreement;owed;due_date\nLE2;RT-0009;A2;1000.00;2027-12-31\n'), 'le2.csv');
    expect(snap.state).toBe('done');
    const docs = (await sql<{ code: string; document: string; owed: string }>`
      SELECT le.code, r.document, r.owed::text FROM receivables r JOIN legal_entities le ON le.id = r.legal_entity_id ORDER BY 1, 2`.execute(db)).rows;
    expect(docs).toEqual([
      { code: 'LE1', document: 'RT-0001', owed: '0.00' }, { code: 'LE1', document: 'RT-0002', owed: '84000.50' },
      { code: 'LE2', document: 'RT-0009', owed: '1000.00' }, { code: 'LE3', document: 'RT-0101', owed: '92000.00' },
    ]);
    // An unknown legal entity is rejected with its line, nothing else lost.
    const bad = await fx.tp.ingest('receivables-delta-csv', Buffer.from('legal_entity;document;owed\nLE9;X-1;5\n'), 'bad.csv');
    expect(bad.rows.rejected).toBe(1);
    expect((await sql<{ reason: string }>`SELECT reason FROM rejects WHERE run_id = ${bad.id}`.execute(db)).rows[0]!.reason).toContain("unknown legal entity 'LE9'");
    // Put LE1's overdue document back for the tests below.
    expect((await fx.tp.ingest('receivables-delta-csv', Buffer.from('legal_entity;document;agreement;kind;number;date;owed;due_date\nLE1;RT-0001;A1;Реализация товаров;РТ-101;2026-09-01;150000.00;2026-10-01\n'), 'back.csv')).state).toBe('done');
  });
});

describe('the reconciliation act', () => {
  it('sums the opening balance, the period\'s turnover and the closing balance on numeric, per agreement', async () => {
    const act = await reconciliationAct(db, { legalEntityId: ids.LE3!, agreementId: ids.A3!, from: '2026-10-15', to: '2026-11-30' });
    expect(act).toMatchObject({ opening: '30000.00', debitTotal: '92000.00', creditTotal: '30000.00', closing: '92000.00', currency: 'RUB', agreement: { code: 'A3' } });
    expect(act.lines.map((l) => [l.date, l.documentNumber, l.debit, l.credit])).toEqual([['2026-10-20', 'ПП-77', '0.00', '30000.00'], ['2026-11-10', 'РТ-160', '92000.00', '0.00']]);
    // Another agreement of the same legal entity has no movements: everything zero, no line.
    const none = await reconciliationAct(db, { legalEntityId: ids.LE3!, agreementId: ids.A1!, from: '2026-01-01', to: '2026-12-31' });
    expect(none).toMatchObject({ opening: '0.00', debitTotal: '0.00', creditTotal: '0.00', closing: '0.00', lines: [] });
  });
});

describe('rights through the portal API', () => {
  it('shows the balance to the head and refuses the subordinate (403, audited)', async () => {
    const head = await api('GET', '/api/v1/me/balance', 'P1');
    expect(head.statusCode).toBe(200);
    const body = head.json() as { legalEntities: Array<{ code: string; credit: { debt: string; blocked: boolean }; documents: unknown[] }> };
    expect(body.legalEntities.map((e) => e.code).sort()).toEqual(['LE1', 'LE2']);
    expect(body.legalEntities.find((e) => e.code === 'LE1')!.credit).toMatchObject({ debt: '234000.50', blocked: true });
    const n = await denied('balance.view');
    const sub = await api('GET', '/api/v1/me/balance', 'P2');
    expect(sub.statusCode).toBe(403);
    expect(sub.body).not.toContain('234000');
    expect(await denied('balance.view')).toBe(n + 1);
  });

  it('lets the head see the subordinate\'s order and refuses the subordinate the head\'s (403, audited)', async () => {
    const line = [{ sku: 'SKU-00001', quantity: '1' }];
    const byHead = await api('POST', '/api/v1/orders', 'P1', { legalEntity: 'LE1', lines: line });
    expect(byHead.statusCode).toBe(201);
    const bySub = await api('POST', '/api/v1/orders', 'P2', { legalEntity: 'LE1', lines: line });
    expect(bySub.statusCode).toBe(201);
    const headNo = (byHead.json() as { number: string }).number;
    const subNo = (bySub.json() as { number: string }).number;
    expect((await api('GET', `/api/v1/orders/${subNo}`, 'P1')).statusCode).toBe(200);
    const n = await denied('order.view');
    const forbidden = await api('GET', `/api/v1/orders/${headNo}`, 'P2');
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.body).not.toContain('SKU-00001');
    expect(await denied('order.view')).toBe(n + 1);
    const subList = (await api('GET', '/api/v1/orders', 'P2')).json() as { orders: Array<{ number: string }> };
    expect(subList.orders.map((o) => o.number)).toEqual([subNo]);
    const headList = (await api('GET', '/api/v1/orders', 'P1')).json() as { orders: Array<{ number: string }> };
    expect(headList.orders.map((o) => o.number)).toEqual(expect.arrayContaining([subNo, headNo]));
  });
});

describe('ordering on credit', () => {
  it('refuses a stage 1 subordinate (403 audited), then a confirmed one on overdue debt, then lets it under the manager\'s rule', async () => {
    const body = { legalEntity: 'LE1', lines: [{ sku: 'SKU-00001', quantity: '1' }], paymentKind: CREDIT_PAYMENT_KIND };
    const n = await denied('order.credit');
    const stage1 = await api('POST', '/api/v1/orders', 'P2', body);
    expect(stage1.statusCode).toBe(403);
    expect(await denied('order.credit')).toBe(n + 1);
    await sql`INSERT INTO contact_rights (contact_id, legal_entity_id, authority_confirmed_at, authority_confirmed_by) VALUES (${ids.P2}, ${ids.LE1}, now(), ${ids.P1})`.execute(db);
    const overdue = await api('POST', '/api/v1/orders', 'P2', body);
    expect(overdue.statusCode).toBe(403);
    expect((overdue.json() as { problems: Array<{ rule: string }> }).problems[0]!.rule).toBe('credit-overdue');
    await sql`INSERT INTO credit_rules (client_id, overdue_rule) VALUES (${ids.C1}, 'never')`.execute(db);
    const ok = await api('POST', '/api/v1/orders', 'P2', body);
    expect(ok.statusCode).toBe(201);
    const st = await creditStatus(db, { clientId: ids.C1!, legalEntityId: ids.LE1! });
    expect(st.openOrders).toBe((ok.json() as { total: string }).total);
  });

  it('lets only one of two concurrent orders through when both together pass the limit', async () => {
    // One unit's price for C2 (a non-credit order does not count against the limit).
    const probe = await placeOrder(db, { clientId: ids.C2!, contactId: ids.P3!, cityId: ids.spb!, legalEntity: 'LE3', lines: [{ sku: 'SKU-00004', quantity: '1' }], paymentKind: 'Безналичный расчёт' });
    const unit = probe.order.total;
    // Room for one and a half: debt 92000 + 1.5 units.
    await sql`INSERT INTO credit_terms (agreement_id, credit_limit) VALUES (${ids.A3}, 92000 + ${unit}::numeric * 1.5)`.execute(db);
    const one = () => placeOrder(db, { clientId: ids.C2!, contactId: ids.P3!, cityId: ids.spb!, legalEntity: 'LE3', lines: [{ sku: 'SKU-00004', quantity: '1' }], paymentKind: CREDIT_PAYMENT_KIND });
    const results = await Promise.allSettled([one(), one(), one()]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refusals = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    expect(refusals.every((e) => e instanceof CreditBlockedError && e.status.reasonCode === 'limit')).toBe(true);
    expect((refusals[0] as CreditBlockedError).russian).toMatch(/^Кредитный лимит исчерпан: .* — не хватает /);
    const st = await creditStatus(db, { clientId: ids.C2!, legalEntityId: ids.LE3! });
    expect(st.openOrders).toBe(unit);
    // The limit now ≥ 90 % used again after the override: the crossing was notified in the placement.
    expect((await mails('credit-limit')).length).toBeGreaterThan(0);
  });
});

describe('approval of a subordinate\'s orders', () => {
  it('holds an order above the threshold from the ERP until the head approves it, and tells both', async () => {
    await sql`UPDATE contact_rights SET approval_above = 1000 WHERE contact_id = ${ids.P2} AND legal_entity_id = ${ids.LE1}`.execute(db);
    const r = await api('POST', '/api/v1/orders', 'P2', { legalEntity: 'LE1', lines: [{ sku: 'SKU-00001', quantity: '2' }] });
    expect(r.statusCode).toBe(201);
    const order = r.json() as { number: string; approval: string | null };
    expect(order.approval).toBe('waiting');
    const pendingNumbers = async () => {
      const p = await ordersPort(db).pending(1000);
      const rows = await db.selectFrom('orders').select(['id', 'number']).execute();
      return p.map((x) => rows.find((o) => Number(o.id) === x.id)!.number);
    };
    expect(await pendingNumbers()).not.toContain(order.number);
    expect((await mails('order-approval')).some((m) => m.to_address === 'a.smirnov@energomontazh.example' && m.subject === `Заказ ${order.number} ждёт вашего согласования`)).toBe(true);

    // Only a head decides: the subordinate is refused (audited).
    const subActor = { kind: 'contact' as const, id: ids.P2! };
    await expect(decideApproval(db, { clientId: ids.C1!, contactId: ids.P2! }, order.number, { approve: true }, subActor)).rejects.toThrow(/only a head/);
    const head = { clientId: ids.C1!, contactId: ids.P1! };
    expect((await waitingApprovals(db, head, { kind: 'contact', id: ids.P1! })).map((w) => w.number)).toEqual([order.number]);
    await decideApproval(db, head, order.number, { approve: true, comment: 'Согласовано' }, { kind: 'contact', id: ids.P1! });
    expect(await pendingNumbers()).toContain(order.number);
    expect((await mails('order-approval')).some((m) => m.to_address === 'm.orlova@energomontazh.example' && m.subject === `Заказ ${order.number} согласован`)).toBe(true);
    await expect(decideApproval(db, head, order.number, { approve: false, comment: 'нет' }, { kind: 'contact', id: ids.P1! })).rejects.toThrow(/not waiting/);
    // Below the threshold: no approval needed.
    const small = await api('POST', '/api/v1/orders', 'P2', { legalEntity: 'LE1', lines: [{ sku: 'SKU-00010', quantity: '1' }] });
    const smallTotal = Number((small.json() as { total: string }).total);
    expect((small.json() as { approval: string | null }).approval).toBe(smallTotal > 1000 ? 'waiting' : null);
  });

  it('cancels a rejected order and never sends it', async () => {
    const r = await api('POST', '/api/v1/orders', 'P2', { legalEntity: 'LE1', lines: [{ sku: 'SKU-00001', quantity: '3' }] });
    const number = (r.json() as { number: string }).number;
    const head = { clientId: ids.C1!, contactId: ids.P1! };
    await expect(decideApproval(db, head, number, { approve: false }, { kind: 'contact', id: ids.P1! })).rejects.toThrow(/needs a comment/);
    await decideApproval(db, head, number, { approve: false, comment: 'Слишком дорого' }, { kind: 'contact', id: ids.P1! });
    const o = (await api('GET', `/api/v1/orders/${number}`, 'P2')).json() as { approval: string; approvalComment: string; cancelled: boolean };
    expect(o).toMatchObject({ approval: 'rejected', approvalComment: 'Слишком дорого', cancelled: true });
    const p = await ordersPort(db).pending(1000);
    const id = Number((await db.selectFrom('orders').select('id').where('number', '=', number).executeTakeFirstOrThrow()).id);
    expect(p.map((x) => x.id)).not.toContain(id);
  });
});
