// The CommerceML reader: turns the scanner's element events into flat source records, one kind per
// document part (groups, properties, products, offers, prices, stock, orders …), each with its line and
// element path. It works for every shape 1C writes (2.03–2.10, 3.x with Контейнер, both stock forms) and
// keeps only the current record in memory.
import type { Readable } from 'node:stream';
import { PayloadError, type SourceRecord } from '../../../src/port/index.ts';
import { DocumentBuilder, type OrderDocument } from './order-document.ts';
import { XmlScanner, type ScanHandler } from '../../lib/index.ts';

/** Record kinds the reader emits; a flow's mapping `name` selects one. */
export const RECORD_KINDS = [
  'groups', 'properties', 'propertyValues', 'products', 'productProperties', 'priceTypes', 'warehouses',
  'offers', 'prices', 'stock', 'orders', 'orderLines',
] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

/**
 * Elements of the file, counted with the meanings `magistral dry-run` reports: `products` = Товар in
 * Каталог/Товары, `groups` = every Группа of the classifier at any depth, `properties` = Свойство of the
 * classifier, `priceTypes` = declared ТипЦены, `warehouses` = declared Склад, `offers` = Предложение,
 * `prices` = Цена of offers, `stock` = per-warehouse quantities of offers (both forms), `orders` = Документ.
 */
export type ElementCounts = {
  products: number;
  groups: number;
  properties: number;
  priceTypes: number;
  warehouses: number;
  offers: number;
  prices: number;
  stock: number;
  orders: number;
};

export const COUNT_KEYS: ReadonlyArray<keyof ElementCounts> = ['products', 'groups', 'properties', 'priceTypes', 'warehouses', 'offers', 'prices', 'stock', 'orders'];

export function emptyCounts(): ElementCounts {
  return { products: 0, groups: 0, properties: 0, priceTypes: 0, warehouses: 0, offers: 0, prices: 0, stock: 0, orders: 0 };
}

export interface ReaderOptions {
  fileName: string;
  /** Kinds to emit; absent: all. Work for the others is skipped. */
  kinds?: ReadonlySet<string>;
  /** Told when the file says it holds changes only (delta) or explicitly everything (snapshot). */
  setMode?(mode: 'delta' | 'snapshot'): void;
  /**
   * Also emit offers without a characteristic as `offers` records. Off by default: a plain offer's Ид is
   * its catalog product's Ид, and the catalog (Товар) is what describes that product.
   */
  plainOffers?: boolean;
  /** Records per batch. @defaultValue 2000 */
  batchSize?: number;
  /** Called with every order document, complete. */
  onDocument?(doc: OrderDocument): void;
  signal?: AbortSignal;
}

// The vocabulary: element and attribute names the reader knows, with constant ids.
const VOCAB = [
  'КоммерческаяИнформация', 'Контейнер', 'Классификатор', 'Каталог', 'ПакетПредложений', 'ИзмененияПакетаПредложений', 'Документ',
  'СодержитТолькоИзменения', 'Ид', 'Наименование', 'Группы', 'Группа', 'ПометкаУдаления', 'Статус',
  'Свойства', 'Свойство', 'ТипЗначений', 'ТипыЗначений', 'Тип', 'ВариантыЗначений', 'Справочник', 'ИдЗначения', 'Значение',
  'ВариантЗначения', 'ДляПредложений', 'Товары', 'Товар', 'Артикул', 'Штрихкод', 'БазоваяЕдиница', 'Пересчет', 'Единица',
  'Коэффициент', 'ЗначенияСвойств', 'ЗначенияСвойства', 'СтавкиНалогов', 'СтавкаНалога', 'Ставка', 'ЗначенияРеквизитов',
  'ЗначениеРеквизита', 'ТипыЦен', 'ТипЦены', 'Валюта', 'Налог', 'УчтеноВСумме', 'Склады', 'Склад', 'Предложения', 'Предложение',
  'Количество', 'Цены', 'Цена', 'Представление', 'ИдТипаЦены', 'ЦенаЗаЕдиницу', 'Остатки', 'Остаток', 'ХарактеристикиТовара',
  'ХарактеристикаТовара', 'ИдСклада', 'КоличествоНаСкладе', 'Код', 'НаименованиеПолное', 'МеждународноеСокращение',
  'НаименованиеКраткое', 'ИдХарактеристики',
] as const;
const id = (n: (typeof VOCAB)[number]): number => VOCAB.indexOf(n);

