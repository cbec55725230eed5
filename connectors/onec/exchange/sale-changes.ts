// What an order document from 1C changes on our order: statuses, payment, shipment, 1C number and date,
// read from its requisites the way 1C-Bitrix reads them. Pure: no store access, so every rule is testable.
import { parseLocal } from './sale-time.ts';
import type { OfflineOrderDraft, OrderChange, OrderStatus } from '../../../src/port/index.ts';

/** The parts of a CommerceML order document the sale exchange reads. */
export interface IncomingOrder {
  /** Документ/Ид. */
  id?: string;
  /** Документ/Номер: our portal number when 1C echoes our order. */
  number?: string;
  /** Документ/Номер1С and Дата1С (2.08+ documents); the requisites «Номер по 1С», «Дата по 1С» otherwise. */
  erpNumber?: string;
  erpDate?: string;
  /** Документ/ПометкаУдаления (an element in some configurations, a requisite in others). */
  deletionMark?: string;
  /** Документ/ЗначенияРеквизитов/ЗначениеРеквизита in document order. */
  requisites: Array<{ name: string; value: string }>;
  /** Where the document starts in the file, for messages. */
  line?: number;
  /** The whole document, for an order made in 1C (unknown to the portal): Дата, Время, Валюта, Сумма, Комментарий. */
  date?: string;
  time?: string;
  currency?: string;
  amount?: string;
  comment?: string;
  /** Контрагенты/Контрагент with Роль «Покупатель» (else the first), its first representative. */
  buyer?: { id: string; inn: string; kpp: string; name: string; contactId: string };
  /** Товары/Товар. */
  lines?: Array<{ id: string; article: string; name: string; quantity: string; price: string; amount: string; unit: string }>;
}

export interface StatusResolver {
  /** Our status code for a 1C value (`[F] Доставлен`, `F`, `Выполнен`, `completed`), or undefined. */
  resolve(value: string): string | undefined;
}

/**
 * 1C-Bitrix's stock status letters, so a 1C base configured against Bitrix keeps working: N «Принят»,
 * P «Оплачен, формируется к отправке», F «Выполнен». The flow's `saleStatusMap` overrides them.
 */
export const BITRIX_STATUS_LETTERS: Readonly<Record<string, string>> = { N: 'new', P: 'in_work', F: 'completed' };

const norm = (s: string): string => s.trim().toLowerCase().replace(/ё/g, 'е').replace(/\s+/g, ' ');

export function statusResolver(statuses: readonly OrderStatus[], map: Readonly<Record<string, string>> = {}): StatusResolver {
  const byCode = new Map(statuses.map((s) => [norm(s.code), s.code]));
  const byName = new Map(statuses.map((s) => [norm(s.name), s.code]));
  const custom = new Map(Object.entries(map).map(([k, v]) => [norm(k), v]));
  const letters = new Map(Object.entries(BITRIX_STATUS_LETTERS).map(([k, v]) => [norm(k), v]));
  return {
    resolve(value) {
      // `[F] Доставлен`: the code in brackets, then the name; a bare value is tried as both.
      const m = /^\s*\[([^\]]+)\]\s*(.*)$/.exec(value);
      const candidates = (m ? [m[1]!, m[2]!] : [value]).map(norm).filter(Boolean);
      for (const c of candidates) if (custom.has(c)) return custom.get(c);
      for (const c of candidates) if (byCode.has(c)) return byCode.get(c);
      for (const c of candidates) if (byName.has(c)) return byName.get(c);
      for (const c of candidates) {
        const letter = letters.get(c);
        if (letter && byCode.has(letter)) return letter;
      }
      return undefined;
    },
  };
}

export interface MappedOrderChange {
  /** Keys to find our order by, in order of preference. */
  refs: { numbers: string[]; erpNumber?: string };
  change: OrderChange;
  /** Problems that did not stop the document (unknown status, unreadable date). */
  warnings: string[];
  /** The order as 1C has it, created as an offline order when no order of ours matches. */
  offline?: OfflineOrderDraft;
  documents?: Array<{ kind: string; number: string; date: Date | null; amount: string | null }>;
}

const TRUE = new Set(['true', '1', 'да', 'yes', 'истина']);
const isTrue = (v: string | undefined): boolean => v !== undefined && TRUE.has(norm(v));

/** Requisite names are matched without regard to case, `ё` or repeated spaces; the first occurrence wins. */
function requisiteMap(doc: IncomingOrder): Map<string, string> {
  const m = new Map<string, string>();
  for (const r of doc.requisites) {
    const k = norm(r.name);
    if (!m.has(k)) m.set(k, r.value.trim());
  }
  return m;
}

/**
 * Maps one document to an order change.
 * - status: «Статуса заказа ИД» (1C-Bitrix spelling) or «Статус заказа ИД», else «Статус заказа»
 *   (`[code] name`, a code or a name); an unknown value is a warning and the rest still applies;
 * - erpNumber / erpDate: Номер1С / Дата1С, else «Номер по 1С» / «Дата по 1С»;
 * - paid: «Дата оплаты по 1С» with a date, or «Заказ оплачен» = true (date: «Дата оплаты по 1С», else «Дата оплаты»);
 * - shipped: «Дата отгрузки по 1С» with a date, or «Доставка разрешена» = true (1C-Bitrix records 1C's
 *   shipment as allowed delivery; date: «Дата отгрузки по 1С», else «Дата разрешения доставки»);
 * - cancelled: «Отменен» = true or «ПометкаУдаления» = true.
 * A false flag never clears ours: 1C echoing an older picture must not undo a payment or a cancellation.
 */
