// Pieces more than one CommerceML section reads the same way: base units with their recalculation,
// name/value pairs (taxes, requisites, characteristics), product property values, truth values.
import type { XmlScanner } from '../../../lib/index.ts';
import { A_CODE, A_FULL_NAME, A_INTL, A_SHORT_NAME, N_ID, N_NAME, N_RATE, N_UNIT, N_VALUE } from '../vocabulary.ts';
import type { ReadContext } from './context.ts';

export const isTrue = (v: string): boolean => {
  const s = v.trim().toLowerCase();
  return s === 'true' || s === '1' || s === 'да' || s === 'истина';
};

export interface UnitHolder {
  unitCode: string;
  unitName: string;
  unitIntl: string;
  unitShort: string;
  unitText: string;
  unitRecalcUnit: string;
  unitRecalcFactor: string;
}

export function emptyUnit(): UnitHolder {
  return { unitCode: '', unitName: '', unitIntl: '', unitShort: '', unitText: '', unitRecalcUnit: '', unitRecalcFactor: '' };
}

/** The canonical unit code: the international abbreviation, else the short name, the text, the code. */
export function unitOf(u: UnitHolder): string {
  return (u.unitIntl || u.unitShort || u.unitText || u.unitCode).trim();
}

/** `<БазоваяЕдиница Код НаименованиеПолное МеждународноеСокращение НаименованиеКраткое>` opened. */
function readUnitAttributes(u: UnitHolder, sc: XmlScanner): void {
  if (!sc.hasAttributes) return;
  u.unitCode = sc.attr(A_CODE)?.trim() ?? '';
  u.unitName = sc.attr(A_FULL_NAME) ?? '';
  u.unitIntl = sc.attr(A_INTL) ?? '';
  u.unitShort = sc.attr(A_SHORT_NAME) ?? '';
}

/** A field of БазоваяЕдиница/Пересчет. */
function recalcField(u: UnitHolder | undefined, name: number, text: string): void {
  if (!u) return;
  if (name === N_UNIT) u.unitRecalcUnit = text.trim();
  else u.unitRecalcFactor = text.trim();
}

/** A name and a value: СтавкаНалога (Ставка), ЗначениеРеквизита and ХарактеристикаТовара (Значение). */
export interface Pair {
  name: string;
  value: string;
}

function pairField(p: Pair, name: number, text: string): void {
  if (name === N_NAME) p.name = text.trim();
  else if (name === N_RATE || (name === N_VALUE && p.value === '')) p.value = text;
}

/** ЗначенияСвойства of a product or a characteristic offer. */
export interface PropertyValues {
  property: string;
  values: string[];
  line: number;
  path: string;
}

/** A field of ЗначенияСвойства: the property's Ид, or one of its values. */
function propertyValuesField(pp: PropertyValues, name: number, text: string): void {
  if (name === N_ID) pp.property = text.trim();
  else pp.values.push(text);
}

export function emitPropertyValues(ctx: ReadContext, product: string, pp: PropertyValues): void {
  if (!ctx.want.productProperties) return;
  for (const value of pp.values) {
    if (value.trim() === '') continue;
    ctx.emit('productProperties', { product, property: pp.property, value }, pp.line, pp.path);
  }
}

/**
 * The parts a product and an offer both hold, read the same way: the base unit with its recalculation,
 * property values and a name/value pair. Each section keeps one, for the item being read.
 */
export class ItemParts {
  private readonly ctx: ReadContext;
  unit: UnitHolder | undefined;
  props: PropertyValues | undefined;
  pair: Pair | undefined;

  constructor(ctx: ReadContext) {
    this.ctx = ctx;
  }

  /** БазоваяЕдиница of the item opened; returns whether its text (the unit name) is wanted. */
  openUnit(u: UnitHolder | undefined): boolean {
    this.unit = u;
    if (u) readUnitAttributes(u, this.ctx.scanner);
    return u !== undefined;
  }

  closeUnit(text: string): void {
    if (this.unit) this.unit.unitText = text.trim();
    this.unit = undefined;
  }

  openProps(d: number): void {
    this.props = { property: '', values: [], line: this.ctx.line(), path: this.ctx.path(d) };
  }

  /** ЗначенияСвойства closed: its property and values. */
  closeProps(): PropertyValues {
    const pp = this.props!;
    this.props = undefined;
    return pp;
  }

  openPair(): void {
    this.pair = { name: '', value: '' };
  }

  closePair(): Pair {
    const p = this.pair!;
    this.pair = undefined;
    return p;
  }

    recalcField(name: number, text: string): void {
    recalcField(this.unit, name, text);
  }

  propsField(name: number, text: string): void {
    propertyValuesField(this.props!, name, text);
  }

  pairField(name: number, text: string): void {
    pairField(this.pair!, name, text);
  }
}