const N_ROOT = id('КоммерческаяИнформация');
const N_CONTAINER = id('Контейнер');
const N_CLASSIFIER = id('Классификатор');
const N_CATALOG = id('Каталог');
const N_PACKAGE = id('ПакетПредложений');
const N_PACKAGE_CHANGES = id('ИзмененияПакетаПредложений');
const N_DOCUMENT = id('Документ');
const N_ONLY_CHANGES = id('СодержитТолькоИзменения');
const N_ID = id('Ид');
const N_NAME = id('Наименование');
const N_GROUPS = id('Группы');
const N_GROUP = id('Группа');
const N_DELETION_MARK = id('ПометкаУдаления');
const N_STATUS = id('Статус');
const N_PROPERTIES = id('Свойства');
const N_PROPERTY = id('Свойство');
const N_VALUE_TYPE = id('ТипЗначений');
const N_VALUE_TYPES = id('ТипыЗначений');
const N_TYPE = id('Тип');
const N_VARIANTS = id('ВариантыЗначений');
const N_DICTIONARY = id('Справочник');
const N_VALUE_ID = id('ИдЗначения');
const N_VALUE = id('Значение');
const N_VARIANT = id('ВариантЗначения');
const N_FOR_OFFERS = id('ДляПредложений');
const N_PRODUCTS = id('Товары');
const N_PRODUCT = id('Товар');
const N_ARTICLE = id('Артикул');
const N_BARCODE = id('Штрихкод');
const N_BASE_UNIT = id('БазоваяЕдиница');
const N_RECALC = id('Пересчет');
const N_UNIT = id('Единица');
const N_FACTOR = id('Коэффициент');
const N_PROPERTY_VALUES = id('ЗначенияСвойств');
const N_PROPERTY_VALUE = id('ЗначенияСвойства');
const N_TAX_RATES = id('СтавкиНалогов');
const N_TAX_RATE = id('СтавкаНалога');
const N_RATE = id('Ставка');
const N_REQUISITES = id('ЗначенияРеквизитов');
const N_REQUISITE = id('ЗначениеРеквизита');
const N_PRICE_TYPES = id('ТипыЦен');
const N_PRICE_TYPE = id('ТипЦены');
const N_CURRENCY = id('Валюта');
const N_TAX = id('Налог');
const N_INCLUDED = id('УчтеноВСумме');
const N_WAREHOUSES = id('Склады');
const N_WAREHOUSE = id('Склад');
const N_OFFERS = id('Предложения');
const N_OFFER = id('Предложение');
const N_QUANTITY = id('Количество');
const N_PRICES = id('Цены');
const N_PRICE = id('Цена');
const N_PRESENTATION = id('Представление');
const N_PRICE_TYPE_ID = id('ИдТипаЦены');
const N_UNIT_PRICE = id('ЦенаЗаЕдиницу');
const N_RESTS = id('Остатки');
const N_REST = id('Остаток');
const N_CHARACTERISTICS = id('ХарактеристикиТовара');
const N_CHARACTERISTIC = id('ХарактеристикаТовара');
const A_WAREHOUSE_ID = id('ИдСклада');
const A_WAREHOUSE_QTY = id('КоличествоНаСкладе');
const A_CODE = id('Код');
const A_FULL_NAME = id('НаименованиеПолное');
const A_INTL = id('МеждународноеСокращение');
const A_SHORT_NAME = id('НаименованиеКраткое');

/** Elements that repeat under their parent: their path part carries a 1-based index. */
const INDEXED = new Set([
  N_GROUP, N_PROPERTY, N_DICTIONARY, N_VARIANT, N_PRODUCT, N_PROPERTY_VALUE, N_TAX_RATE, N_REQUISITE, N_PRICE_TYPE,
  N_WAREHOUSE, N_OFFER, N_PRICE, N_REST, N_DOCUMENT, N_CHARACTERISTIC,
]);

// Roles: what an open element is in the document, decided from its parent's role and its name.
const R_SKIP = 0;
/** A leaf whose text goes to the record of its parent. */
const R_FIELD = 1;
const R_TOP = 2;
const R_ROOT = 3;
const R_CLASSIFIER = 4;
const R_CATALOG = 5;
const R_PACKAGE = 6;
const R_DOC = 7;
const R_GROUPS = 8;
const R_GROUP = 9;
const R_PROPS = 10;
const R_PROP = 11;
const R_PROP_TYPES = 12;
const R_PROP_TYPE = 13;
const R_VARIANTS = 14;
const R_VARIANT = 15;
const R_PRODUCTS = 16;
const R_PRODUCT = 17;
const R_UNIT = 18;
const R_RECALC = 19;
const R_PGROUPS = 20;
const R_PPROPS = 21;
const R_PPROP = 22;
const R_TAXES = 23;
const R_TAX = 24;
const R_REQS = 25;
const R_REQ = 26;
const R_PRICE_TYPES = 27;
const R_PRICE_TYPE = 28;
const R_PT_TAX = 29;
const R_WAREHOUSES = 30;
const R_WAREHOUSE = 31;
const R_OFFERS = 32;
const R_OFFER = 33;
const R_OFFER_WHS = 34;
const R_OFFER_WH = 35;
const R_PRICES = 36;
const R_PRICE = 37;
const R_RESTS = 38;
const R_REST = 39;
const R_REST_WH = 40;
const R_CHARS = 41;
const R_CHAR = 42;
const R_DOC_PART = 43;

type Data = Record<string, string>;

interface GroupFrame {
  data: Data;
  line: number;
  path: string;
  emitted: boolean;
}

interface UnitHolder {
  unit: string;
  unitCode: string;
  unitName: string;
  unitIntl: string;
  unitShort: string;
  unitText: string;
  unitRecalcUnit: string;
  unitRecalcFactor: string;
}

