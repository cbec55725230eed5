// Credit lines: may a legal entity order on credit («Отсрочка платежа») under its agreement now, and
// why not. The limit and the payment delay come from the ERP (agreements) unless the responsible
// manager set them (credit_terms); the overdue rule is the manager's per client (credit_rules, default
// 'any'). Every amount is computed in PostgreSQL on numeric and travels as text.
//
// The rule:
//   debt        = what the agreement's documents still owe (receivables, owed > 0)
//   open orders = the agreement's orders on credit that are placed and not yet debt: not cancelled,
//                 not paid, status not final, not rejected by a head, and no document owed names them
//                 (receivables.order_ref = the order's portal or ERP number). An order the ERP shipped
//                 without naming it in its document counts twice until it is final: the ERP should name it.
//   available   = limit − debt − open orders
//   blocked     = no agreement or no limit; or debt + open orders + this order > limit; or an overdue
//                 document (due date, else document date + payment delay, before today) past the
//                 client's rule ('any': any day overdue, 'grace': more than N days, 'never': never).
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { MagistralError } from '../errors/index.ts';
import { audit, type Actor } from './audit.ts';

type Db = Kysely<Database>;

/** The payment kind that asks for credit (the checkout offers it; the API's `paymentKind` may name it). */
export const CREDIT_PAYMENT_KIND = 'Отсрочка платежа';

export type OverdueRule = 'any' | 'grace' | 'never';

export interface CreditStatus {
  clientId: number;
  legalEntityId: number;
  agreement: { id: number; code: string; name: string } | null;
  currency: string;
  /** null: no credit line (none in the ERP, none set by the manager). */
  limit: string | null;
  limitSource: 'erp' | 'manager' | null;
  paymentDelayDays: number | null;
  delaySource: 'erp' | 'manager' | null;
  debt: string;
  openOrders: string;
  /** debt + open orders */
  used: string;
  /** limit − used (may be negative); null without a limit. */
  available: string | null;
  /** used / limit in whole percent (null without a limit or with limit 0). */
  usedPercent: number | null;
  overdue: { amount: string; maxDays: number; documents: number };
  rule: { kind: OverdueRule; graceDays: number };
  /** The order total asked about ('0' when none). */
  orderTotal: string;
  /** used + this order − limit, when positive: what the limit lacks. */
  shortage: string | null;
  blocked: boolean;
  /** Why ordering on credit is blocked, in Russian for the buyer; null when it is not. */
  reason: string | null;
  reasonCode: 'no-agreement' | 'no-limit' | 'overdue' | 'limit' | null;
}

/** A refusal of an order on credit: 403 in the API (English), the Russian reason on pages. */
export class CreditBlockedError extends MagistralError {
  constructor(readonly status: CreditStatus) {
    super('MAG_ERR_FORBIDDEN', `ordering on credit is blocked (${status.reasonCode}): ${englishReason(status)}`,
      [{ path: '/body/paymentKind', rule: `credit-${status.reasonCode ?? 'blocked'}`, message: englishReason(status) }]);
    this.name = 'CreditBlockedError';
  }

  get russian(): string {
    return this.status.reason ?? 'Оформление с отсрочкой платежа недоступно.';
  }
}

function englishReason(s: CreditStatus): string {
  switch (s.reasonCode) {
    case 'no-agreement': return 'the legal entity has no agreement to order on credit under';
    case 'no-limit': return `agreement ${s.agreement?.code ?? ''} has no credit limit`;
    case 'overdue': return `overdue debt ${s.overdue.amount} ${s.currency}, up to ${s.overdue.maxDays} days`;
    case 'limit': return `limit ${s.limit}, debt ${s.debt}, open orders ${s.openOrders}, this order ${s.orderTotal}: exceeds the limit by ${s.shortage}`;
    default: return 'blocked';
  }
}

/** Money as the pages write it ("1 234,50 ₽"), from the exact decimal text. */
export function rub(value: string, currency = 'RUB'): string {
  const neg = value.startsWith('-');
  const [int = '0', frac = ''] = value.replace('-', '').split('.');
  const sign = currency === 'RUB' || currency === 'RUR' ? '₽' : currency;
  return `${neg ? '−' : ''}${int.replace(/\B(?=(\d{3})+(?!\d))/g, '\u00a0')},${(frac + '00').slice(0, 2)}\u00a0${sign}`;
}

