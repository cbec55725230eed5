// Writes CommerceML order documents — the answer to 1C's `type=sale&mode=query` — in the shape 1C-Bitrix
// sends (sample 08): schema version and encoding chosen by the flow, every value escaped, exact decimals.
import iconv from 'iconv-lite';

/** Schema versions the sale exchange speaks (1C-Bitrix defaults to 2.05). */
export const SALE_VERSIONS = ['2.05', '2.06', '2.07', '2.08', '2.09', '2.10'] as const;
export type SaleVersion = (typeof SALE_VERSIONS)[number];
export const SALE_ENCODINGS = ['windows-1251', 'utf-8'] as const;
export type SaleEncoding = (typeof SALE_ENCODINGS)[number];

export interface CmlUnit {
  /** OKEI code, e.g. `796`. */
  code: string;
  /** Full name, e.g. `Штука`. */
  fullName: string;
  /** Short name written as the element's text in 2.05, e.g. `шт`. */
  shortName: string;
  /** International abbreviation, e.g. `PCE`. */
  intl?: string;
}

export interface CmlOrderLine {
  /** The product's 1C id (or its code when 1C never sent one). */
  id: string;
  catalogId?: string;
  name: string;
  unit: CmlUnit;
  /** Decimal strings, exactly as stored. */
  price: string;
  quantity: string;
  amount: string;
  /** ВидНоменклатуры / ТипНоменклатуры. */
  kind: 'Товар' | 'Услуга';
}

export interface CmlAddress {
  /** The whole address as one line (Представление). */
  text: string;
  /** Typed parts (Почтовый индекс, Город, Улица…), when known. */
  fields?: Array<{ type: string; value: string }>;
}

export interface CmlCounterparty {
  id: string;
  name: string;
  fullName: string;
  /** An organisation (has KPP or a 10-digit INN): also written in CommerceML's legal-entity form. */
  company: boolean;
  inn?: string | null;
  kpp?: string | null;
  address?: CmlAddress | null;
  bank?: { account: string; bankName?: string | null; bik?: string | null; corrAccount?: string | null } | null;
  phone?: string | null;
  email?: string | null;
  representative?: { id: string; name: string } | null;
}

export interface CmlOrderDocument {
  id: string;
  number: string;
  /** Local date `YYYY-MM-DD` and time `HH:MM:SS` of the order, already in the flow's time zone. */
  date: string;
  time: string;
  currency: string;
  rate: string;
  total: string;
  comment?: string | null;
  counterparty: CmlCounterparty;
  lines: CmlOrderLine[];
  /** ЗначенияРеквизитов of the document, in order (Метод оплаты, Заказ оплачен, … Сайт). */
  requisites: Array<[name: string, value: string]>;
}

export interface WriteOptions {
  version: SaleVersion;
  encoding: SaleEncoding;
  /** Local date-time of the export, `YYYY-MM-DDTHH:MM:SS`. */
  generatedAt: string;
}

/**
 * Namespace per schema version. 2.05 goes without one, as 1C-Bitrix sends it (sample 08); the 2.06–2.09
 * schemas declare `urn:1C.ru:commerceml_2` and 2.10 `urn:1C.ru:commerceml_210`.
 */
export function namespaceFor(version: SaleVersion): string | null {
  if (version === '2.05') return null;
  return version === '2.10' ? 'urn:1C.ru:commerceml_210' : 'urn:1C.ru:commerceml_2';
}

/** Versions after 2.05 write units as `Единица`+`Коэффициент` and contact types as words, as 1C-Bitrix does. */
function newerThan205(version: SaleVersion): boolean {
  return version !== '2.05';
}

// Code points windows-1251 can carry beyond ASCII; anything else becomes a numeric character reference.
const CP1251_CLASS = (() => {
  const all = Buffer.alloc(128);
  for (let i = 0; i < 128; i++) all[i] = 0x80 + i;
  let cls = '';
  for (const ch of iconv.decode(all, 'win1251')) if (ch !== '\ufffd') cls += `\\u${ch.codePointAt(0)!.toString(16).padStart(4, '0')}`;
  return cls;
})();