function emptyUnit(): UnitHolder {
  return { unit: '', unitCode: '', unitName: '', unitIntl: '', unitShort: '', unitText: '', unitRecalcUnit: '', unitRecalcFactor: '' };
}

/** The canonical unit code: the international abbreviation, else the short name, the text, the code. */
function unitOf(u: UnitHolder): string {
  return (u.unitIntl || u.unitShort || u.unitText || u.unitCode).trim();
}

const isTrue = (v: string): boolean => {
  const s = v.trim().toLowerCase();
  return s === 'true' || s === '1' || s === 'да' || s === 'истина';
};

/** Reads CommerceML scanner events into records and element counts. */
export class CommerceMLReader implements ScanHandler {
  readonly scanner: XmlScanner;
  readonly counts = emptyCounts();
  private readonly o: ReaderOptions;
  private readonly batchSize: number;
  private batch: SourceRecord[] = [];
  private readonly ready: SourceRecord[][] = [];

  // What is wanted.
  private readonly wGroups: boolean;
  private readonly wProps: boolean;
  private readonly wPropValues: boolean;
  private readonly wProducts: boolean;
  private readonly wProductProps: boolean;
  private readonly wPriceTypes: boolean;
  private readonly wWarehouses: boolean;
  private readonly wOffers: boolean;
  private readonly wPrices: boolean;
  private readonly wStock: boolean;
  private readonly wOrders: boolean;
  private readonly wOrderLines: boolean;
  private readonly wDocs: boolean;
  /** Only price types and warehouses wanted: nothing after `<Предложения>` matters. */
  private readonly stopAtOffers: boolean;

  // Per depth: role, element path (structural elements only) and sibling counters for indexed names.
  private role = new Uint8Array(64);
  private paths: string[] = new Array<string>(64).fill('');
  private sibNames: number[][] = [];
  private sibCounts: number[][] = [];

  private delta = false;
  private groups: GroupFrame[] = [];
  private prop: { data: Data; line: number; path: string; typeSeen: boolean } | undefined;
  private variant: { data: Data; line: number; path: string } | undefined;
  private product: { data: Data; unit: UnitHolder; line: number; path: string; hasGroup: boolean } | undefined;
  private pprop: { property: string; values: string[]; line: number; path: string } | undefined;
  private pair: { name: string; value: string } | undefined;
  private priceType: { data: Data; line: number; path: string } | undefined;
  private warehouse: { data: Data; line: number; path: string } | undefined;
  private offer: {
    id: string; name: string; article: string; barcode: string; quantity: string; deleted: string; unit: UnitHolder;
    characteristics: string[]; line: number; path: string; pending: SourceRecord[]; props: Array<{ property: string; values: string[]; line: number; path: string }>;
  } | undefined;
  private price: SourceRecord | undefined;
  private stock: SourceRecord | undefined;
  private unit: UnitHolder | undefined;
  /** Currency of each declared price type, for prices that do not repeat it. */
  private readonly priceTypeCurrency = new Map<string, string>();
  private doc: DocumentBuilder | undefined;
  private docDepth = 0;

  constructor(o: ReaderOptions) {
    this.o = o;
    this.batchSize = o.batchSize ?? 2000;
    const k = o.kinds;
    const w = (kind: RecordKind): boolean => !k || k.has(kind);
    this.wGroups = w('groups');
    this.wProps = w('properties');
    this.wPropValues = w('propertyValues');
    this.wProducts = w('products');
    this.wProductProps = w('productProperties');
    this.wPriceTypes = w('priceTypes');
    this.wWarehouses = w('warehouses');
    this.wOffers = w('offers');
    this.wPrices = w('prices');
    this.wStock = w('stock');
    this.wOrders = w('orders');
    this.wOrderLines = w('orderLines');
    this.wDocs = this.wOrders || this.wOrderLines || o.onDocument !== undefined;
    this.stopAtOffers = k !== undefined && o.onDocument === undefined
      && !(this.wGroups || this.wProps || this.wPropValues || this.wProducts || this.wProductProps || this.wOffers || this.wPrices || this.wStock || this.wOrders || this.wOrderLines);
    this.scanner = new XmlScanner({ fileName: o.fileName, names: VOCAB, format: 'CommerceML' }, this);
    this.role[0] = R_TOP;
  }

  /** Full batches, taken out. */
  take(): SourceRecord[][] {
    return this.ready.splice(0, this.ready.length);
  }

  /** What is left after the end. */
  flush(): SourceRecord[] {
    const b = this.batch;
    this.batch = [];
    return b;
  }

  private emit(kind: RecordKind, data: Data, line: number, path: string): void {
    this.batch.push({ kind, data, line, path });
    if (this.batch.length >= this.batchSize) {
      this.ready.push(this.batch);
      this.batch = [];
    }
  }

  private line(): number {
    return this.scanner.currentLine();
  }