function daysWord(n: number): string {
  const m10 = n % 10;
  const m100 = n % 100;
  if (m10 === 1 && m100 !== 11) return 'день';
  if (m10 >= 2 && m10 <= 4 && (m100 < 12 || m100 > 14)) return 'дня';
  return 'дней';
}

/** The agreement a legal entity orders under: its own, else the client-wide one (as pricing resolves it). */
export async function agreementOf(db: Db, clientId: number, legalEntityId: number): Promise<number | null> {
  const r = await sql<{ id: number }>`
    SELECT a.id::int FROM agreements a WHERE a.client_id = ${clientId} AND NOT a.deleted AND NOT a.placeholder
      AND (a.legal_entity_id IS NULL OR a.legal_entity_id = ${legalEntityId})
    ORDER BY a.legal_entity_id IS NOT NULL DESC, a.id LIMIT 1`.execute(db);
  return r.rows[0]?.id ?? null;
}

interface StatusRow {
  code: string; name: string; currency: string | null;
  limit: string | null; limit_source: 'erp' | 'manager' | null; delay: number | null; delay_source: 'erp' | 'manager' | null;
  debt: string; open_orders: string; used: string; available: string | null; used_percent: number | null; shortage: string | null;
  overdue_amount: string; overdue_days: number; overdue_docs: number;
  rule: OverdueRule; grace_days: number; over_limit: boolean; overdue_blocks: boolean;
}

/**
 * The credit status of a legal entity under an agreement (its ordering agreement when not named), with
 * `orderTotal` the amount of an order about to be placed. `excludeOrderId`: an order already written in
 * the caller's transaction that must not count twice.
 */
