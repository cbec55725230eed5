// The role table of the CommerceML reader: what an element is, decided from its parent's role and its
// name, and which section handler reads it. One row per (parent role, child names) → child role.
import { VOCAB, nameId, type VocabName } from './vocabulary.ts';
import type { RecordKind } from './kinds.ts';

/** Roles. SKIP and FIELD are generic; the others are structural elements owned by one section. */
export const R = {
  /** Ignored with everything inside. */
  SKIP: 0,
  /** A leaf whose text goes to the record of its parent. */
  FIELD: 1,
  // The document: the section heads say whether the file holds changes only.
  TOP: 2, NOT_CML: 3, ROOT: 4, CLASSIFIER: 5, CATALOG: 6, PACKAGE: 7,
  // Classifier: groups, properties with their values, and the declarations (price types, warehouses)
  // that 2.x packages repeat.
  GROUPS: 8, GROUP: 9, PROPS: 10, PROP: 11, PROP_TYPES: 12, PROP_TYPE: 13, VARIANTS: 14, VARIANT: 15,
  PRICE_TYPES: 16, PRICE_TYPE: 17, PT_TAX: 18, WAREHOUSES: 19, WAREHOUSE: 20,
  // Catalog: products.
  PRODUCTS: 21, PRODUCT: 22, PRODUCT_UNIT: 23, PRODUCT_RECALC: 24, PRODUCT_GROUPS: 25, PRODUCT_PROPS: 26,
  PRODUCT_PROP: 27, TAXES: 28, TAX: 29, REQS: 30, REQ: 31,
  // Offers: offers with their prices, stock (both forms), characteristics and properties.
  OFFERS: 32, OFFER: 33, OFFER_UNIT: 34, OFFER_RECALC: 35, OFFER_PROPS: 36, OFFER_PROP: 37, OFFER_WHS: 38,
  OFFER_WH: 39, PRICES: 40, PRICE: 41, RESTS: 42, REST: 43, REST_WH: 44, CHARS: 45, CHAR: 46,
  // Documents (orders): the document, and every element inside it handed to the document builder.
  DOC: 47, DOC_PART: 48,
} as const;
export type Role = (typeof R)[keyof typeof R];
const ROLE_COUNT = 49;

/** Sections: who handles a structural role. */
export const S_DOCUMENT = 0;
export const S_CLASSIFIER = 1;
export const S_CATALOG = 2;
export const S_OFFERS = 3;
export const S_ORDERS = 4;

/** What a row needs to be read at all: a record kind, or order documents (any of their consumers). */
export type Need = RecordKind | 'documents';

type Row = readonly [parent: Role | readonly Role[], children: string, child: Role, needs?: Need];

/**
 * The table. `children` lists element names separated by spaces, or `*` for any name not listed; a
 * name not in the table is skipped with all it holds. A row with `needs` applies only when the reader
 * is asked for that kind, so work for unwanted records is skipped.
 */
