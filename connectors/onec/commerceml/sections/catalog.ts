// The catalog section (Каталог/Товары): one `products` record per Товар with its unit, first group,
// taxes and requisites, and `productProperties` records for its property values.
import { N_ARTICLE, N_BARCODE, N_DELETION_MARK, N_ID, N_NAME, N_STATUS } from '../vocabulary.ts';
import { R } from '../roles.ts';
import { emitPropertyValues, emptyUnit, isTrue, ItemParts, unitOf, type UnitHolder } from './common.ts';
import type { Data, ReadContext, Section } from './context.ts';

interface Product {
  data: Data;
  unit: UnitHolder;
  line: number;
  path: string;
  hasGroup: boolean;
}

export class CatalogSection implements Section {
  private readonly ctx: ReadContext;
  private product: Product | undefined;
  private readonly parts: ItemParts;

  constructor(ctx: ReadContext) {
    this.ctx = ctx;
    this.parts = new ItemParts(ctx);
  }

  enter(role: number, _name: number, d: number): boolean {
    const ctx = this.ctx;
    const sc = ctx.scanner;
    switch (role) {
      case R.PRODUCT: {
        ctx.counts.products++;
        const status = sc.hasAttributes ? sc.attr(N_STATUS) : undefined;
        this.product = {
          data: { id: '', name: '', article: '', barcode: '', group: '', unit: '', unitCode: '', unitName: '', unitRecalcUnit: '', unitRecalcFactor: '', deleted: '', status: status ?? '' },
          unit: emptyUnit(), line: ctx.line(), path: ctx.path(d), hasGroup: false,
        };
        return false;
      }
      case R.PRODUCT_UNIT:
        return this.parts.openUnit(this.product?.unit);
      case R.PRODUCT_PROP:
        this.parts.openProps(d);
        return false;
      case R.TAX:
      case R.REQ:
        this.parts.openPair();
        return false;
    }
    return false;
  }

  field(parent: number, name: number, text: string): void {
    switch (parent) {
      case R.PRODUCT: {
        const p = this.product!.data;
        switch (name) {
          case N_ID: p.id = text.trim(); break;
          case N_NAME: p.name = text; break;
          case N_ARTICLE: p.article = text; break;
          case N_BARCODE: p.barcode = text; break;
          case N_DELETION_MARK: p.deleted = text.trim(); break;
          case N_STATUS: p.status = text.trim(); break;
        }
        return;
      }
      case R.PRODUCT_RECALC:
        this.parts.recalcField(name, text);
        return;
      case R.PRODUCT_GROUPS:
        // A product may list several groups; the first is its own.
        if (this.product && !this.product.hasGroup) {
          this.product.data.group = text.trim();
          this.product.hasGroup = true;
        }
        return;
      case R.PRODUCT_PROP:
        this.parts.propsField(name, text);
        return;
      case R.TAX:
      case R.REQ:
        this.parts.pairField(name, text);
        return;
    }
  }

  leave(role: number, _d: number, text: string): void {
    switch (role) {
      case R.PRODUCT_UNIT:
        this.parts.closeUnit(text);
        return;
      case R.PRODUCT_PROP: {
        const pp = this.parts.closeProps();
        if (this.product) emitPropertyValues(this.ctx, this.product.data.id ?? '', pp);
        return;
      }
      case R.TAX: {
        const t = this.parts.closePair();
        if (this.product && t.name) this.product.data[`tax.${t.name}`] ??= t.value.trim();
        return;
      }
      case R.REQ: {
        const q = this.parts.closePair();
        if (this.product && q.name) this.product.data[`requisite.${q.name}`] ??= q.value;
        return;
      }
      case R.PRODUCT:
        this.finishProduct();
        return;
    }
  }

  private finishProduct(): void {
    const p = this.product!;
    this.product = undefined;
    if (!this.ctx.want.products) return;
    const data = p.data;
    const u = p.unit;
    data.unit = unitOf(u);
    data.unitCode = u.unitCode;
    data.unitName = u.unitName;
    data.unitRecalcUnit = u.unitRecalcUnit;
    data.unitRecalcFactor = u.unitRecalcFactor;
    // ПометкаУдаления, or Статус «Удален» (element or attribute, 2.05+).
    const deleted = data.deleted ?? '';
    const status = data.status ?? '';
    const marked = deleted !== '' ? isTrue(deleted) : undefined;
    const removed = status !== '' ? status === 'Удален' : undefined;
    data.deleted = marked || removed ? 'true' : marked === false || removed === false ? 'false' : '';
    this.ctx.emit('products', data, p.line, p.path);
  }
}