export async function creditStatus(db: Db, q: { clientId: number; legalEntityId: number; agreementId?: number | null; orderTotal?: string; excludeOrderId?: number }): Promise<CreditStatus> {
  const agreementId = q.agreementId === undefined ? await agreementOf(db, q.clientId, q.legalEntityId) : q.agreementId;
  const orderTotal = q.orderTotal ?? '0';
  const base = {
    clientId: q.clientId, legalEntityId: q.legalEntityId, orderTotal,
  };
  const ruleRow = (await sql<{ rule: OverdueRule; grace_days: number }>`
    SELECT overdue_rule AS rule, grace_days FROM credit_rules WHERE client_id = ${q.clientId}`.execute(db)).rows[0];
  const rule = { kind: ruleRow?.rule ?? 'any', graceDays: ruleRow?.grace_days ?? 0 } as const;
  if (agreementId === null) {
    return {
      ...base, agreement: null, currency: 'RUB', limit: null, limitSource: null, paymentDelayDays: null, delaySource: null,
      debt: '0.00', openOrders: '0.00', used: '0.00', available: null, shortage: null, usedPercent: null, overdue: { amount: '0.00', maxDays: 0, documents: 0 },
      rule, blocked: true, reasonCode: 'no-agreement',
      reason: 'Оплата с отсрочкой недоступна: у юрлица нет договора с кредитным лимитом. Обратитесь к вашему менеджеру.',
    };
  }
  const r = (await sql<StatusRow>`
    WITH ag AS (
      SELECT a.id, a.code, a.name, a.currency,
        coalesce(t.credit_limit, a.credit_limit) AS lim,
        CASE WHEN t.credit_limit IS NOT NULL THEN 'manager' WHEN a.credit_limit IS NOT NULL THEN 'erp' END AS limit_source,
        coalesce(t.payment_delay_days, a.payment_delay_days) AS delay,
        CASE WHEN t.payment_delay_days IS NOT NULL THEN 'manager' WHEN a.payment_delay_days IS NOT NULL THEN 'erp' END AS delay_source
      FROM agreements a LEFT JOIN credit_terms t ON t.agreement_id = a.id
      WHERE a.id = ${agreementId} AND a.client_id = ${q.clientId}
    ), docs AS (
      SELECT r.owed, (current_date - coalesce(r.due_date, r.doc_date + coalesce(ag.delay, 0)))::int AS late
      FROM receivables r, ag WHERE r.agreement_id = ag.id AND r.owed > 0
    ), open AS (
      SELECT coalesce(sum(o.total), 0) AS amount FROM orders o JOIN order_statuses st ON st.code = o.status, ag
      WHERE o.agreement_id = ag.id AND o.payment_kind = ${CREDIT_PAYMENT_KIND} AND NOT o.cancelled AND NOT o.paid AND NOT st.final
        AND o.approval IS DISTINCT FROM 'rejected' AND o.id IS DISTINCT FROM ${q.excludeOrderId ?? null}::bigint
        AND NOT EXISTS (SELECT 1 FROM receivables r WHERE r.order_ref IN (o.number, o.erp_number) AND r.legal_entity_id = o.legal_entity_id)
    ), sums AS (
      SELECT (SELECT coalesce(sum(owed), 0) FROM docs) AS debt, (SELECT amount FROM open) AS open_orders,
        (SELECT coalesce(sum(owed) FILTER (WHERE late > 0), 0) FROM docs) AS overdue_amount,
        (SELECT coalesce(max(late) FILTER (WHERE late > 0), 0) FROM docs) AS overdue_days,
        (SELECT count(*) FILTER (WHERE late > 0) FROM docs) AS overdue_docs
    )
    SELECT ag.code, ag.name, ag.currency, ag.lim::text AS limit, ag.limit_source, ag.delay, ag.delay_source,
      round(s.debt, 2)::text AS debt, round(s.open_orders, 2)::text AS open_orders, round(s.debt + s.open_orders, 2)::text AS used,
      round(ag.lim - s.debt - s.open_orders, 2)::text AS available,
      CASE WHEN s.debt + s.open_orders + ${orderTotal}::numeric > ag.lim THEN round(s.debt + s.open_orders + ${orderTotal}::numeric - ag.lim, 2)::text END AS shortage,
      CASE WHEN ag.lim > 0 THEN floor((s.debt + s.open_orders) * 100 / ag.lim)::int END AS used_percent,
      round(s.overdue_amount, 2)::text AS overdue_amount, s.overdue_days::int, s.overdue_docs::int,
      ${rule.kind}::text AS rule, ${rule.graceDays}::int AS grace_days,
      (s.debt + s.open_orders + ${orderTotal}::numeric > ag.lim OR (ag.lim <= s.debt + s.open_orders)) AS over_limit,
      CASE ${rule.kind}::text WHEN 'never' THEN false WHEN 'grace' THEN s.overdue_days > ${rule.graceDays} ELSE s.overdue_days > 0 END AS overdue_blocks
    FROM ag, sums s`.execute(db)).rows[0];
  if (!r) throw new MagistralError('MAG_ERR_NOT_FOUND', `no agreement ${agreementId} of client ${q.clientId}`);
  const currency = r.currency ?? 'RUB';
  const st: CreditStatus = {
    ...base,
    agreement: { id: agreementId, code: r.code, name: r.name },
    currency, limit: r.limit, limitSource: r.limit_source, paymentDelayDays: r.delay, delaySource: r.delay_source,
    debt: r.debt, openOrders: r.open_orders, used: r.used, available: r.available, usedPercent: r.used_percent, shortage: r.shortage,
    overdue: { amount: r.overdue_amount, maxDays: r.overdue_days, documents: r.overdue_docs },
    rule, blocked: false, reason: null, reasonCode: null,
  };
  if (r.limit === null) {
    st.blocked = true;
    st.reasonCode = 'no-limit';
    st.reason = `По договору «${r.name}» кредитный лимит не установлен: оплата с отсрочкой недоступна. Обратитесь к вашему менеджеру.`;
  } else if (r.overdue_blocks) {
    st.blocked = true;
    st.reasonCode = 'overdue';
    const grace = rule.kind === 'grace' ? ` (допускается до ${rule.graceDays} ${daysWord(rule.graceDays)} просрочки)` : '';
    st.reason = `Есть просроченная задолженность: ${rub(r.overdue_amount, currency)}, просрочка до ${r.overdue_days} ${daysWord(r.overdue_days)}${grace}. `
      + 'Оформление с отсрочкой платежа заблокировано до оплаты; можно оформить заказ с другим способом оплаты.';
  } else if (r.over_limit) {
    st.blocked = true;
    st.reasonCode = 'limit';
    const parts = [`лимит ${rub(r.limit, currency)}`, `задолженность ${rub(r.debt, currency)}`, `неоплаченные заказы ${rub(r.open_orders, currency)}`];
    if (orderTotal !== '0') parts.push(`этот заказ ${rub(orderTotal, currency)}`);
    st.reason = `Кредитный лимит исчерпан: ${parts.join(', ')}`
      + (orderTotal !== '0' && r.shortage ? ` — не хватает ${rub(r.shortage, currency)}.` : '.')
      + ' Оформите заказ с другим способом оплаты или обратитесь к менеджеру.';
  }
  return st;
}

