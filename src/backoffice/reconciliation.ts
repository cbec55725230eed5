// The reconciliation act (акт сверки взаимных расчётов) of a legal entity, optionally under one
// agreement, for a period: from the settlement movements the ERP sends (settlement_entries). Opening
// balance = debits − credits before the period; the movements of the period; turnover; closing balance.
// A positive balance is the buyer's debt to the seller. Amounts are summed in PostgreSQL on numeric.
// Rendered as a PDF (pdfkit, DejaVu Sans for Cyrillic) with the seller's and the buyer's names.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { startPdf } from './pdf.ts';
import { readSellerHeading, type SellerHeading } from './seller.ts';

type Db = Kysely<Database>;

export interface ActLine {
  date: string;
  documentKind: string | null;
  documentNumber: string | null;
  debit: string;
  credit: string;
}

export interface ReconciliationAct {
  legalEntity: { id: number; code: string; name: string; fullName: string | null; inn: string | null; kpp: string | null };
  agreement: { code: string; name: string } | null;
  from: string;
  to: string;
  currency: string;
  /** debit − credit before `from`: positive, the buyer owes. */
  opening: string;
  lines: ActLine[];
  debitTotal: string;
  creditTotal: string;
  closing: string;
  seller: SellerHeading;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** A valid calendar day YYYY-MM-DD, or undefined. */
export function parseDay(s: unknown): string | undefined {
  if (typeof s !== 'string' || !DAY.test(s)) return undefined;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(s) ? s : undefined;
}

export async function reconciliationAct(db: Db, q: { legalEntityId: number; agreementId?: number | null; from: string; to: string }): Promise<ReconciliationAct> {
  const le = (await sql<ReconciliationAct['legalEntity']>`
    SELECT id::int, code, name, full_name AS "fullName", inn, kpp FROM legal_entities WHERE id = ${q.legalEntityId}`.execute(db)).rows[0];
  if (!le) throw new Error(`no legal entity ${q.legalEntityId}`);
  const ag = q.agreementId == null ? null : (await sql<{ code: string; name: string; currency: string | null }>`
    SELECT code, name, currency FROM agreements WHERE id = ${q.agreementId}`.execute(db)).rows[0] ?? null;
  const agreementFilter = q.agreementId == null ? sql`true` : sql`e.agreement_id = ${q.agreementId}`;
  const totals = (await sql<{ opening: string; debit: string; credit: string; closing: string; currency: string | null }>`
    SELECT round(coalesce(sum(e.debit - e.credit) FILTER (WHERE e.entry_date < ${q.from}::date), 0), 2)::text AS opening,
      round(coalesce(sum(e.debit) FILTER (WHERE e.entry_date BETWEEN ${q.from}::date AND ${q.to}::date), 0), 2)::text AS debit,
      round(coalesce(sum(e.credit) FILTER (WHERE e.entry_date BETWEEN ${q.from}::date AND ${q.to}::date), 0), 2)::text AS credit,
      round(coalesce(sum(e.debit - e.credit) FILTER (WHERE e.entry_date <= ${q.to}::date), 0), 2)::text AS closing,
      min(e.currency) AS currency
    FROM settlement_entries e WHERE e.legal_entity_id = ${q.legalEntityId} AND ${agreementFilter}`.execute(db)).rows[0]!;
  const lines = (await sql<ActLine>`
    SELECT to_char(e.entry_date, 'YYYY-MM-DD') AS date, e.document_kind AS "documentKind", e.document_number AS "documentNumber",
      e.debit::text AS debit, e.credit::text AS credit
    FROM settlement_entries e WHERE e.legal_entity_id = ${q.legalEntityId} AND ${agreementFilter}
      AND e.entry_date BETWEEN ${q.from}::date AND ${q.to}::date
    ORDER BY e.entry_date, e.entry`.execute(db)).rows;
  return {
    legalEntity: le, agreement: ag ? { code: ag.code, name: ag.name } : null, from: q.from, to: q.to,
    currency: ag?.currency ?? totals.currency ?? 'RUB', opening: totals.opening, lines, debitTotal: totals.debit, creditTotal: totals.credit,
    closing: totals.closing, seller: await readSellerHeading(db),
  };
}

const ru = (iso: string): string => iso.split('-').reverse().join('.');
/** "1 234,50" from the exact text; zero as "0,00". */
const amount = (d: string): string => {
  const neg = d.startsWith('-');
  const [i = '0', f = ''] = d.replace('-', '').split('.');
  return `${neg ? '−' : ''}${i.replace(/\B(?=(\d{3})+(?!\d))/g, ' ')},${(f + '00').slice(0, 2)}`;
};
const neg = (d: string): string => (d.startsWith('-') ? d.slice(1) : d === '0.00' ? d : `-${d}`);

/** Who owes whom at a balance, in the act's words. */
function balanceWords(balance: string, act: ReconciliationAct, on: string): string {
  const cur = act.currency === 'RUB' ? 'руб.' : act.currency;
  if (!/[1-9]/.test(balance)) return `На ${ru(on)} задолженность отсутствует.`;
  return balance.startsWith('-')
    ? `На ${ru(on)} задолженность ${act.seller.name} перед ${act.legalEntity.name}: ${amount(neg(balance))} ${cur}`
    : `На ${ru(on)} задолженность ${act.legalEntity.name} перед ${act.seller.name}: ${amount(balance)} ${cur}`;
}

/** The act as a PDF (A4 portrait). */
export async function reconciliationPdf(act: ReconciliationAct): Promise<Buffer> {
  const { doc, done } = await startPdf({ Title: 'Акт сверки взаимных расчётов' });
  const left = doc.page.margins.left;
  const width = doc.page.width - left - doc.page.margins.right;
  const s = act.seller;
  doc.font('bold').fontSize(13).text('Акт сверки взаимных расчётов', { align: 'center' });
  doc.font('body').fontSize(9).text(`за период с ${ru(act.from)} по ${ru(act.to)}`, { align: 'center' });
  doc.moveDown(0.6);
  doc.text(`между ${s.name}${s.inn ? ` (ИНН ${s.inn}${s.kpp ? `, КПП ${s.kpp}` : ''})` : ''} — Продавец`);
  doc.text(`и ${act.legalEntity.fullName ?? act.legalEntity.name}${act.legalEntity.inn ? ` (ИНН ${act.legalEntity.inn}${act.legalEntity.kpp ? `, КПП ${act.legalEntity.kpp}` : ''})` : ''} — Покупатель`);
  if (act.agreement) doc.text(`по договору: ${act.agreement.name}`);
  doc.moveDown(0.6);

  const widths = [70, width - 70 - 100 - 100, 100, 100];
  const titles = ['Дата', 'Документ', 'Дебет', 'Кредит'];
  const row = (cells: string[], font: 'body' | 'bold', fill?: string) => {
    doc.font(font).fontSize(8.5);
    const h = Math.max(...cells.map((c, i) => doc.heightOfString(c, { width: widths[i]! - 6 }))) + 6;
    if (doc.y + h > doc.page.height - doc.page.margins.bottom) doc.addPage();
    const y = doc.y;
    if (fill) doc.rect(left, y, width, h).fill(fill).fillColor('black');
    let x = left;
    cells.forEach((c, i) => {
      doc.text(c, x + 3, y + 3, { width: widths[i]! - 6, align: i >= 2 ? 'right' : 'left' });
      x += widths[i]!;
    });
    doc.moveTo(left, y + h).lineTo(left + width, y + h).lineWidth(0.3).strokeColor('#bbbbbb').stroke();
    doc.x = left;
    doc.y = y + h;
  };
  row(titles, 'bold', '#e8eef6');
  const opening = act.opening;
  row(['', 'Сальдо начальное', opening.startsWith('-') ? '' : amount(opening), opening.startsWith('-') ? amount(neg(opening)) : ''], 'bold');
  for (const l of act.lines) {
    row([ru(l.date), [l.documentKind, l.documentNumber ? `№ ${l.documentNumber}` : null].filter(Boolean).join(' ') || '—',
      /[1-9]/.test(l.debit) ? amount(l.debit) : '', /[1-9]/.test(l.credit) ? amount(l.credit) : ''], 'body');
  }
  if (!act.lines.length) row(['', 'Движений за период нет', '', ''], 'body');
  row(['', 'Обороты за период', amount(act.debitTotal), amount(act.creditTotal)], 'bold');
  const closing = act.closing;
  row(['', 'Сальдо конечное', closing.startsWith('-') ? '' : amount(closing), closing.startsWith('-') ? amount(neg(closing)) : ''], 'bold');
  doc.moveDown(0.8);
  doc.font('body').fontSize(9).text(balanceWords(closing, act, act.to), left, doc.y, { width });
  doc.moveDown(1.5);
  const y = doc.y;
  doc.font('bold').fontSize(9).text('От продавца', left, y, { width: width / 2 - 10 });
  doc.font('body').text(s.name, { width: width / 2 - 10 });
  if (s.address) doc.text(s.address, { width: width / 2 - 10 });
  doc.text('____________________ / ____________', { width: width / 2 - 10 });
  doc.font('bold').text('От покупателя', left + width / 2 + 10, y, { width: width / 2 - 10 });
  doc.font('body').text(act.legalEntity.name, { width: width / 2 - 10 });
  doc.text('____________________ / ____________', { width: width / 2 - 10 });
  doc.end();
  return done;
}