  /** Path of the element opening at depth d (its part indexed when its name repeats). */
  private pathOf(name: number, d: number): string {
    let part = this.scanner.nameOf(name);
    if (INDEXED.has(name)) {
      const names = this.sibNames[d - 1]!;
      const counts = this.sibCounts[d - 1]!;
      let i = names.indexOf(name);
      if (i < 0) {
        i = names.length;
        names.push(name);
        counts.push(0);
      }
      const n = ++counts[i]!;
      part += `[${n}]`;
    }
    return `${this.paths[d - 1]}/${part}`;
  }

  private setMode(value: string): void {
    if (isTrue(value)) {
      this.delta = true;
      this.o.setMode?.('delta');
    } else if (value.trim().toLowerCase() === 'false' && !this.delta) {
      this.o.setMode?.('snapshot');
    }
  }

  open(name: number, d: number): boolean {
    const pr = this.role[d - 1]!;
    if (pr === R_SKIP || pr === R_FIELD) {
      if (d >= this.role.length) this.grow();
      this.role[d] = R_SKIP;
      return false;
    }
    if (d >= this.role.length) this.grow();
    const r = this.roleOf(pr, name);
    this.role[d] = r;
    if (r === R_FIELD) return true;
    if (r === R_SKIP) return false;
    if (r === R_DOC_PART) {
      this.doc!.open(this.scanner.nameOf(name), (a) => this.attrByName(a), this.line());
      return true;
    }
    // A structural element: its path, and a fresh sibling counter for its children.
    this.paths[d] = d === 1 ? `/${this.scanner.nameOf(name)}` : this.pathOf(name, d);
    const names = this.sibNames[d];
    if (names) {
      if (names.length) {
        names.length = 0;
        this.sibCounts[d]!.length = 0;
      }
    } else {
      this.sibNames[d] = [];
      this.sibCounts[d] = [];
    }
    return this.enter(r, name, d);
  }

  private grow(): void {
    const g = new Uint8Array(this.role.length * 2);
    g.set(this.role);
    this.role = g;
    while (this.paths.length < g.length) this.paths.push('');
  }

  private attrByName(name: string): string | undefined {
    const i = (VOCAB as readonly string[]).indexOf(name);
    return i < 0 ? undefined : this.scanner.attr(i);
  }