/** The credit status of every agreement of the client (the manager's view and the clients list). */
export async function clientCreditStatuses(db: Db, clientId: number): Promise<CreditStatus[]> {
  const rows = (await sql<{ agreement_id: number; legal_entity_id: number }>`
    SELECT a.id::int AS agreement_id, coalesce(a.legal_entity_id, (SELECT min(le.id) FROM legal_entities le
      WHERE le.client_id = a.client_id AND NOT le.deleted AND NOT le.placeholder))::int AS legal_entity_id
    FROM agreements a WHERE a.client_id = ${clientId} AND NOT a.deleted AND NOT a.placeholder ORDER BY a.code`.execute(db)).rows;
  const out: CreditStatus[] = [];
  for (const r of rows) if (r.legal_entity_id !== null) out.push(await creditStatus(db, { clientId, legalEntityId: r.legal_entity_id, agreementId: r.agreement_id }));
  return out;
}

export interface CreditSummary {
  clientId: number;
  debt: string;
  overdue: string;
  limit: string | null;
  available: string | null;
  blocked: boolean;
}

/**
 * One line per client for the manager's clients list: totals over the client's agreements in one
 * statement (limit: the sum of its agreements' limits; blocked: no limit, overdue past the rule, or
 * nothing left in total — the per-agreement truth is creditStatus).
 */
export async function creditSummaries(db: Db, clientIds: readonly number[]): Promise<Map<number, CreditSummary>> {
  const out = new Map<number, CreditSummary>();
  if (!clientIds.length) return out;
  const rows = (await sql<{ client_id: number; debt: string; overdue: string; lim: string | null; available: string | null; exhausted: boolean; max_late: number; rule: OverdueRule | null; grace: number | null }>`
    WITH ag AS (
      SELECT a.id, a.client_id, coalesce(t.credit_limit, a.credit_limit) AS lim, coalesce(t.payment_delay_days, a.payment_delay_days, 0) AS delay
      FROM agreements a LEFT JOIN credit_terms t ON t.agreement_id = a.id
      WHERE a.client_id = ANY(${[...clientIds]}::bigint[]) AND NOT a.deleted AND NOT a.placeholder
    ), docs AS (
      SELECT ag.client_id, r.owed, (current_date - coalesce(r.due_date, r.doc_date + ag.delay))::int AS late
      FROM receivables r JOIN ag ON ag.id = r.agreement_id WHERE r.owed > 0
    ), open AS (
      SELECT o.client_id, sum(o.total) AS amount FROM orders o JOIN order_statuses st ON st.code = o.status JOIN ag ON ag.id = o.agreement_id
      WHERE o.payment_kind = ${CREDIT_PAYMENT_KIND} AND NOT o.cancelled AND NOT o.paid AND NOT st.final AND o.approval IS DISTINCT FROM 'rejected'
        AND NOT EXISTS (SELECT 1 FROM receivables r WHERE r.order_ref IN (o.number, o.erp_number) AND r.legal_entity_id = o.legal_entity_id)
      GROUP BY o.client_id
    )
    SELECT c.id::int AS client_id,
      round(coalesce((SELECT sum(owed) FROM docs d WHERE d.client_id = c.id), 0), 2)::text AS debt,
      round(coalesce((SELECT sum(owed) FROM docs d WHERE d.client_id = c.id AND d.late > 0), 0), 2)::text AS overdue,
      (SELECT sum(lim) FROM ag WHERE ag.client_id = c.id)::text AS lim,
      round((SELECT sum(lim) FROM ag WHERE ag.client_id = c.id) - coalesce((SELECT sum(owed) FROM docs d WHERE d.client_id = c.id), 0)
        - coalesce((SELECT amount FROM open WHERE open.client_id = c.id), 0), 2)::text AS available,
      coalesce((SELECT sum(lim) FROM ag WHERE ag.client_id = c.id) - coalesce((SELECT sum(owed) FROM docs d WHERE d.client_id = c.id), 0)
        - coalesce((SELECT amount FROM open WHERE open.client_id = c.id), 0) <= 0, true) AS exhausted,
      coalesce((SELECT max(late) FROM docs d WHERE d.client_id = c.id), 0)::int AS max_late,
      cr.overdue_rule AS rule, cr.grace_days AS grace
    FROM clients c LEFT JOIN credit_rules cr ON cr.client_id = c.id WHERE c.id = ANY(${[...clientIds]}::bigint[])`.execute(db)).rows;
  for (const r of rows) {
    const rule = r.rule ?? 'any';
    const overdueBlocks = rule === 'never' ? false : rule === 'grace' ? r.max_late > (r.grace ?? 0) : r.max_late > 0;
    out.set(r.client_id, {
      clientId: r.client_id, debt: r.debt, overdue: r.overdue, limit: r.lim, available: r.available,
      blocked: r.lim === null || overdueBlocks || r.exhausted,
    });
  }
  return out;
}