export function mapIncomingOrder(doc: IncomingOrder, statuses: StatusResolver, timeZone: string, system?: string): MappedOrderChange {
  const req = requisiteMap(doc);
  const get = (name: string): string | undefined => req.get(norm(name));
  const warnings: string[] = [];
  const change: OrderChange = {};
  const label = `document ${doc.number ?? doc.id ?? '?'}${doc.line !== undefined ? ` (line ${doc.line})` : ''}`;

  const date = (name: string, value: string | undefined): Date | null | undefined => {
    if (value === undefined) return undefined;
    const d = parseLocal(value, timeZone);
    if (d === undefined) warnings.push(`${label}: «${name}» '${value}' is not a date; ignored`);
    return d;
  };

  const statusValue = get('Статуса заказа ИД') || get('Статус заказа ИД') || get('Статус заказа');
  if (statusValue) {
    const code = statuses.resolve(statusValue);
    if (code) change.status = code;
    else warnings.push(`${label}: unknown order status '${statusValue}'; status not changed`);
  }

  const erpNumber = doc.erpNumber?.trim() || get('Номер по 1С');
  if (erpNumber) change.erpNumber = erpNumber;
  const erpDateText = doc.erpDate?.trim() || get('Дата по 1С');
  const erpDate = date('Дата по 1С', erpDateText);
  if (erpDate) change.erpDate = erpDate;

  const paidDate1c = date('Дата оплаты по 1С', get('Дата оплаты по 1С'));
  if (paidDate1c || isTrue(get('Заказ оплачен'))) {
    change.paid = true;
    const at = paidDate1c ?? date('Дата оплаты', get('Дата оплаты'));
    if (at) change.paidAt = at;
  }

  const shippedDate1c = date('Дата отгрузки по 1С', get('Дата отгрузки по 1С'));
  if (shippedDate1c || isTrue(get('Доставка разрешена'))) {
    change.shipped = true;
    const at = shippedDate1c ?? date('Дата разрешения доставки', get('Дата разрешения доставки'));
    if (at) change.shippedAt = at;
  }

  if (isTrue(get('Отменен')) || isTrue(get('ПометкаУдаления')) || isTrue(doc.deletionMark)) change.cancelled = true;

  // The payment and the shipment 1C made for the order, as documents of the order (1C-Bitrix's requisites).
  const documents: NonNullable<MappedOrderChange['documents']> = [];
  const paymentNumber = get('Номер оплаты по 1С') || get('Номер платежного документа');
  if (paymentNumber) documents.push({ kind: 'payment', number: paymentNumber, date: change.paidAt ?? null, amount: null });
  const shipmentNumber = get('Номер отгрузки по 1С');
  if (shipmentNumber) documents.push({ kind: 'shipment', number: shipmentNumber, date: change.shippedAt ?? null, amount: null });

  const numbers = [...new Set([doc.number?.trim(), doc.id?.trim()].filter((x): x is string => !!x))];
  const offline = system !== undefined ? offlineDraft(doc, system, erpNumber, timeZone, label) : undefined;
  return { refs: { numbers, ...(erpNumber ? { erpNumber } : {}) }, change, warnings, ...(offline ? { offline } : {}), ...(documents.length ? { documents } : {}) };
}

/**
 * The order as 1C has it, when the document names a buyer and products: an order made in 1C (by phone,
 * by a manager) that the portal will create as an offline order if it has none matching. 1C's number is
 * Номер1С / «Номер по 1С», else the document's own Номер (1C numbers its documents itself).
 */
function offlineDraft(doc: IncomingOrder, system: string, erpNumber: string | undefined, timeZone: string, label: string): OfflineOrderDraft | undefined {
  const number = erpNumber || doc.number?.trim() || doc.id?.trim();
  if (!doc.buyer || !doc.lines?.length || !number) return undefined;
  const when = doc.date?.trim() ? parseLocal(`${doc.date.trim()}${doc.time?.trim() ? ` ${doc.time.trim()}` : ''}`, timeZone) : undefined;
  const blank = (v: string | undefined): string | null => (v?.trim() ? v.trim() : null);
  return {
    system, erpNumber: number, erpDate: when ?? null, currency: blank(doc.currency), total: blank(doc.amount), comment: blank(doc.comment), label,
    buyer: { externalId: blank(doc.buyer.id), inn: blank(doc.buyer.inn), kpp: blank(doc.buyer.kpp), name: blank(doc.buyer.name) },
    contactExternalId: blank(doc.buyer.contactId),
    lines: doc.lines.map((l) => ({
      externalId: blank(l.id), article: blank(l.article), name: l.name.trim(), quantity: l.quantity.trim(), price: l.price.trim(), amount: l.amount.trim(), unit: blank(l.unit),
    })),
  };
}
