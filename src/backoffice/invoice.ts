// The invoice for payment (счёт на оплату) of a confirmed order: its data read from the store (seller's
// requisites from portal_settings, the payer's from legal_entities, lines and total from the order) and
// rendered as a PDF (pdfkit, DejaVu Sans for Cyrillic). The total printed is the order's total: when
// the lines do not add up to it, or a requisite is missing, no invoice is made and the reason is given.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { fromKopecks, printMoney, rateText, toKopecks, vatIncluded } from './money.ts';

export { printMoney } from './money.ts';
import { rubWords } from './rub-words.ts';
import { readSeller, type Seller } from './seller.ts';
import { startPdf } from './pdf.ts';

type Db = Kysely<Database>;

/** Why an invoice cannot be made now (Russian: the manager and the console show it); retried later. */
export class InvoiceNotReady extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvoiceNotReady';
  }
}

export interface InvoiceLine {
  no: number;
  name: string;
  sku: string;
  quantity: string;
  unit: string;
  price: string;
  amount: string;
}

export interface InvoiceData {
  orderId: number;
  number: string;
  /** The day the invoice is made (Moscow), `YYYY-MM-DD`. */
  date: string;
  orderNumber: string;
  orderDate: Date;
  seller: Seller;
  payer: { name: string; inn: string; kpp: string | null; address: string | null };
  lines: InvoiceLine[];
  total: string;
  vat: string;
  vatPercent: string;
  words: string;
}

const TZ = 'Europe/Moscow';

const UNITS: Record<string, string> = { pcs: 'шт', PCE: 'шт', '796': 'шт', m: 'м', MTR: 'м', '006': 'м', kg: 'кг', KGM: 'кг', '166': 'кг', pack: 'уп', set: 'компл' };

export function moscowDay(d: Date): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
}

/** Everything the invoice prints, or InvoiceNotReady with the reason. */
export async function invoiceData(db: Db, orderId: number, now = new Date()): Promise<InvoiceData> {
  const o = (await sql<{ id: number; number: string; total: string; currency: string; created_at: Date; le_name: string; le_full_name: string | null; inn: string | null; kpp: string | null; address: string | null }>`
    SELECT o.id, o.number, o.total::text AS total, o.currency,
      -- An offline order is dated by the ERP's document, a portal order by its placing (as the cabinet shows it).
      coalesce(CASE WHEN o.origin = 'offline' THEN o.erp_date END, o.created_at) AS created_at, le.name AS le_name, le.full_name AS le_full_name, le.inn, le.kpp, le.address
    FROM orders o JOIN legal_entities le ON le.id = o.legal_entity_id WHERE o.id = ${orderId}`.execute(db)).rows[0];
  if (!o) throw new InvoiceNotReady(`заказ ${orderId} не найден`);
  const s = await readSeller(db);
  if (!s.ok) throw new InvoiceNotReady(`не заданы реквизиты продавца: ${s.missing.join(', ')}`);
  if (o.currency !== 'RUB') throw new InvoiceNotReady(`заказ ${o.number} в валюте ${o.currency}: счёт формируется только в рублях`);
  if (!o.inn?.trim()) throw new InvoiceNotReady(`у покупателя «${o.le_name}» не указан ИНН`);
  const lines = (await sql<{ line_no: number; name: string; sku: string; quantity: string; unit: string | null; price: string; amount: string }>`
    SELECT line_no, name, sku, trim_scale(quantity)::text AS quantity, unit,
      CASE WHEN scale(trim_scale(price)) < 2 THEN round(price, 2) ELSE trim_scale(price) END::text AS price, amount::text AS amount
    FROM order_lines WHERE order_id = ${orderId} ORDER BY line_no`.execute(db)).rows;
  if (!lines.length) throw new InvoiceNotReady(`в заказе ${o.number} нет строк`);
  const total = toKopecks(o.total);
  const sum = lines.reduce((n, l) => n + toKopecks(l.amount), 0n);
  // The invoice's total is the order's to the kopeck: lines that do not add up are not papered over.
  if (sum !== total) throw new InvoiceNotReady(`сумма строк заказа ${o.number} (${fromKopecks(sum)}) не равна сумме заказа (${fromKopecks(total)})`);
  const vat = vatIncluded(total, s.seller.vatPercent);
  return {
    orderId: o.id, number: o.number, date: moscowDay(now), orderNumber: o.number, orderDate: o.created_at, seller: s.seller,
    payer: { name: o.le_full_name?.trim() || o.le_name, inn: o.inn.trim(), kpp: o.kpp?.trim() || null, address: o.address?.trim() || null },
    lines: lines.map((l) => ({ no: l.line_no, name: l.name, sku: l.sku, quantity: l.quantity, unit: l.unit ? UNITS[l.unit] ?? l.unit : '', price: l.price, amount: l.amount })),
    total: fromKopecks(total), vat: fromKopecks(vat), vatPercent: s.seller.vatPercent, words: rubWords(fromKopecks(total)),
  };
}