export interface ReceivableView {
  legalEntity: { id: number; code: string; name: string };
  agreement: { code: string; name: string } | null;
  document: string;
  kind: string | null;
  number: string | null;
  date: string | null;
  amount: string | null;
  owed: string;
  currency: string;
  dueDate: string | null;
  /** Days past the due date (0: not overdue). */
  overdueDays: number;
}

/** The documents owed of the given legal entities, oldest due first. */
export async function receivablesOf(db: Db, legalEntityIds: readonly number[]): Promise<ReceivableView[]> {
  if (!legalEntityIds.length) return [];
  const rows = (await sql<{ le_id: number; le_code: string; le_name: string; ag_code: string | null; ag_name: string | null; document: string; kind: string | null; number: string | null; date: string | null; amount: string | null; owed: string; currency: string | null; due: string | null; late: number }>`
    SELECT le.id::int AS le_id, le.code AS le_code, le.name AS le_name, a.code AS ag_code, a.name AS ag_name, r.document, r.kind, r.number,
      to_char(r.doc_date, 'YYYY-MM-DD') AS date, r.amount::text, r.owed::text, coalesce(r.currency, a.currency) AS currency,
      to_char(coalesce(r.due_date, r.doc_date + coalesce(t.payment_delay_days, a.payment_delay_days, 0)), 'YYYY-MM-DD') AS due,
      greatest(0, current_date - coalesce(r.due_date, r.doc_date + coalesce(t.payment_delay_days, a.payment_delay_days, 0)))::int AS late
    FROM receivables r JOIN legal_entities le ON le.id = r.legal_entity_id
    LEFT JOIN agreements a ON a.id = r.agreement_id LEFT JOIN credit_terms t ON t.agreement_id = a.id
    WHERE r.legal_entity_id = ANY(${[...legalEntityIds]}::bigint[]) AND r.owed > 0
    ORDER BY due NULLS LAST, r.document`.execute(db)).rows;
  return rows.map((r) => ({
    legalEntity: { id: r.le_id, code: r.le_code, name: r.le_name }, agreement: r.ag_code ? { code: r.ag_code, name: r.ag_name ?? r.ag_code } : null,
    document: r.document, kind: r.kind, number: r.number, date: r.date, amount: r.amount, owed: r.owed, currency: r.currency ?? 'RUB', dueDate: r.due, overdueDays: r.late ?? 0,
  }));
}

/** A manager's bad input on the credit terms, with the words for the page. */
export class CreditInputError extends MagistralError {
  constructor(message: string, readonly russian: string) {
    super('MAG_ERR_BAD_REQUEST', message);
    this.name = 'CreditInputError';
  }
}

const LIMIT = /^[0-9]{1,14}([.,][0-9]{1,2})?$/;