// What needs attention in a value: markup characters, characters XML 1.0 cannot hold at all (C0
// controls but tab/CR/LF, U+FFFE/U+FFFF, lone surrogates) and, for windows-1251, whatever the code
// page lacks (astral characters match whole under the u flag). Plain text passes untouched.
const MARKUP_AND_INVALID = '[&<>"]|[\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\ufffe\\uffff]';
const ATTENTION: Record<SaleEncoding, RegExp> = {
  'utf-8': new RegExp(`${MARKUP_AND_INVALID}|\\p{Cs}`, 'gu'),
  'windows-1251': new RegExp(`${MARKUP_AND_INVALID}|[^\\u0000-\\u007f${CP1251_CLASS}]`, 'gu'),
};
const MARKUP: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };

/** XML 1.0 Char production: what may appear in a document at all, even as a character reference. */
function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/**
 * Escapes text for element content and attribute values. Characters XML cannot hold at all (control
 * characters, lone surrogates) become U+FFFD; for windows-1251 output every character that code page
 * lacks (emoji, Latin accents, CJK…) becomes a numeric character reference so the document stays whole.
 */
export function escapeXml(value: string, encoding: SaleEncoding): string {
  return value.replace(ATTENTION[encoding], (ch) => {
    const m = MARKUP[ch];
    if (m) return m;
    const cp = ch.codePointAt(0)!;
    if (!isXmlChar(cp)) return encoding === 'utf-8' ? '\ufffd' : '&#xFFFD;';
    return `&#x${cp.toString(16).toUpperCase()};`;
  });
}

/** A stored decimal (`231.740000`) as 1C reads sums: trailing zeros dropped but at least two decimals. */
export function formatMoney(value: string): string {
  const t = trimDecimal(value);
  const dot = t.indexOf('.');
  if (dot < 0) return `${t}.00`;
  return t.length - dot - 1 < 2 ? `${t}0` : t;
}

/** A stored quantity (`2.000000`) without trailing zeros: `2`, `0.125`. */
export function formatQuantity(value: string): string {
  return trimDecimal(value);
}

function trimDecimal(value: string): string {
  const v = value.trim();
  if (!/^-?[0-9]+(\.[0-9]+)?$/.test(v)) throw new Error(`not a decimal: '${value}'`);
  if (v.indexOf('.') < 0) return v;
  const out = v.replace(/0+$/, '').replace(/\.$/, '');
  return out === '-0' ? '0' : out;
}

/** Builds the text of one document at a time: short-lived strings, not a long list of small ones. */
class XmlOut {
  private cur = '';
  constructor(private readonly encoding: SaleEncoding) {}

  line(depth: number, s: string): void {
    this.cur += `${INDENT[depth] ?? '  '.repeat(depth)}${s}\n`;
  }
  leaf(depth: number, name: string, value: string, attrs?: Array<[string, string]>): void {
    this.line(depth, `<${name}${this.attrs(attrs)}>${escapeXml(value, this.encoding)}</${name}>`);
  }
  open(depth: number, name: string, attrs?: Array<[string, string]>): void {
    this.line(depth, `<${name}${this.attrs(attrs)}>`);
  }
  close(depth: number, name: string): void {
    this.line(depth, `</${name}>`);
  }
  attrs(attrs?: Array<[string, string]>): string {
    if (!attrs?.length) return '';
    return attrs.map(([k, v]) => ` ${k}="${escapeXml(v, this.encoding)}"`).join('');
  }
  /** The text written since the last take. */
  take(): string {
    const t = this.cur;
    this.cur = '';
    return t;
  }
}

const INDENT = Array.from({ length: 8 }, (_, i) => '  '.repeat(i));

function writeAddress(x: XmlOut, depth: number, element: string, address: CmlAddress): void {
  x.open(depth, element);
  x.leaf(depth + 1, 'Представление', address.text);
  for (const f of address.fields ?? []) {
    x.open(depth + 1, 'АдресноеПоле');
    x.leaf(depth + 2, 'Тип', f.type);
    x.leaf(depth + 2, 'Значение', f.value);
    x.close(depth + 1, 'АдресноеПоле');
  }
  x.close(depth, element);
}

