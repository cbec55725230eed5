// The offers section (ПакетПредложений/Предложения): prices and per-warehouse stock of each offer
// (both stock forms and Остатки), emitted once the offer's Ид is known, and the SKU records of
// characteristic offers (product#characteristic) with their characteristics and property values.
import type { SourceRecord } from '../../../../src/port/index.ts';
import {
  A_WAREHOUSE_ID, A_WAREHOUSE_QTY, N_ARTICLE, N_BARCODE, N_CURRENCY, N_DELETION_MARK, N_FACTOR, N_ID, N_NAME, N_PRESENTATION,
  N_PRICE_TYPE_ID, N_QUANTITY, N_STATUS, N_UNIT, N_UNIT_PRICE,
} from '../vocabulary.ts';
import { R } from '../roles.ts';
import { emitPropertyValues, emptyUnit, isTrue, ItemParts, unitOf, type PropertyValues, type UnitHolder } from './common.ts';
import type { ReadContext, Section } from './context.ts';
import { PRICE_FIELDS, PriceBlock } from './price-block.ts';
import type { RecordTake } from '../../../../src/port/index.ts';

interface Offer {
  id: string;
  name: string;
  article: string;
  barcode: string;
  quantity: string;
  deleted: string;
  unit: UnitHolder;
  characteristics: string[];
  line: number;
  path: string;
  /** Prices and stock, waiting for the offer's end (the Ид may come after them). */
  pending: SourceRecord[];
  props: PropertyValues[];
}

export class OffersSection implements Section {
  private readonly ctx: ReadContext;
  /** Only price types and warehouses are wanted: nothing from `<Предложения>` on matters. */
  private readonly stopAtOffers: boolean;
  private offer: Offer | undefined;
  private price: SourceRecord | undefined;
  private stock: SourceRecord | undefined;
  private readonly parts: ItemParts;

  /** An offer's prices taken from their bytes (a first load), when the reader was given a RecordTake. */
  private readonly take: RecordTake | undefined;
  private readonly block = new PriceBlock();

  constructor(ctx: ReadContext, stopAtOffers: boolean, take?: RecordTake) {
    this.ctx = ctx;
    this.stopAtOffers = stopAtOffers;
    this.parts = new ItemParts(ctx);
    this.take = take;
  }

  /**
   * The content of an offer's `<Цены>`, offered by the scanner (see enter): its prices handed to the
   * RecordTake as byte ranges, or false to read them as elements.
   */
  /** Where an offer's `<Цены>` content ends, read as content() takes it (ScanHandler.measure). */
  measure(buf: Uint8Array, s: number, limit: number): number {
    return this.take ? this.block.measure(buf, s, limit) : -1;
  }

  content(buf: Uint8Array, s: number, e: number): boolean {
    const o = this.offer;
    if (!o || !this.take) return false;
    const n = this.block.read(buf, s, e);
    if (n <= 0) return false;
    const hash = o.id.indexOf('#');
    if (!this.take.take('prices', PRICE_FIELDS, { offer: o.id, product: hash >= 0 ? o.id.slice(0, hash) : o.id }, buf, this.block.pos, n)) return false;
    this.ctx.counts.prices += n;
    this.ctx.scanner.linesCounted(s, e, this.block.lines, this.block.lastBreak);
    return true;
  }

  enter(role: number, _name: number, d: number): boolean {
    const ctx = this.ctx;
    const sc = ctx.scanner;
    switch (role) {
      case R.PRICE:
        ctx.counts.prices++;
        if (ctx.want.prices) {
          this.price = { kind: 'prices', data: { offer: '', product: '', priceType: '', price: '', currency: '', unit: '', factor: '', presentation: '' }, line: ctx.line(), path: ctx.path(d) };
        }
        return false;
      case R.OFFER_WH: {
        // `<Склад ИдСклада КоличествоНаСкладе/>` (2.06+), or a Склад with Ид and Количество inside.
        const wh = sc.hasAttributes ? sc.attr(A_WAREHOUSE_ID) : undefined;
        ctx.counts.stock++;
        if (wh !== undefined) {
          if (ctx.want.stock) this.offer?.pending.push({ kind: 'stock', data: { offer: '', product: '', warehouse: wh, quantity: sc.attr(A_WAREHOUSE_QTY) ?? '' }, line: ctx.line(), path: ctx.path(d) });
          this.stock = undefined;
        } else {
          this.stock = this.newStock(d);
        }
        return false;
      }
      case R.REST_WH:
        ctx.counts.stock++;
        this.stock = this.newStock(d);
        return false;
      case R.OFFER:
        ctx.counts.offers++;
        this.offer = {
          id: '', name: '', article: '', barcode: '', quantity: '', deleted: '', unit: emptyUnit(), characteristics: [],
          line: ctx.want.offers ? ctx.line() : 0, path: ctx.path(d), pending: [], props: [],
        };
        return false;
      case R.OFFERS:
        if (this.stopAtOffers) sc.stop();
        return false;
      case R.PRICES:
        // Its prices may be taken from their bytes once the offer's Ид is known (it comes first in 1C's files).
        if (this.take && ctx.want.prices && this.offer && this.offer.id !== '') sc.offerContent();
        return false;
      case R.OFFER_UNIT:
        return this.parts.openUnit(this.offer?.unit);
      case R.OFFER_PROP:
        this.parts.openProps(d);
        return false;
      case R.CHAR:
        this.parts.openPair();
        return false;
    }
    return false;
  }