  /** The role of an element from its parent's role. */
  private roleOf(pr: number, name: number): number {
    switch (pr) {
      case R_TOP:
        if (name !== N_ROOT) {
          throw new PayloadError('MAG_ERR_PAYLOAD_MALFORMED', { file: this.o.fileName, line: this.line() }, `the root element is <${this.scanner.nameOf(name)}>, not <КоммерческаяИнформация>: not a CommerceML document`);
        }
        return R_ROOT;
      case R_ROOT:
        switch (name) {
          case N_CONTAINER: return R_ROOT;
          case N_CLASSIFIER: return R_CLASSIFIER;
          case N_CATALOG: return R_CATALOG;
          case N_PACKAGE: case N_PACKAGE_CHANGES: return R_PACKAGE;
          case N_DOCUMENT: return R_DOC;
        }
        return R_SKIP;
      case R_CLASSIFIER:
        switch (name) {
          case N_GROUPS: return R_GROUPS;
          case N_PROPERTIES: return R_PROPS;
          case N_PRICE_TYPES: return R_PRICE_TYPES;
          case N_WAREHOUSES: return R_WAREHOUSES;
          case N_ONLY_CHANGES: return R_FIELD;
        }
        return R_SKIP;
      case R_CATALOG:
        if (name === N_PRODUCTS) return R_PRODUCTS;
        return name === N_ONLY_CHANGES ? R_FIELD : R_SKIP;
      case R_PACKAGE:
        switch (name) {
          case N_PRICE_TYPES: return R_PRICE_TYPES;
          case N_WAREHOUSES: return R_WAREHOUSES;
          case N_OFFERS: return R_OFFERS;
          case N_ONLY_CHANGES: return R_FIELD;
        }
        return R_SKIP;
      case R_GROUPS:
        return name === N_GROUP ? R_GROUP : R_SKIP;
      case R_GROUP:
        if (name === N_GROUPS) return R_GROUPS;
        return name === N_ID || name === N_NAME || name === N_DELETION_MARK ? R_FIELD : R_SKIP;
      case R_PROPS:
        return name === N_PROPERTY ? R_PROP : R_SKIP;
      case R_PROP:
        switch (name) {
          case N_ID: case N_NAME: case N_VALUE_TYPE: case N_FOR_OFFERS: case N_DELETION_MARK: return R_FIELD;
          case N_VALUE_TYPES: return R_PROP_TYPES;
          case N_VARIANTS: return R_VARIANTS;
        }
        return R_SKIP;
      case R_PROP_TYPES:
        return name === N_VALUE_TYPE ? R_PROP_TYPE : R_SKIP;
      case R_PROP_TYPE:
        // 2.03/2.04: ТипыЗначений/ТипЗначений/Тип, with the reference values inside.
        if (name === N_TYPE) return R_FIELD;
        return name === N_VARIANTS ? R_VARIANTS : R_SKIP;
      case R_VARIANTS:
        return name === N_DICTIONARY || name === N_VARIANT ? R_VARIANT : R_SKIP;
      case R_VARIANT:
        return name === N_VALUE_ID || name === N_ID || name === N_VALUE ? R_FIELD : R_SKIP;
      case R_PRODUCTS:
        return name === N_PRODUCT ? R_PRODUCT : R_SKIP;
      case R_PRODUCT:
        switch (name) {
          case N_ID: case N_NAME: case N_ARTICLE: case N_BARCODE: case N_DELETION_MARK: case N_STATUS: return R_FIELD;
          case N_BASE_UNIT: return R_UNIT;
          case N_GROUPS: return R_PGROUPS;
          case N_PROPERTY_VALUES: return this.wProductProps ? R_PPROPS : R_SKIP;
          case N_TAX_RATES: return R_TAXES;
          case N_REQUISITES: return R_REQS;
        }
        return R_SKIP;
      case R_UNIT:
        return name === N_RECALC ? R_RECALC : R_SKIP;
      case R_RECALC:
        return name === N_UNIT || name === N_FACTOR ? R_FIELD : R_SKIP;
      case R_PGROUPS:
        return name === N_ID ? R_FIELD : R_SKIP;
      case R_PPROPS:
        return name === N_PROPERTY_VALUE ? R_PPROP : R_SKIP;
      case R_PPROP:
        return name === N_ID || name === N_VALUE ? R_FIELD : R_SKIP;
      case R_TAXES:
        return name === N_TAX_RATE ? R_TAX : R_SKIP;
      case R_TAX:
        return name === N_NAME || name === N_RATE ? R_FIELD : R_SKIP;
      case R_REQS:
        return name === N_REQUISITE ? R_REQ : R_SKIP;
      case R_REQ:
        return name === N_NAME || name === N_VALUE ? R_FIELD : R_SKIP;
      case R_PRICE_TYPES:
        return name === N_PRICE_TYPE ? R_PRICE_TYPE : R_SKIP;
      case R_PRICE_TYPE:
        if (name === N_TAX) return R_PT_TAX;
        return name === N_ID || name === N_NAME || name === N_CURRENCY ? R_FIELD : R_SKIP;
      case R_PT_TAX:
        return name === N_NAME || name === N_INCLUDED ? R_FIELD : R_SKIP;
      case R_WAREHOUSES:
        return name === N_WAREHOUSE ? R_WAREHOUSE : R_SKIP;
      case R_WAREHOUSE:
        return name === N_ID || name === N_NAME ? R_FIELD : R_SKIP;
      case R_OFFERS:
        return name === N_OFFER ? R_OFFER : R_SKIP;
      case R_OFFER:
        switch (name) {
          case N_ID: return R_FIELD;
          case N_NAME: case N_ARTICLE: case N_BARCODE: case N_QUANTITY: case N_DELETION_MARK: case N_STATUS: return this.wOffers ? R_FIELD : R_SKIP;
          case N_PRICES: return R_PRICES;
          case N_WAREHOUSE: return R_OFFER_WH;
          case N_WAREHOUSES: return R_OFFER_WHS;
          case N_RESTS: return R_RESTS;
          case N_BASE_UNIT: return this.wOffers ? R_UNIT : R_SKIP;
          case N_CHARACTERISTICS: return this.wOffers ? R_CHARS : R_SKIP;
          case N_PROPERTY_VALUES: return this.wProductProps ? R_PPROPS : R_SKIP;
        }
        return R_SKIP;
      case R_OFFER_WHS:
        return name === N_WAREHOUSE ? R_OFFER_WH : R_SKIP;
      case R_OFFER_WH:
      case R_REST_WH:
        return name === N_ID || name === N_QUANTITY ? R_FIELD : R_SKIP;
      case R_PRICES:
        return name === N_PRICE ? R_PRICE : R_SKIP;
      case R_PRICE:
        if (!this.wPrices) return R_SKIP;
        switch (name) {
          case N_PRESENTATION: case N_PRICE_TYPE_ID: case N_UNIT_PRICE: case N_CURRENCY: case N_UNIT: case N_FACTOR: return R_FIELD;
        }
        return R_SKIP;
      case R_RESTS:
        return name === N_REST ? R_REST : R_SKIP;
      case R_REST:
        return name === N_WAREHOUSE ? R_REST_WH : R_SKIP;
      case R_CHARS:
        return name === N_CHARACTERISTIC ? R_CHAR : R_SKIP;
      case R_CHAR:
        return name === N_NAME || name === N_VALUE ? R_FIELD : R_SKIP;
      case R_DOC:
      case R_DOC_PART:
        return this.doc ? R_DOC_PART : R_SKIP;
    }
    return R_SKIP;
  }

