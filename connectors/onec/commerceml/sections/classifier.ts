// The classifier section (Классификатор): groups (parents before children), properties and their
// reference values, and the declarations price types and warehouses, which 2.x offer packages repeat.
import { N_FOR_OFFERS, N_ID, N_NAME, N_VALUE, N_VALUE_TYPE } from '../vocabulary.ts';
import { R } from '../roles.ts';
import { isTrue } from './common.ts';
import type { Data, ReadContext, Section } from './context.ts';
import type { RecordKind } from '../kinds.ts';

interface Frame {
  data: Data;
  line: number;
  path: string;
}

interface GroupFrame extends Frame {
  emitted: boolean;
}

/** Ид (trimmed) and Наименование (as written), which every classifier entry has; false for other names. */
function idOrName(data: Data, name: number, text: string): boolean {
  if (name === N_ID) data.id = text.trim();
  else if (name === N_NAME) data.name = text;
  else return false;
  return true;
}

export class ClassifierSection implements Section {
  private readonly ctx: ReadContext;
  /** Open groups, outermost first. */
  private groups: GroupFrame[] = [];
  private prop: (Frame & { typeSeen: boolean }) | undefined;
  private variant: Frame | undefined;
  private priceType: Frame | undefined;
  private warehouse: Frame | undefined;

  constructor(ctx: ReadContext) {
    this.ctx = ctx;
  }

  enter(role: number, _name: number, d: number): boolean {
    const ctx = this.ctx;
    const want = ctx.want;
    switch (role) {
      case R.GROUP: {
        ctx.counts.groups++;
        const parent = this.groups[this.groups.length - 1];
        // The parent is complete up to its subgroups: emit it first, so parents precede children.
        if (parent && !parent.emitted) this.emitGroup(parent);
        this.groups.push({ data: { id: '', name: '', parent: parent?.data.id ?? '', deleted: '' }, line: want.groups ? ctx.line() : 0, path: ctx.path(d), emitted: false });
        return false;
      }
      case R.PROP:
        ctx.counts.properties++;
        this.prop = { data: { id: '', name: '', valueType: '', forOffers: '', deleted: '' }, line: want.properties || want.propertyValues ? ctx.line() : 0, path: ctx.path(d), typeSeen: false };
        return false;
      case R.VARIANT:
        this.variant = { data: { property: this.prop?.data.id ?? '', id: '', value: '' }, line: want.propertyValues ? ctx.line() : 0, path: ctx.path(d) };
        return false;
      case R.PRICE_TYPE:
        ctx.counts.priceTypes++;
        this.priceType = { data: { id: '', name: '', currency: '', taxName: '', taxIncluded: '' }, line: want.priceTypes ? ctx.line() : 0, path: ctx.path(d) };
        return false;
      case R.WAREHOUSE:
        ctx.counts.warehouses++;
        this.warehouse = { data: { id: '', name: '' }, line: want.warehouses ? ctx.line() : 0, path: ctx.path(d) };
        return false;
    }
    return false;
  }

  field(parent: number, name: number, text: string): void {
    switch (parent) {
      case R.GROUP: {
        const g = this.groups[this.groups.length - 1]!.data;
        if (!idOrName(g, name, text)) g.deleted = text.trim();
        return;
      }
      case R.PROP: {
        const p = this.prop!.data;
        if (idOrName(p, name, text)) return;
        if (name === N_VALUE_TYPE) p.valueType = text.trim();
        else if (name === N_FOR_OFFERS) p.forOffers = text.trim();
        else p.deleted = text.trim();
        return;
      }
      case R.PROP_TYPE:
        // 2.03/2.04 list value types: the first is the property's.
        if (this.prop && !this.prop.typeSeen) {
          this.prop.data.valueType = text.trim();
          this.prop.typeSeen = true;
        }
        return;
      case R.VARIANT: {
        const v = this.variant!.data;
        if (name === N_VALUE) v.value = text;
        else v.id = text.trim();
        return;
      }
      case R.PRICE_TYPE: {
        const t = this.priceType!.data;
        if (!idOrName(t, name, text)) t.currency = text.trim();
        return;
      }
      case R.PT_TAX: {
        const t = this.priceType!.data;
        if (name === N_NAME) t.taxName = text.trim();
        else t.taxIncluded = text.trim();
        return;
      }
      case R.WAREHOUSE: {
        idOrName(this.warehouse!.data, name, text);
        return;
      }
    }
  }

  leave(role: number): void {
    const ctx = this.ctx;
    switch (role) {
      case R.GROUP: {
        const g = this.groups.pop()!;
        if (!g.emitted) this.emitGroup(g);
        return;
      }
      case R.PROP:
        this.emitFrame('properties', this.prop!);
        this.prop = undefined;
        return;
      case R.VARIANT:
        this.emitFrame('propertyValues', this.variant!);
        this.variant = undefined;
        return;
      case R.PRICE_TYPE: {
        const t = this.priceType!;
        if (t.data.id && t.data.currency) ctx.priceTypeCurrency.set(t.data.id, t.data.currency);
        this.emitFrame('priceTypes', t);
        this.priceType = undefined;
        return;
      }
      case R.WAREHOUSE:
        this.emitFrame('warehouses', this.warehouse!);
        this.warehouse = undefined;
        return;
    }
  }

  private emitFrame(kind: RecordKind, f: Frame): void {
    if (this.ctx.want[kind]) this.ctx.emit(kind, f.data, f.line, f.path);
  }

  private emitGroup(g: GroupFrame): void {
    g.emitted = true;
    if (!this.ctx.want.groups) return;
    const data = g.data;
    if (data.deleted) data.deleted = isTrue(data.deleted) ? 'true' : 'false';
    this.ctx.emit('groups', data, g.line, g.path);
  }
}