const TABLE: readonly Row[] = [
  [R.TOP, 'КоммерческаяИнформация', R.ROOT],
  [R.TOP, '*', R.NOT_CML],
  [R.ROOT, 'Контейнер', R.ROOT],
  [R.ROOT, 'Классификатор', R.CLASSIFIER],
  [R.ROOT, 'Каталог', R.CATALOG],
  [R.ROOT, 'ПакетПредложений ИзмененияПакетаПредложений', R.PACKAGE],
  [R.ROOT, 'Документ', R.DOC],
  [[R.CLASSIFIER, R.CATALOG, R.PACKAGE], 'СодержитТолькоИзменения', R.FIELD],

  [R.CLASSIFIER, 'Группы', R.GROUPS],
  [R.CLASSIFIER, 'Свойства', R.PROPS],
  [[R.CLASSIFIER, R.PACKAGE], 'ТипыЦен', R.PRICE_TYPES],
  [[R.CLASSIFIER, R.PACKAGE], 'Склады', R.WAREHOUSES],
  [R.GROUPS, 'Группа', R.GROUP],
  [R.GROUP, 'Группы', R.GROUPS],
  [R.GROUP, 'Ид Наименование ПометкаУдаления', R.FIELD],
  [R.PROPS, 'Свойство', R.PROP],
  [R.PROP, 'Ид Наименование ТипЗначений ДляПредложений ПометкаУдаления', R.FIELD],
  [R.PROP, 'ТипыЗначений', R.PROP_TYPES],
  [R.PROP, 'ВариантыЗначений', R.VARIANTS],
  [R.PROP_TYPES, 'ТипЗначений', R.PROP_TYPE],
  // 2.03/2.04: ТипыЗначений/ТипЗначений/Тип, with the reference values inside.
  [R.PROP_TYPE, 'Тип', R.FIELD],
  [R.PROP_TYPE, 'ВариантыЗначений', R.VARIANTS],
  [R.VARIANTS, 'Справочник ВариантЗначения', R.VARIANT],
  [R.VARIANT, 'ИдЗначения Ид Значение', R.FIELD],
  [R.PRICE_TYPES, 'ТипЦены', R.PRICE_TYPE],
  [R.PRICE_TYPE, 'Ид Наименование Валюта', R.FIELD],
  [R.PRICE_TYPE, 'Налог', R.PT_TAX],
  [R.PT_TAX, 'Наименование УчтеноВСумме', R.FIELD],
  [R.WAREHOUSES, 'Склад', R.WAREHOUSE],
  [R.WAREHOUSE, 'Ид Наименование', R.FIELD],

  [R.CATALOG, 'Товары', R.PRODUCTS],
  [R.PRODUCTS, 'Товар', R.PRODUCT],
  [R.PRODUCT, 'Ид Наименование Артикул Штрихкод ПометкаУдаления Статус', R.FIELD],
  [R.PRODUCT, 'БазоваяЕдиница', R.PRODUCT_UNIT],
  [R.PRODUCT_UNIT, 'Пересчет', R.PRODUCT_RECALC],
  [R.PRODUCT_RECALC, 'Единица Коэффициент', R.FIELD],
  [R.PRODUCT, 'Группы', R.PRODUCT_GROUPS],
  [R.PRODUCT_GROUPS, 'Ид', R.FIELD],
  [R.PRODUCT, 'ЗначенияСвойств', R.PRODUCT_PROPS, 'productProperties'],
  [R.PRODUCT_PROPS, 'ЗначенияСвойства', R.PRODUCT_PROP],
  [R.PRODUCT_PROP, 'Ид Значение', R.FIELD],
  [R.PRODUCT, 'СтавкиНалогов', R.TAXES],
  [R.TAXES, 'СтавкаНалога', R.TAX],
  [R.TAX, 'Наименование Ставка', R.FIELD],
  [R.PRODUCT, 'ЗначенияРеквизитов', R.REQS],
  [R.REQS, 'ЗначениеРеквизита', R.REQ],
  [R.REQ, 'Наименование Значение', R.FIELD],

  [R.PACKAGE, 'Предложения', R.OFFERS],
  [R.OFFERS, 'Предложение', R.OFFER],
  [R.OFFER, 'Ид', R.FIELD],
  [R.OFFER, 'Наименование Артикул Штрихкод Количество ПометкаУдаления Статус', R.FIELD, 'offers'],
  [R.OFFER, 'БазоваяЕдиница', R.OFFER_UNIT, 'offers'],
  [R.OFFER_UNIT, 'Пересчет', R.OFFER_RECALC],
  [R.OFFER_RECALC, 'Единица Коэффициент', R.FIELD],
  [R.OFFER, 'ХарактеристикиТовара', R.CHARS, 'offers'],
  [R.CHARS, 'ХарактеристикаТовара', R.CHAR],
  [R.CHAR, 'Наименование Значение', R.FIELD],
  [R.OFFER, 'ЗначенияСвойств', R.OFFER_PROPS, 'productProperties'],
  [R.OFFER_PROPS, 'ЗначенияСвойства', R.OFFER_PROP],
  [R.OFFER_PROP, 'Ид Значение', R.FIELD],
  [R.OFFER, 'Цены', R.PRICES],
  [R.PRICES, 'Цена', R.PRICE],
  [R.PRICE, 'Представление ИдТипаЦены ЦенаЗаЕдиницу Валюта Единица Коэффициент', R.FIELD, 'prices'],
  // Stock, three forms: <Склад ИдСклада КоличествоНаСкладе/> (2.06+), Склады/Склад with Ид and
  // Количество inside, and Остатки/Остаток/Склад (2.09+ rests files).
  [R.OFFER, 'Склад', R.OFFER_WH],
  [R.OFFER, 'Склады', R.OFFER_WHS],
  [R.OFFER_WHS, 'Склад', R.OFFER_WH],
  [R.OFFER, 'Остатки', R.RESTS],
  [R.RESTS, 'Остаток', R.REST],
  [R.REST, 'Склад', R.REST_WH],
  [[R.OFFER_WH, R.REST_WH], 'Ид Количество', R.FIELD],

  [[R.DOC, R.DOC_PART], '*', R.DOC_PART, 'documents'],
];