  /** A structural element opened: start its record. Returns whether its own text is wanted. */
  private enter(r: number, name: number, d: number): boolean {
    const sc = this.scanner;
    switch (r) {
      case R_CLASSIFIER:
      case R_CATALOG:
      case R_PACKAGE: {
        const flag = sc.attr(N_ONLY_CHANGES);
        if (flag !== undefined) this.setMode(flag);
        else if (name === N_PACKAGE_CHANGES) this.setMode('true');
        return false;
      }
      case R_GROUP: {
        this.counts.groups++;
        const parent = this.groups[this.groups.length - 1];
        // The parent is complete up to its subgroups: emit it first, so parents precede children.
        if (parent && !parent.emitted) this.emitGroup(parent);
        this.groups.push({ data: { id: '', name: '', parent: parent?.data.id ?? '', deleted: '' }, line: this.wGroups ? this.line() : 0, path: this.paths[d]!, emitted: false });
        return false;
      }
      case R_PROP:
        this.counts.properties++;
        this.prop = { data: { id: '', name: '', valueType: '', forOffers: '', deleted: '' }, line: this.wProps || this.wPropValues ? this.line() : 0, path: this.paths[d]!, typeSeen: false };
        return false;
      case R_VARIANT:
        this.variant = { data: { property: this.prop?.data.id ?? '', id: '', value: '' }, line: this.wPropValues ? this.line() : 0, path: this.paths[d]! };
        return false;
      case R_PRODUCT: {
        this.counts.products++;
        const status = sc.hasAttributes ? sc.attr(N_STATUS) : undefined;
        this.product = {
          data: { id: '', name: '', article: '', barcode: '', group: '', unit: '', unitCode: '', unitName: '', unitRecalcUnit: '', unitRecalcFactor: '', deleted: '', status: status ?? '' },
          unit: emptyUnit(), line: this.line(), path: this.paths[d]!, hasGroup: false,
        };
        return false;
      }
      case R_UNIT: {
        const u = this.role[d - 1] === R_PRODUCT ? this.product?.unit : this.offer?.unit;
        this.unit = u;
        if (u && sc.hasAttributes) {
          u.unitCode = sc.attr(A_CODE)?.trim() ?? '';
          u.unitName = sc.attr(A_FULL_NAME) ?? '';
          u.unitIntl = sc.attr(A_INTL) ?? '';
          u.unitShort = sc.attr(A_SHORT_NAME) ?? '';
        }
        return u !== undefined;
      }
      case R_PPROP:
        this.pprop = { property: '', values: [], line: this.line(), path: this.paths[d]! };
        return false;
      case R_TAX:
      case R_REQ:
        this.pair = { name: '', value: '' };
        return false;
      case R_PRICE_TYPE:
        this.counts.priceTypes++;
        this.priceType = { data: { id: '', name: '', currency: '', taxName: '', taxIncluded: '' }, line: this.wPriceTypes ? this.line() : 0, path: this.paths[d]! };
        return false;
      case R_WAREHOUSE:
        this.counts.warehouses++;
        this.warehouse = { data: { id: '', name: '' }, line: this.wWarehouses ? this.line() : 0, path: this.paths[d]! };
        return false;
      case R_OFFERS:
        if (this.stopAtOffers) sc.stop();
        return false;
      case R_OFFER:
        this.counts.offers++;
        this.offer = {
          id: '', name: '', article: '', barcode: '', quantity: '', deleted: '', unit: emptyUnit(), characteristics: [],
          line: this.wOffers ? this.line() : 0, path: this.paths[d]!, pending: [], props: [],
        };
        return false;
      case R_OFFER_WH: {
        // `<Склад ИдСклада КоличествоНаСкладе/>` (2.06+), or a Склад with Ид and Количество inside.
        const wh = sc.hasAttributes ? sc.attr(A_WAREHOUSE_ID) : undefined;
        if (wh !== undefined) {
          this.counts.stock++;
          if (this.wStock) this.offer?.pending.push({ kind: 'stock', data: { offer: '', product: '', warehouse: wh, quantity: sc.attr(A_WAREHOUSE_QTY) ?? '' }, line: this.line(), path: this.paths[d]! });
          this.stock = undefined;
        } else {
          this.counts.stock++;
          this.stock = { kind: 'stock', data: { offer: '', product: '', warehouse: '', quantity: '' }, line: this.wStock ? this.line() : 0, path: this.paths[d]! };
        }
        return false;
      }
      case R_REST_WH:
        this.counts.stock++;
        this.stock = { kind: 'stock', data: { offer: '', product: '', warehouse: '', quantity: '' }, line: this.wStock ? this.line() : 0, path: this.paths[d]! };
        return false;
      case R_PRICE:
        this.counts.prices++;
        if (this.wPrices) {
          this.price = { kind: 'prices', data: { offer: '', product: '', priceType: '', price: '', currency: '', unit: '', factor: '', presentation: '' }, line: this.line(), path: this.paths[d]! };
        }
        return false;
      case R_CHAR:
        this.pair = { name: '', value: '' };
        return false;
      case R_DOC:
        this.counts.orders++;
        if (this.wDocs) {
          this.doc = new DocumentBuilder(this.line(), this.paths[d]!);
          this.docDepth = d;
        }
        return false;
    }
    return false;
  }

  close(name: number, d: number, text: string): void {
    const r = this.role[d]!;
    if (r === R_SKIP) return;
    if (r === R_FIELD) {
      this.field(this.role[d - 1]!, name, text);
      return;
    }
    if (r === R_DOC_PART) {
      this.doc!.close(text);
      return;
    }
    this.leave(r, d, text);
  }

