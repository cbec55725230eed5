// What an order document from 1C changes on our order: statuses, payment, shipment, 1C number and date,
// read from its requisites the way 1C-Bitrix reads them. Pure: no store access, so every rule is testable.
import { parseLocal } from './sale-time.ts';
import type { OrderChange, OrderStatus } from '../../../src/port/index.ts';

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
export function mapIncomingOrder(doc: IncomingOrder, statuses: StatusResolver, timeZone: string): MappedOrderChange {
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

  const numbers = [...new Set([doc.number?.trim(), doc.id?.trim()].filter((x): x is string => !!x))];
  return { refs: { numbers, ...(erpNumber ? { erpNumber } : {}) }, change, warnings };
}