const printQty = (v: string): string => v.replace('.', ',');

export function longDate(day: string): string {
  const [y, m, d] = day.split('-').map(Number);
  return new Intl.DateTimeFormat('ru-RU', { timeZone: 'UTC', day: 'numeric', month: 'long', year: 'numeric' }).format(new Date(Date.UTC(y!, m! - 1, d!)));
}

export const invoiceFileName = (d: Pick<InvoiceData, 'number'>): string => `Счёт на оплату ${d.number}.pdf`;

/** The invoice as PDF bytes. */
export async function renderInvoicePdf(d: InvoiceData): Promise<Buffer> {
  const { doc, done } = await startPdf({ Title: `Счёт на оплату № ${d.number}`, Author: d.seller.name });
  const left = doc.page.margins.left;
  const width = doc.page.width - doc.page.margins.left - doc.page.margins.right;
  const bottom = doc.page.height - doc.page.margins.bottom;

  /** A row of bordered cells; each cell's text wraps; returns the row's height. */
  const row = (y: number, cells: Array<{ w: number; text: string; align?: 'left' | 'right' | 'center'; font?: 'body' | 'bold'; small?: string }>, size = 9): number => {
    const pad = 3;
    let h = 0;
    for (const c of cells) {
      doc.font(c.font ?? 'body').fontSize(size);
      let ch = doc.heightOfString(c.text || ' ', { width: c.w - 2 * pad });
      if (c.small) ch += doc.fontSize(7).heightOfString(c.small, { width: c.w - 2 * pad });
      h = Math.max(h, ch + 2 * pad);
    }
    let x = left;
    for (const c of cells) {
      doc.rect(x, y, c.w, h).lineWidth(0.5).stroke();
      doc.font(c.font ?? 'body').fontSize(size).text(c.text, x + pad, y + pad, { width: c.w - 2 * pad, align: c.align ?? 'left' });
      if (c.small) doc.font('body').fontSize(7).fillColor('#555555').text(c.small, x + pad, doc.y, { width: c.w - 2 * pad }).fillColor('black');
      x += c.w;
    }
    return h;
  };

  // The bank block, as Russian invoices print it above the title.
  const s = d.seller;
  let y = doc.page.margins.top;
  const wBank = width * 0.58;
  const wLab = width * 0.1;
  const wVal = width - wBank - wLab;
  y += row(y, [{ w: wBank, text: s.bank, small: 'Банк получателя' }, { w: wLab, text: 'БИК\nСч. №' }, { w: wVal, text: `${s.bik}\n${s.corrAccount}` }]);
  y += row(y, [{ w: wBank / 2, text: `ИНН ${s.inn}` }, { w: wBank / 2, text: s.kpp ? `КПП ${s.kpp}` : 'КПП —' }, { w: wLab, text: 'Сч. №' }, { w: wVal, text: s.account }]);
  y += row(y, [{ w: wBank, text: s.name, small: 'Получатель' }, { w: wLab, text: '' }, { w: wVal, text: '' }]);

  doc.font('bold').fontSize(14).text(`Счёт на оплату № ${d.number} от ${longDate(d.date)}`, left, y + 16, { width });
  doc.moveTo(left, doc.y + 4).lineTo(left + width, doc.y + 4).lineWidth(1.5).stroke();
  doc.moveDown(0.8);
  const party = (label: string, text: string) => {
    const yy = doc.y;
    doc.font('body').fontSize(9).text(label, left, yy, { width: 95 });
    doc.font('bold').fontSize(9).text(text, left + 100, yy, { width: width - 100 });
    doc.moveDown(0.5);
  };
  // No-break spaces keep «ИНН 7704010015» on one line when the text wraps.
  party('Поставщик:', [s.name, `ИНН\u00a0${s.inn}`, s.kpp ? `КПП\u00a0${s.kpp}` : null, s.address].filter(Boolean).join(', '));
  party('Покупатель:', [d.payer.name, `ИНН\u00a0${d.payer.inn}`, d.payer.kpp ? `КПП\u00a0${d.payer.kpp}` : null, d.payer.address].filter(Boolean).join(', '));
  party('Основание:', `Заказ № ${d.orderNumber} от ${new Intl.DateTimeFormat('ru-RU', { timeZone: TZ }).format(d.orderDate)}`);

  const cols = [width * 0.06, width * 0.46, width * 0.1, width * 0.07, width * 0.15, width * 0.16];
  const head = () => row(doc.y, [
    { w: cols[0]!, text: '№', align: 'center', font: 'bold' }, { w: cols[1]!, text: 'Товары (работы, услуги)', align: 'center', font: 'bold' },
    { w: cols[2]!, text: 'Кол-во', align: 'center', font: 'bold' }, { w: cols[3]!, text: 'Ед.', align: 'center', font: 'bold' },
    { w: cols[4]!, text: 'Цена', align: 'center', font: 'bold' }, { w: cols[5]!, text: 'Сумма', align: 'center', font: 'bold' },
  ]);
  doc.y += 4;
  let ty = doc.y;
  ty += head();
  for (const l of d.lines) {
    doc.font('body').fontSize(9);
    const need = doc.heightOfString(l.name, { width: cols[1]! - 6 }) + 16;
    if (ty + need > bottom - 20) {
      doc.addPage();
      doc.y = doc.page.margins.top;
      ty = doc.y + head();
    }
    ty += row(ty, [
      { w: cols[0]!, text: String(l.no), align: 'center' }, { w: cols[1]!, text: l.name, small: `Код ${l.sku}` },
      { w: cols[2]!, text: printQty(l.quantity), align: 'right' }, { w: cols[3]!, text: l.unit, align: 'center' },
      { w: cols[4]!, text: printMoney(l.price), align: 'right' }, { w: cols[5]!, text: printMoney(l.amount), align: 'right' },
    ]);
  }
  if (ty + 140 > bottom) {
    doc.addPage();
    ty = doc.page.margins.top;
  }
  const total = (label: string, value: string, yy: number) => {
    doc.font('bold').fontSize(10).text(label, left, yy, { width: width - cols[5]! - 6, align: 'right' });
    doc.text(value, left + width - cols[5]!, yy, { width: cols[5]! - 3, align: 'right' });
  };
  ty += 6;
  total('Итого:', printMoney(d.total), ty);
  const vatLabel = toKopecks(d.vat) === 0n && Number(d.vatPercent) === 0 ? 'Без налога (НДС):' : `В том числе НДС ${rateText(d.vatPercent)} %:`;
  total(vatLabel, toKopecks(d.vat) === 0n && Number(d.vatPercent) === 0 ? '—' : printMoney(d.vat), ty + 15);
  total('Всего к оплате:', printMoney(d.total), ty + 30);
  doc.font('body').fontSize(9).text(`Всего наименований ${d.lines.length}, на сумму ${printMoney(d.total)} руб.`, left, ty + 52, { width });
  doc.font('bold').fontSize(10).text(d.words, left, doc.y + 2, { width });
  doc.moveDown(0.8);
  doc.font('body').fontSize(8).fillColor('#333333')
    .text('Оплата данного счёта означает согласие с условиями поставки товара. Товар отпускается по факту прихода денег на расчётный счёт поставщика. '
      + 'В платёжном поручении укажите номер счёта.', left, doc.y, { width }).fillColor('black');
  doc.moveTo(left, doc.y + 6).lineTo(left + width, doc.y + 6).lineWidth(1.5).stroke();
  const sy = doc.y + 24;
  doc.font('bold').fontSize(9).text('Руководитель', left, sy).text('Бухгалтер', left + width / 2, sy);
  doc.moveTo(left + 75, sy + 10).lineTo(left + width / 2 - 20, sy + 10).lineWidth(0.5).stroke();
  doc.moveTo(left + width / 2 + 60, sy + 10).lineTo(left + width, sy + 10).lineWidth(0.5).stroke();
  doc.end();
  return done;
}