/** The section that handles each structural role. */
export const SECTION_OF: Uint8Array = (() => {
  const s = new Uint8Array(ROLE_COUNT);
  for (let r = R.GROUPS; r <= R.WAREHOUSE; r++) s[r] = S_CLASSIFIER;
  for (let r = R.PRODUCTS; r <= R.REQ; r++) s[r] = S_CATALOG;
  for (let r = R.OFFERS; r <= R.CHAR; r++) s[r] = S_OFFERS;
  s[R.DOC] = S_ORDERS;
  s[R.DOC_PART] = S_ORDERS;
  return s;
})();

/** Elements that repeat under their parent: their path part carries a 1-based index. */
export const INDEXED: Uint8Array = (() => {
  const t = new Uint8Array(VOCAB.length);
  const names: VocabName[] = ['Группа', 'Свойство', 'Справочник', 'ВариантЗначения', 'Товар', 'ЗначенияСвойства', 'СтавкаНалога',
    'ЗначениеРеквизита', 'ТипЦены', 'Склад', 'Предложение', 'Цена', 'Остаток', 'Документ', 'ХарактеристикаТовара'];
  for (const n of names) t[nameId(n)] = 1;
  return t;
})();

/** The compiled table: child role by parent role × name id, and by parent role for names not listed. */
export interface RoleTable {
  byName: Uint8Array;
  other: Uint8Array;
}

/** Compiles the table for a reader that wants what `wanted` says yes to. */
export function compileRoles(wanted: (n: Need) => boolean): RoleTable {
  const nv = VOCAB.length;
  const byName = new Uint8Array(ROLE_COUNT * nv);
  const other = new Uint8Array(ROLE_COUNT);
  for (const [parents, children, child, needs] of TABLE) {
    if (needs && !wanted(needs)) continue;
    for (const p of typeof parents === 'number' ? [parents] : parents) {
      if (children === '*') {
        other[p] = child;
        continue;
      }
      for (const n of children.split(' ')) {
        const id = nameId(n as VocabName);
        if (id < 0) throw new Error(`role table: ${n} is not in the vocabulary`);
        byName[p * nv + id] = child;
      }
    }
  }
  // A wildcard row covers the listed names too, unless a row names them.
  for (let p = 0; p < ROLE_COUNT; p++) {
    if (other[p] === R.SKIP) continue;
    for (let id = 0; id < nv; id++) if (byName[p * nv + id] === R.SKIP) byName[p * nv + id] = other[p]!;
  }
  return { byName, other };
}

/** The role of an element named `name` (a name id) under a parent of role `parent`. */
export function roleOf(t: RoleTable, parent: number, name: number): number {
  return name < VOCAB.length ? t.byName[parent * VOCAB.length + name]! : t.other[parent]!;
}