function writeCounterparty(x: XmlOut, depth: number, c: CmlCounterparty, version: SaleVersion): void {
  x.open(depth, 'Контрагенты');
  x.open(depth + 1, 'Контрагент');
  const d = depth + 2;
  x.leaf(d, 'Ид', c.id);
  x.leaf(d, 'Наименование', c.name);
  x.leaf(d, 'ПолноеНаименование', c.fullName);
  if (c.company) {
    // CommerceML's legal-entity form, as 1C-Bitrix writes companies: 1C tells an organisation from a
    // person by ОфициальноеНаименование and matches it by ИНН/КПП.
    x.leaf(d, 'ОфициальноеНаименование', c.fullName);
    if (c.address) writeAddress(x, d, 'ЮридическийАдрес', c.address);
  }
  if (c.inn) x.leaf(d, 'ИНН', c.inn);
  if (c.kpp) x.leaf(d, 'КПП', c.kpp);
  if (!c.company) writeAddress(x, d, 'АдресРегистрации', c.address ?? { text: '' });
  if (c.company && c.bank?.account) {
    x.open(d, 'РасчетныеСчета');
    x.open(d + 1, 'РасчетныйСчет');
    x.leaf(d + 2, 'НомерСчета', c.bank.account);
    x.open(d + 2, 'Банк');
    if (c.bank.corrAccount) x.leaf(d + 3, 'СчетКорреспондентский', c.bank.corrAccount);
    x.leaf(d + 3, 'Наименование', c.bank.bankName ?? '');
    if (c.bank.bik) x.leaf(d + 3, 'БИК', c.bank.bik);
    x.close(d + 2, 'Банк');
    x.close(d + 1, 'РасчетныйСчет');
    x.close(d, 'РасчетныеСчета');
  }
  if (c.phone || c.email) {
    const newer = newerThan205(version);
    x.open(d, 'Контакты');
    if (c.phone) {
      x.open(d + 1, 'Контакт');
      x.leaf(d + 2, 'Тип', newer ? 'Телефон рабочий' : 'ТелефонРабочий');
      x.leaf(d + 2, 'Значение', c.phone);
      x.close(d + 1, 'Контакт');
    }
    if (c.email) {
      x.open(d + 1, 'Контакт');
      x.leaf(d + 2, 'Тип', newer ? 'Электронная почта' : 'Почта');
      x.leaf(d + 2, 'Значение', c.email);
      x.close(d + 1, 'Контакт');
    }
    x.close(d, 'Контакты');
  }
  if (c.representative) {
    x.open(d, 'Представители');
    x.open(d + 1, 'Представитель');
    x.open(d + 2, 'Контрагент');
    x.leaf(d + 3, 'Отношение', 'Контактное лицо');
    x.leaf(d + 3, 'Ид', c.representative.id);
    x.leaf(d + 3, 'Наименование', c.representative.name);
    x.close(d + 2, 'Контрагент');
    x.close(d + 1, 'Представитель');
    x.close(d, 'Представители');
  }
  x.leaf(d, 'Роль', 'Покупатель');
  x.close(depth + 1, 'Контрагент');
  x.close(depth, 'Контрагенты');
}

function writeLine(x: XmlOut, depth: number, l: CmlOrderLine, version: SaleVersion): void {
  x.open(depth, 'Товар');
  const d = depth + 1;
  x.leaf(d, 'Ид', l.id);
  if (l.catalogId) x.leaf(d, 'ИдКаталога', l.catalogId);
  x.leaf(d, 'Наименование', l.name);
  if (newerThan205(version)) {
    x.open(d, 'Единица');
    x.leaf(d + 1, 'Код', l.unit.code);
    x.leaf(d + 1, 'НаименованиеПолное', l.unit.fullName);
    x.close(d, 'Единица');
    x.leaf(d, 'Коэффициент', '1');
  } else {
    const attrs: Array<[string, string]> = [['Код', l.unit.code], ['НаименованиеПолное', l.unit.fullName]];
    if (l.unit.intl) attrs.push(['МеждународноеСокращение', l.unit.intl]);
    x.leaf(d, 'БазоваяЕдиница', l.unit.shortName, attrs);
  }
  x.leaf(d, 'ЦенаЗаЕдиницу', formatMoney(l.price));
  x.leaf(d, 'Количество', formatQuantity(l.quantity));
  x.leaf(d, 'Сумма', formatMoney(l.amount));
  writeRequisites(x, d, [['ВидНоменклатуры', l.kind], ['ТипНоменклатуры', l.kind]]);
  x.close(depth, 'Товар');
}