  /** A leaf's text, given to the record of its parent. */
  private field(pr: number, name: number, text: string): void {
    switch (pr) {
      case R_CLASSIFIER:
      case R_CATALOG:
      case R_PACKAGE:
        this.setMode(text);
        return;
      case R_GROUP: {
        const g = this.groups[this.groups.length - 1]!.data;
        if (name === N_ID) g.id = text.trim();
        else if (name === N_NAME) g.name = text;
        else g.deleted = text.trim();
        return;
      }
      case R_PROP: {
        const p = this.prop!.data;
        if (name === N_ID) p.id = text.trim();
        else if (name === N_NAME) p.name = text;
        else if (name === N_VALUE_TYPE) p.valueType = text.trim();
        else if (name === N_FOR_OFFERS) p.forOffers = text.trim();
        else p.deleted = text.trim();
        return;
      }
      case R_PROP_TYPE:
        if (this.prop && !this.prop.typeSeen) {
          this.prop.data.valueType = text.trim();
          this.prop.typeSeen = true;
        }
        return;
      case R_VARIANT: {
        const v = this.variant!.data;
        if (name === N_VALUE) v.value = text;
        else v.id = text.trim();
        return;
      }
      case R_PRODUCT: {
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
      case R_RECALC:
        if (this.unit) {
          if (name === N_UNIT) this.unit.unitRecalcUnit = text.trim();
          else this.unit.unitRecalcFactor = text.trim();
        }
        return;
      case R_PGROUPS:
        if (this.product && !this.product.hasGroup) {
          this.product.data.group = text.trim();
          this.product.hasGroup = true;
        }
        return;
      case R_PPROP:
        if (name === N_ID) this.pprop!.property = text.trim();
        else this.pprop!.values.push(text);
        return;
      case R_TAX:
      case R_REQ:
      case R_CHAR:
        if (name === N_NAME) this.pair!.name = text.trim();
        else if (name === N_RATE || (name === N_VALUE && this.pair!.value === '')) this.pair!.value = text;
        return;
      case R_PRICE_TYPE: {
        const t = this.priceType!.data;
        if (name === N_ID) t.id = text.trim();
        else if (name === N_NAME) t.name = text;
        else t.currency = text.trim();
        return;
      }
      case R_PT_TAX: {
        const t = this.priceType!.data;
        if (name === N_NAME) t.taxName = text.trim();
        else t.taxIncluded = text.trim();
        return;
      }
      case R_WAREHOUSE: {
        const w = this.warehouse!.data;
        if (name === N_ID) w.id = text.trim();
        else w.name = text;
        return;
      }
      case R_OFFER: {
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
      case R_OFFER_WH:
      case R_REST_WH:
        if (this.stock) {
          if (name === N_ID) this.stock.data.warehouse = text.trim();
          else this.stock.data.quantity = text.trim();
        }
        return;
      case R_PRICE: {
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
    }
  }

  /** A structural element closed: finish its record. */
  private leave(r: number, d: number, text: string): void {
    switch (r) {
      case R_GROUP: {
        const g = this.groups.pop()!;
        if (!g.emitted) this.emitGroup(g);
        return;
      }
      case R_PROP: {
        const p = this.prop!;
        if (this.wProps) this.emit('properties', p.data, p.line, p.path);
        this.prop = undefined;
        return;
      }
      case R_VARIANT: {
        const v = this.variant!;
        if (this.wPropValues) this.emit('propertyValues', v.data, v.line, v.path);
        this.variant = undefined;
        return;
      }
      case R_UNIT:
        if (this.unit) this.unit.unitText = text.trim();
        this.unit = undefined;
        return;
      case R_PPROP: {
        const pp = this.pprop!;
        this.pprop = undefined;
        if (this.role[d - 2] === R_OFFER) {
          this.offer?.props.push(pp);
          return;
        }
        if (this.product) this.emitProductProperties(this.product.data.id ?? '', pp);
        return;
      }
      case R_TAX: {
        const t = this.pair!;
        if (this.product && t.name) this.product.data[`tax.${t.name}`] ??= t.value.trim();
        this.pair = undefined;
        return;
      }
      case R_REQ: {
        const q = this.pair!;
        if (this.product && q.name) this.product.data[`requisite.${q.name}`] ??= q.value;
        this.pair = undefined;
        return;
      }
      case R_CHAR: {
        const c = this.pair!;
        if (this.offer && (c.name || c.value)) this.offer.characteristics.push(`${c.name}: ${c.value.trim()}`);
        this.pair = undefined;
        return;
      }
      case R_PRODUCT:
        this.finishProduct();
        return;
      case R_PRICE_TYPE: {
        const t = this.priceType!;
        if (t.data.id && t.data.currency) this.priceTypeCurrency.set(t.data.id, t.data.currency);
        if (this.wPriceTypes) this.emit('priceTypes', t.data, t.line, t.path);
        this.priceType = undefined;
        return;
      }
      case R_WAREHOUSE: {
        const w = this.warehouse!;
        if (this.wWarehouses) this.emit('warehouses', w.data, w.line, w.path);
        this.warehouse = undefined;
        return;
      }
      case R_PRICE: {
        const p = this.price;
        if (p) {
          if (!p.data.currency) p.data.currency = this.priceTypeCurrency.get(p.data.priceType!.trim()) ?? '';
          this.offer?.pending.push(p);
        }
        this.price = undefined;
        return;
      }
      case R_OFFER_WH:
      case R_REST_WH:
        if (this.stock && this.wStock) this.offer?.pending.push(this.stock);
        this.stock = undefined;
        return;
      case R_OFFER:
        this.finishOffer();
        return;
      case R_DOC:
        if (this.doc) this.finishDocument(this.doc.finish());
        this.doc = undefined;
        return;
    }
  }

  private emitGroup(g: GroupFrame): void {
    g.emitted = true;
    if (!this.wGroups) return;
    const data = g.data;
    if (data.deleted) data.deleted = isTrue(data.deleted) ? 'true' : 'false';
    this.emit('groups', data, g.line, g.path);
  }

  private emitProductProperties(product: string, pp: { property: string; values: string[]; line: number; path: string }): void {
    if (!this.wProductProps) return;
    for (const value of pp.values) {
      if (value.trim() === '') continue;
      this.emit('productProperties', { product, property: pp.property, value }, pp.line, pp.path);
    }
  }

  private finishProduct(): void {
    const p = this.product!;
    this.product = undefined;
    if (!this.wProducts) return;
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
    this.emit('products', data, p.line, p.path);
  }

  private finishOffer(): void {
    const o = this.offer!;
    this.offer = undefined;
    const hash = o.id.indexOf('#');
    const product = hash >= 0 ? o.id.slice(0, hash) : o.id;
    const characteristic = hash >= 0 ? o.id.slice(hash + 1) : '';
    // A SKU of its own: a characteristic offer that names itself. A plain offer is its catalog product.
    if (this.wOffers && ((characteristic !== '' && o.name.trim() !== '') || this.o.plainOffers)) {
      this.emit('offers', {
        id: o.id, product, characteristic, name: o.name, article: o.article, barcode: o.barcode, quantity: o.quantity,
        unit: unitOf(o.unit), deleted: o.deleted, characteristics: o.characteristics.join('; '),
      }, o.line, o.path);
    }
    for (const rec of o.pending) {
      rec.data.offer = o.id;
      rec.data.product = product;
      this.batch.push(rec);
      if (this.batch.length >= this.batchSize) {
        this.ready.push(this.batch);
        this.batch = [];
      }
    }
    if (characteristic !== '') for (const pp of o.props) this.emitProductProperties(o.id, pp);
  }

  private finishDocument(doc: OrderDocument): void {
    this.o.onDocument?.(doc);
    if (this.wOrders) {
      const status = doc.requisites.find((q) => q.name === 'Статус заказа')?.value ?? '';
      const cp = doc.counterparties[0];
      const data: Data = {
        id: doc.id, number: doc.number, date: doc.date, time: doc.time, operation: doc.operation, role: doc.role,
        currency: doc.currency, rate: doc.rate, amount: doc.amount, comment: doc.comment, status,
        counterparty: cp?.id ?? '', counterpartyName: cp?.name || cp?.fullName || '', counterpartyInn: cp?.inn ?? '',
        erpNumber: doc.erpNumber ?? '', erpDate: doc.erpDate ?? '', deleted: doc.deletionMark ?? '',
      };
      for (const q of doc.requisites) data[`requisite.${q.name}`] ??= q.value;
      this.emit('orders', data, doc.line, doc.path);
    }
    if (this.wOrderLines) {
      doc.lines.forEach((l, i) => {
        this.emit('orderLines', {
          order: doc.id, number: doc.number, lineNo: String(i + 1), id: l.id, article: l.article, name: l.name,
          unit: l.unit.intl || l.unit.text || l.unit.code, price: l.price, quantity: l.quantity, amount: l.amount,
        }, l.line, `${doc.path}/Товары/Товар[${i + 1}]`);
      });
    }
  }
}

/** Reads a CommerceML file as batches of records; returns the element counts when done. */
export async function* readCommerceML(input: Readable, o: ReaderOptions): AsyncGenerator<SourceRecord[], ElementCounts> {
  const reader = new CommerceMLReader(o);
  const sc = reader.scanner;
  for await (const chunk of input) {
    o.signal?.throwIfAborted();
    sc.write(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    for (const b of reader.take()) yield b;
    if (sc.isStopped) break;
  }
  sc.end();
  for (const b of reader.take()) yield b;
  const last = reader.flush();
  if (last.length) yield last;
  return reader.counts;
}

/** The order documents (`Документ`) of a CommerceML file, each complete, in file order. */
export async function* readOrderDocuments(input: Readable, fileName: string): AsyncGenerator<OrderDocument> {
  const docs: OrderDocument[] = [];
  const reader = new CommerceMLReader({ fileName, kinds: new Set(), onDocument: (d) => docs.push(d) });
  const sc = reader.scanner;
  for await (const chunk of input) {
    sc.write(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    while (docs.length) yield docs.shift()!;
  }
  sc.end();
  while (docs.length) yield docs.shift()!;
}