  private newStock(d: number): SourceRecord {
    const ctx = this.ctx;
    return { kind: 'stock', data: { offer: '', product: '', warehouse: '', quantity: '' }, line: ctx.want.stock ? ctx.line() : 0, path: ctx.path(d) };
  }

  field(parent: number, name: number, text: string): void {
    switch (parent) {
      case R.PRICE: {
        const p = this.price!.data;
        // Values as written: the mapping trims them (and prices come by the million).
        switch (name) {
          case N_PRESENTATION: p.presentation = text; break;
          case N_PRICE_TYPE_ID: p.priceType = text; break;
          case N_UNIT_PRICE: p.price = text; break;
          case N_CURRENCY: p.currency = text; break;
          case N_UNIT: p.unit = text; break;
          case N_FACTOR: p.factor = text; break;
        }
        return;
      }
      case R.OFFER: {
        const o = this.offer!;
        switch (name) {
          case N_ID: o.id = text.trim(); break;
          case N_NAME: o.name = text; break;
          case N_ARTICLE: o.article = text; break;
          case N_BARCODE: o.barcode = text; break;
          case N_QUANTITY: o.quantity = text.trim(); break;
          case N_DELETION_MARK: o.deleted = isTrue(text) ? 'true' : text.trim(); break;
          case N_STATUS: if (text.trim() === 'Удален') o.deleted = 'true'; break;
        }
        return;
      }
      case R.OFFER_WH:
      case R.REST_WH:
        if (this.stock) {
          if (name === N_ID) this.stock.data.warehouse = text.trim();
          else this.stock.data.quantity = text.trim();
        }
        return;
      case R.OFFER_RECALC:
        this.parts.recalcField(name, text);
        return;
      case R.OFFER_PROP:
        this.parts.propsField(name, text);
        return;
      case R.CHAR:
        this.parts.pairField(name, text);
        return;
    }
  }

  leave(role: number, _d: number, text: string): void {
    switch (role) {
      case R.PRICE: {
        const p = this.price;
        if (p) {
          if (!p.data.currency) p.data.currency = this.ctx.priceTypeCurrency.get(p.data.priceType!.trim()) ?? '';
          this.offer?.pending.push(p);
        }
        this.price = undefined;
        return;
      }
      case R.OFFER_WH:
      case R.REST_WH:
        if (this.stock && this.ctx.want.stock) this.offer?.pending.push(this.stock);
        this.stock = undefined;
        return;
      case R.OFFER:
        this.finishOffer();
        return;
      case R.OFFER_UNIT:
        this.parts.closeUnit(text);
        return;
      case R.OFFER_PROP: {
        const pp = this.parts.closeProps();
        this.offer?.props.push(pp);
        return;
      }
      case R.CHAR: {
        const c = this.parts.closePair();
        if (this.offer && (c.name || c.value)) this.offer.characteristics.push(`${c.name}: ${c.value.trim()}`);
        return;
      }
    }
  }

  private finishOffer(): void {
    const ctx = this.ctx;
    const o = this.offer!;
    this.offer = undefined;
    const hash = o.id.indexOf('#');
    const product = hash >= 0 ? o.id.slice(0, hash) : o.id;
    const characteristic = hash >= 0 ? o.id.slice(hash + 1) : '';
    // A SKU of its own: a characteristic offer that names itself. A plain offer is its catalog product.
    if (ctx.want.offers && ((characteristic !== '' && o.name.trim() !== '') || ctx.plainOffers)) {
      ctx.emit('offers', {
        id: o.id, product, characteristic, name: o.name, article: o.article, barcode: o.barcode, quantity: o.quantity,
        unit: unitOf(o.unit), deleted: o.deleted, characteristics: o.characteristics.join('; '),
      }, o.line, o.path);
    }
    for (const rec of o.pending) {
      rec.data.offer = o.id;
      rec.data.product = product;
      ctx.push(rec);
    }
    if (characteristic !== '') for (const pp of o.props) emitPropertyValues(ctx, o.id, pp);
  }
}