function writeRequisites(x: XmlOut, depth: number, requisites: Array<[string, string]>): void {
  x.open(depth, 'ЗначенияРеквизитов');
  for (const [name, value] of requisites) {
    x.open(depth + 1, 'ЗначениеРеквизита');
    x.leaf(depth + 2, 'Наименование', name);
    x.leaf(depth + 2, 'Значение', value);
    x.close(depth + 1, 'ЗначениеРеквизита');
  }
  x.close(depth, 'ЗначенияРеквизитов');
}

function header(opts: WriteOptions): Array<[string, string]> {
  const ns = namespaceFor(opts.version);
  return [
    ...(ns ? [['xmlns', ns] as [string, string]] : []),
    ['ВерсияСхемы', opts.version],
    ['ДатаФормирования', opts.generatedAt],
    ['ФорматДаты', 'ДФ=yyyy-MM-dd; ДЛФ=DT'],
    ['ФорматВремени', 'ДФ=ЧЧ:мм:сс; ДЛФ=T'],
    ['РазделительДатаВремя', 'T'],
    ['ФорматСуммы', 'ЧЦ=18; ЧДЦ=2; ЧРД=.'],
    ['ФорматКоличества', 'ЧЦ=18; ЧДЦ=6; ЧРД=.'],
  ];
}

function writeDocument(x: XmlOut, doc: CmlOrderDocument, version: SaleVersion): void {
  x.open(1, 'Документ');
  x.leaf(2, 'Ид', doc.id);
  x.leaf(2, 'Номер', doc.number);
  x.leaf(2, 'Дата', doc.date);
  x.leaf(2, 'ХозОперация', 'Заказ товара');
  x.leaf(2, 'Роль', 'Продавец');
  x.leaf(2, 'Валюта', doc.currency);
  x.leaf(2, 'Курс', doc.rate);
  x.leaf(2, 'Сумма', formatMoney(doc.total));
  writeCounterparty(x, 2, doc.counterparty, version);
  x.leaf(2, 'Время', doc.time);
  x.leaf(2, 'Комментарий', doc.comment ?? '');
  x.open(2, 'Товары');
  for (const line of doc.lines) writeLine(x, 3, line, version);
  x.close(2, 'Товары');
  writeRequisites(x, 2, doc.requisites);
  x.close(1, 'Документ');
}

/** The document in parts (declaration and root, each order, the root's end), as text. */
function* parts(docs: readonly CmlOrderDocument[], opts: WriteOptions): Generator<string> {
  const x = new XmlOut(opts.encoding);
  x.line(0, `<?xml version="1.0" encoding="${opts.encoding === 'utf-8' ? 'UTF-8' : 'windows-1251'}"?>`);
  x.open(0, 'КоммерческаяИнформация', header(opts));
  yield x.take();
  for (const doc of docs) {
    writeDocument(x, doc, opts.version);
    yield x.take();
  }
  x.close(0, 'КоммерческаяИнформация');
  yield x.take();
}

/** The document as text (before encoding), for tests and for callers that encode themselves. */
export function renderOrderDocuments(docs: readonly CmlOrderDocument[], opts: WriteOptions): string {
  return [...parts(docs, opts)].join('');
}

/** The document as bytes in the flow's encoding (windows-1251 by default, like 1C-Bitrix), encoded order by order. */
export function writeOrderDocuments(docs: readonly CmlOrderDocument[], opts: WriteOptions): Buffer {
  const out: Buffer[] = [];
  // Every character outside the code page was turned into a reference above, so nothing is lost here.
  for (const text of parts(docs, opts)) out.push(opts.encoding === 'utf-8' ? Buffer.from(text, 'utf8') : iconv.encode(text, 'win1251'));
  return Buffer.concat(out);
}
