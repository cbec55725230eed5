// The orders 1C asks for with `type=sale&mode=query`: new and changed orders (never exported, or changed
// since), taken from the orders port and turned into CommerceML documents. Which version of each order was
// sent is remembered per session, so `mode=success` marks exactly those.
import { sql } from 'kysely';
import type { ConnectorPort, OrderVersion, OutboundOrder } from '../../../src/port/index.ts';
import type { CmlCounterparty, CmlOrderDocument, CmlOrderLine, CmlUnit } from '../commerceml/order-writer.ts';
import { toLocal } from './sale-time.ts';
import type { SaleSettings } from './sale-options.ts';
import { saveSessionData } from './sessions.ts';
import { onecTables } from './tables.ts';

/**
 * Picks the pending orders (oldest change first, at most `limit`) and records in the session which
 * version (updated_at, to the microsecond) of each is about to be sent. The documents are read
 * afterwards and are never older than the recorded version: an order changed in between is at worst sent
 * again, never marked exported with a change 1C did not see.
 */
export async function recordPendingOrders(port: ConnectorPort, sessionId: string, limit: number): Promise<number[]> {
  const pending = await port.orders.pending(limit);
  await saveSessionData(port, sessionId, { saleSent: pending.map((p) => [p.id, p.version]) });
  return pending.map((p) => p.id);
}

/**
 * `mode=success`: the orders the session's last query sent become exported at the version that was
 * sent, so an order changed after the query stays pending. Answers how many orders were marked; the
 * session forgets what it sent (a second `success` marks nothing).
 */
export async function markSentOrdersExported(port: ConnectorPort, sessionId: string): Promise<number> {
  const row = await onecTables(port).selectFrom('onec_sessions').select('data').where('id', '=', sessionId).executeTakeFirst();
  const raw = (row?.data as { saleSent?: unknown } | undefined)?.saleSent;
  const sent: OrderVersion[] = Array.isArray(raw)
    ? raw.filter((v): v is [number, string] => Array.isArray(v) && v.length === 2).map(([id, version]) => ({ id: Number(id), version: String(version) }))
    : [];
  const marked = await port.orders.markExported(sent);
  await onecTables(port).updateTable('onec_sessions').set({ data: sql`data - 'saleSent'` as unknown as string }).where('id', '=', sessionId).execute();
  return marked;
}

/** Reads the orders as CommerceML documents, in the order of the ids given. */
export async function loadOrderDocuments(port: ConnectorPort, ids: readonly number[], settings: SaleSettings): Promise<CmlOrderDocument[]> {
  return (await port.orders.documents(ids, settings.system)).map((o) => toDocument(o, settings));
}

const OKEI = /^[0-9]{3,4}$/;

/** The line's unit: OKEI code, full and short names; a piece (796) when the catalog does not say. */
function unitOf(l: OutboundOrder['lines'][number]): CmlUnit {
  const { unitOkei, unitCode, unitName } = l.product;
  const code = unitOkei ?? (unitCode && OKEI.test(unitCode) ? unitCode : null);
  const short = l.unit ?? (unitCode && !OKEI.test(unitCode) ? unitCode : null);
  if (!code && !short && !unitName) return { code: '796', fullName: 'Штука', shortName: 'шт', intl: 'PCE' };
  const c = code ?? '796';
  return { code: c, fullName: unitName ?? short ?? 'Штука', shortName: short ?? unitName ?? 'шт', ...(c === '796' ? { intl: 'PCE' } : {}) };
}

function isCompany(inn: string | null, kpp: string | null): boolean {
  return !!kpp || (!!inn && /^[0-9]{10}$/.test(inn));
}

function toDocument(o: OutboundOrder, s: SaleSettings): CmlOrderDocument {
  const local = (d: Date): { date: string; time: string } => toLocal(d, s.timeZone);
  const stamp = (d: Date): string => {
    const l = local(d);
    return `${l.date} ${l.time}`;
  };
  const created = local(o.createdAt);
  const le = o.legalEntity;
  const counterparty: CmlCounterparty = {
    id: le.externalId,
    name: le.name,
    fullName: le.fullName ?? le.name,
    company: isCompany(le.inn, le.kpp),
    inn: le.inn,
    kpp: le.kpp,
    address: le.address ? { text: le.address } : null,
    bank: le.account ? { account: le.account, bankName: le.bankName, bik: le.bik, corrAccount: le.corrAccount } : null,
    phone: o.contact?.phone ?? o.client.phone,
    email: o.contact?.email ?? o.client.email,
    representative: o.contact ? { id: o.contact.externalId ?? '', name: o.contact.name } : null,
  };
  const docLines: CmlOrderLine[] = o.lines.map((l) => ({
    id: l.externalId,
    ...(s.catalogId ? { catalogId: s.catalogId } : {}),
    name: l.name,
    unit: unitOf(l),
    price: l.price,
    quantity: l.quantity,
    amount: l.amount,
    kind: 'Товар',
  }));
  // The requisites 1C-Bitrix sends, in its order (samples 06 and 08).
  const req: Array<[string, string]> = [];
  if (o.paid && o.paidAt) req.push(['Дата оплаты', stamp(o.paidAt)]);
  if (s.paymentMethod) req.push(['Метод оплаты', s.paymentMethod]);
  if (o.shipped && o.shippedAt) req.push(['Дата разрешения доставки', stamp(o.shippedAt)]);
  req.push(['Заказ оплачен', String(o.paid)]);
  req.push(['Доставка разрешена', String(o.shipped)]);
  req.push(['Отменен', String(o.cancelled)]);
  req.push(['Финальный статус', String(o.status.final)]);
  req.push(['Статус заказа', `[${o.status.code}] ${o.status.name}`]);
  req.push(['Статуса заказа ИД', o.status.code]);
  req.push(['Дата изменения статуса', stamp(o.status.at)]);
  if (o.erpNumber) req.push(['Номер по 1С', o.erpNumber]);
  if (o.erpDate) req.push(['Дата по 1С', stamp(o.erpDate)]);
  if (o.comment) req.push(['Комментарии покупателя', o.comment]);
  req.push(['Сайт', s.site]);
  return {
    id: o.number,
    number: o.number,
    date: created.date,
    time: created.time,
    currency: s.currencyNames[o.currency.trim()] ?? o.currency.trim(),
    rate: '1',
    total: o.total,
    comment: o.comment,
    counterparty,
    lines: docLines,
    requisites: req,
  };
}
