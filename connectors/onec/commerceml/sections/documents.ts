// The documents section (Документ): every element of an order document goes to the document builder;
// the complete document is handed to onDocument and flattened into `orders` and `orderLines` records.
import { idOfName } from '../vocabulary.ts';
import { R } from '../roles.ts';
import { DocumentBuilder, type OrderDocument } from '../order-document.ts';
import type { Data, ReadContext, Section } from './context.ts';

export class DocumentsSection implements Section {
  private readonly ctx: ReadContext;
  /** Whether documents are built at all (for records or for onDocument). */
  private readonly build: boolean;
  private readonly onDocument: ((doc: OrderDocument) => void) | undefined;
  private doc: DocumentBuilder | undefined;
  private readonly attrByName = (name: string): string | undefined => {
    const i = idOfName(name);
    return i < 0 ? undefined : this.ctx.scanner.attr(i);
  };

  constructor(ctx: ReadContext, onDocument: ((doc: OrderDocument) => void) | undefined) {
    this.ctx = ctx;
    this.onDocument = onDocument;
    this.build = ctx.want.orders || ctx.want.orderLines || onDocument !== undefined;
  }

  enter(role: number, _name: number, d: number): boolean {
    if (role !== R.DOC) return false;
    this.ctx.counts.orders++;
    if (this.build) this.doc = new DocumentBuilder(this.ctx.line(), this.ctx.path(d));
    return false;
  }

  /** An element inside the document opened (DOC_PART); its whole text goes to the builder. */
  openPart(name: number): boolean {
    this.doc!.open(this.ctx.scanner.nameOf(name), this.attrByName, this.ctx.line());
    return true;
  }

  closePart(text: string): void {
    this.doc!.close(text);
  }

  field(): void {
    // A document has no fields of its own: every element inside is a part.
  }

  leave(role: number): void {
    if (role !== R.DOC) return;
    if (this.doc) this.finish(this.doc.finish());
    this.doc = undefined;
  }

  private finish(doc: OrderDocument): void {
    const ctx = this.ctx;
    this.onDocument?.(doc);
    if (ctx.want.orders) {
      const status = doc.requisites.find((q) => q.name === 'Статус заказа')?.value ?? '';
      const cp = doc.counterparties[0];
      const data: Data = {
        id: doc.id, number: doc.number, date: doc.date, time: doc.time, operation: doc.operation, role: doc.role,
        currency: doc.currency, rate: doc.rate, amount: doc.amount, comment: doc.comment, status,
        counterparty: cp?.id ?? '', counterpartyName: cp?.name || cp?.fullName || '', counterpartyInn: cp?.inn ?? '',
        erpNumber: doc.erpNumber ?? '', erpDate: doc.erpDate ?? '', deleted: doc.deletionMark ?? '',
      };
      for (const q of doc.requisites) data[`requisite.${q.name}`] ??= q.value;
      ctx.emit('orders', data, doc.line, doc.path);
    }
    if (ctx.want.orderLines) {
      doc.lines.forEach((l, i) => {
        ctx.emit('orderLines', {
          order: doc.id, number: doc.number, lineNo: String(i + 1), id: l.id, article: l.article, name: l.name,
          unit: l.unit.intl || l.unit.text || l.unit.code, price: l.price, quantity: l.quantity, amount: l.amount,
        }, l.line, `${doc.path}/Товары/Товар[${i + 1}]`);
      });
    }
  }
}