/**
 * The responsible manager sets an agreement's limit and payment delay (empty: the ERP's value again).
 * The caller has checked the client is the manager's (assertOwnClient); the agreement must be the client's.
 * Audited with the values before and after, in the same transaction.
 */
export async function setCreditTerms(db: Db, actor: Actor, q: { clientId: number; agreementId: number; limit: string; delayDays: string }): Promise<void> {
  const ag = await db.selectFrom('agreements').select(['id', 'name']).where('id', '=', q.agreementId).where('client_id', '=', q.clientId)
    .where('deleted', '=', false).executeTakeFirst();
  if (!ag) throw new CreditInputError(`no agreement ${q.agreementId} of client ${q.clientId}`, 'Договор не найден у этого клиента.');
  const limitText = q.limit.replace(/[\s\u00a0]/g, '');
  if (limitText !== '' && !LIMIT.test(limitText)) {
    throw new CreditInputError(`'${q.limit}' is not an amount`, `«${q.limit}» — не сумма: укажите лимит в рублях, например 500000 или 250000,50; пустое поле — лимит из учётной системы.`);
  }
  const delayText = q.delayDays.trim();
  if (delayText !== '' && !/^[0-9]{1,4}$/.test(delayText)) {
    throw new CreditInputError(`'${q.delayDays}' is not a number of days`, `«${q.delayDays}» — не число дней: укажите отсрочку целым числом дней от 0 до 9999; пустое поле — отсрочка из учётной системы.`);
  }
  const limit = limitText === '' ? null : limitText.replace(',', '.');
  const delay = delayText === '' ? null : Number(delayText);
  await db.transaction().execute(async (trx) => {
    const before = (await sql<{ credit_limit: string | null; payment_delay_days: number | null }>`
      SELECT credit_limit::text, payment_delay_days FROM credit_terms WHERE agreement_id = ${q.agreementId} FOR UPDATE`.execute(trx)).rows[0] ?? null;
    if (limit === null && delay === null) await sql`DELETE FROM credit_terms WHERE agreement_id = ${q.agreementId}`.execute(trx);
    else {
      await sql`INSERT INTO credit_terms (agreement_id, credit_limit, payment_delay_days, set_by_manager_id)
        VALUES (${q.agreementId}, ${limit}::numeric, ${delay}::int, ${actor.kind === 'manager' ? Number(actor.id) : null})
        ON CONFLICT (agreement_id) DO UPDATE SET credit_limit = excluded.credit_limit, payment_delay_days = excluded.payment_delay_days,
          set_by_manager_id = excluded.set_by_manager_id, updated_at = now()`.execute(trx);
    }
    await audit(trx, actor, { action: 'credit.terms.set', clientId: q.clientId, details: { agreementId: q.agreementId, agreement: ag.name, before, after: { limit, delay } } });
  });
}

/** The responsible manager sets what overdue debt does to the client's ordering on credit. Audited. */
export async function setOverdueRule(db: Db, actor: Actor, q: { clientId: number; rule: string; graceDays: string }): Promise<void> {
  if (!['any', 'grace', 'never'].includes(q.rule)) throw new CreditInputError(`unknown overdue rule '${q.rule}'`, 'Выберите правило для просроченной задолженности.');
  const grace = q.rule === 'grace' ? q.graceDays.trim() : '0';
  if (!/^[0-9]{1,3}$/.test(grace) || Number(grace) > 365) {
    throw new CreditInputError(`'${q.graceDays}' is not 0 to 365 days`, `«${q.graceDays}» — не число дней: укажите, сколько дней просрочки допускается (от 0 до 365).`);
  }
  await db.transaction().execute(async (trx) => {
    await sql`INSERT INTO credit_rules (client_id, overdue_rule, grace_days, set_by_manager_id)
      VALUES (${q.clientId}, ${q.rule}, ${Number(grace)}, ${actor.kind === 'manager' ? Number(actor.id) : null})
      ON CONFLICT (client_id) DO UPDATE SET overdue_rule = excluded.overdue_rule, grace_days = excluded.grace_days,
        set_by_manager_id = excluded.set_by_manager_id, updated_at = now()`.execute(trx);
    await audit(trx, actor, { action: 'credit.rule.set', clientId: q.clientId, details: { rule: q.rule, graceDays: Number(grace) } });
  });
}
