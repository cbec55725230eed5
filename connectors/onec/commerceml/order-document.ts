// CommerceML order documents (`Документ`) as typed objects: what 1C sends back about orders (statuses,
// payment, shipment, its own number and date) and what a site's `type=sale` query answers.
// Built from scanner events by DocumentBuilder; every field is the element's text as written.

/** `ЗначениеРеквизита`: a named value, in document order (statuses, «Номер по 1С», «Проведен» …). */
export interface Requisite {
  name: string;
  value: string;
}

export interface OrderAddress {
  /** `Представление`. */
  presentation: string;
  /** `АдресноеПоле` (Тип, Значение) in order: «Почтовый индекс», «Улица» … */
  fields: Array<{ type: string; value: string }>;
}

export interface OrderContact {
  /** `Тип` (e.g. «Почта», «ТелефонРабочий», «Телефон мобильный»). */
  type: string;
  value: string;
  comment: string;
}

export interface OrderCounterparty {
  /** `Ид`. */
  id: string;
  name: string;
  /** `ПолноеНаименование`. */
  fullName: string;
  /** `ОфициальноеНаименование` (legal entities). */
  officialName: string;
  /** `Роль`: «Покупатель», «Продавец» … */
  role: string;
  inn: string;
  kpp: string;
  lastName: string;
  firstName: string;
  middleName: string;
  /** `АдресРегистрации` or `Адрес`. */
  address?: OrderAddress;
  /** `ЮридическийАдрес` (also inside `РеквизитыЮрЛица`). */
  legalAddress?: OrderAddress;
  contacts: OrderContact[];
  /** `Представители/Представитель/Контрагент`: contact persons. */
  representatives: Array<{ relation: string; id: string; name: string }>;
}

/** `Скидка`. */
export interface OrderDiscount {
  name: string;
  amount: string;
  percent: string;
  /** `УчтеноВСумме`. */
  includedInAmount: string;
}

/** `Налог` of a document or line. */
export interface OrderTax {
  name: string;
  includedInAmount: string;
  amount: string;
  rate: string;
}

/** `БазоваяЕдиница`: its attributes and text. */
export interface OrderUnit {
  code: string;
  fullName: string;
  /** `МеждународноеСокращение`. */
  intl: string;
  /** The element's text (`шт`). */
  text: string;
}

/** `Товары/Товар` of a document. */
export interface OrderLine {
  id: string;
  /** `ИдКаталога`. */
  catalogId: string;
  article: string;
  name: string;
  unit: OrderUnit;
  /** `Коэффициент` (units per base unit). */
  factor: string;
  /** `ЦенаЗаЕдиницу`. */
  price: string;
  quantity: string;
  /** `Сумма`. */
  amount: string;
  discounts: OrderDiscount[];
  taxes: OrderTax[];
  requisites: Requisite[];
  /** `ХарактеристикиТовара`: Наименование → Значение pairs. */
  characteristics: Array<{ name: string; value: string }>;
  /** Line of the line's `<Товар>`. */
  line: number;
}

export interface OrderDocument {
  /** `Ид`. */
  id: string;
  /** `Номер`. */
  number: string;
  /** `Дата` and `Время` as written. */
  date: string;
  time: string;
  /** `ХозОперация` («Заказ товара»). */
  operation: string;
  /** `Роль` («Продавец»). */
  role: string;
  /** `Валюта`, `Курс`, `Сумма`. */
  currency: string;
  rate: string;
  amount: string;
  /** `Комментарий`. */
  comment: string;
  /** `Номер1С`, `Дата1С` (2.08+); older files carry «Номер по 1С», «Дата по 1С» as requisites. */
  erpNumber?: string;
  erpDate?: string;
  /** `ПометкаУдаления` as an element (a requisite in other configurations). */
  deletionMark?: string;
  /** `Проведен` as an element. */
  posted?: string;
  counterparties: OrderCounterparty[];
  lines: OrderLine[];
  discounts: OrderDiscount[];
  taxes: OrderTax[];
  /** `ЗначенияРеквизитов/ЗначениеРеквизита` in document order. */
  requisites: Requisite[];
  /** Where the document starts: line of `<Документ>` and its element path. */
  line: number;
  path: string;
}

function emptyCounterparty(): OrderCounterparty {
  return { id: '', name: '', fullName: '', officialName: '', role: '', inn: '', kpp: '', lastName: '', firstName: '', middleName: '', contacts: [], representatives: [] };
}

function emptyLine(line: number): OrderLine {
  return {
    id: '', catalogId: '', article: '', name: '', unit: { code: '', fullName: '', intl: '', text: '' }, factor: '', price: '', quantity: '', amount: '',
    discounts: [], taxes: [], requisites: [], characteristics: [], line,
  };
}

const trimmed = (s: string): string => s.trim();

/**
 * Collects one `Документ` from the elements inside it, by their path relative to the document.
 * Values are trimmed: 1C pretty-prints long values over several lines (sample 08).
 */
export class DocumentBuilder {
  private readonly doc: OrderDocument;
  private readonly path: string[] = [];
  private cp: OrderCounterparty | undefined;
  private ln: OrderLine | undefined;
  private address: OrderAddress | undefined;
  private field: { type: string; value: string } | undefined;
  private contact: OrderContact | undefined;
  private rep: { relation: string; id: string; name: string } | undefined;
  private req: Requisite | undefined;
  private discount: OrderDiscount | undefined;
  private tax: OrderTax | undefined;
  private ch: { name: string; value: string } | undefined;

  constructor(line: number, path: string) {
    this.doc = {
      id: '', number: '', date: '', time: '', operation: '', role: '', currency: '', rate: '', amount: '', comment: '',
      counterparties: [], lines: [], discounts: [], taxes: [], requisites: [], line, path,
    };
  }

  /** An element opens inside the document at `line`; `attrs` reads an attribute of it by name. */
  open(name: string, attrs: (name: string) => string | undefined, line: number): void {
    const p = this.path;
    p.push(name);
    const inRep = p.includes('Представители');
    switch (name) {
      case 'Контрагент':
        if (inRep) this.rep = { relation: '', id: '', name: '' };
        else if (p.length === 2 && p[0] === 'Контрагенты') this.cp = emptyCounterparty();
        break;
      case 'Товар':
        if (p.length === 2 && p[0] === 'Товары') this.ln = emptyLine(line);
        break;
      case 'АдресРегистрации':
      case 'Адрес':
      case 'ЮридическийАдрес':
        if (this.cp && !inRep) this.address = { presentation: '', fields: [] };
        break;
      case 'АдресноеПоле':
        this.field = { type: '', value: '' };
        break;
      case 'Контакт':
      case 'КонтактнаяИнформация':
        if (!inRep && p[p.length - 2] !== 'КонтактнаяИнформация') this.contact = { type: '', value: '', comment: '' };
        break;
      case 'ЗначениеРеквизита':
        this.req = { name: '', value: '' };
        break;
      case 'Скидка':
        this.discount = { name: '', amount: '', percent: '', includedInAmount: '' };
        break;
      case 'Налог':
        this.tax = { name: '', includedInAmount: '', amount: '', rate: '' };
        break;
      case 'ХарактеристикаТовара':
        this.ch = { name: '', value: '' };
        break;
      case 'БазоваяЕдиница':
        if (this.ln && p.length === 3) {
          this.ln.unit.code = attrs('Код')?.trim() ?? '';
          this.ln.unit.fullName = attrs('НаименованиеПолное') ?? '';
          this.ln.unit.intl = attrs('МеждународноеСокращение') ?? '';
        }
        break;
    }
  }

  /** The element at the end of the path closes with its own text. */
  close(text: string): void {
    const p = this.path;
    const name = p[p.length - 1]!;
    const parent = p[p.length - 2];
    const depth = p.length;
    const v = trimmed(text);
    const inRep = p.includes('Представители');
    if (depth === 1) this.docField(name, v);
    else if (this.rep && inRep) this.repField(name, parent, v);
    else if (this.field && parent === 'АдресноеПоле') this.addressField(name, v);
    else if (this.contact && (parent === 'Контакт' || parent === 'КонтактнаяИнформация')) this.contactField(name, v);
    else if (this.req && parent === 'ЗначениеРеквизита') this.requisiteField(name, v);
    else if (this.discount && parent === 'Скидка') this.discountField(name, v);
    else if (this.tax && parent === 'Налог') this.taxField(name, v);
    else if (this.ch && parent === 'ХарактеристикаТовара') {
      if (name === 'Наименование') this.ch.name = v;
      else if (name === 'Значение') this.ch.value = v;
    } else if (this.address && (parent === 'АдресРегистрации' || parent === 'Адрес' || parent === 'ЮридическийАдрес') && name === 'Представление') {
      this.address.presentation = v;
    } else if (this.ln && depth === 3 && parent === 'Товар') this.lineField(name, v);
    else if (this.ln && depth === 3 && name === 'БазоваяЕдиница') this.ln.unit.text = v;
    else if (this.cp && p[0] === 'Контрагенты' && depth >= 3) this.counterpartyField(name, v);
    this.closed(name, parent);
    p.pop();
  }

  /** Attaches finished parts to their owner. */
  private closed(name: string, parent: string | undefined): void {
    const p = this.path;
    switch (name) {
      case 'Контрагент':
        if (this.rep && p.includes('Представители')) {
          this.cp?.representatives.push(this.rep);
          this.rep = undefined;
        } else if (this.cp && p.length === 2) {
          this.doc.counterparties.push(this.cp);
          this.cp = undefined;
        }
        break;
      case 'Товар':
        if (this.ln && p.length === 2) {
          this.doc.lines.push(this.ln);
          this.ln = undefined;
        }
        break;
      case 'АдресРегистрации':
      case 'Адрес':
      case 'ЮридическийАдрес':
        if (this.cp && this.address) {
          if (name === 'ЮридическийАдрес') this.cp.legalAddress = this.address;
          else this.cp.address ??= this.address;
          this.address = undefined;
        }
        break;
      case 'АдресноеПоле':
        if (this.address && this.field) this.address.fields.push(this.field);
        this.field = undefined;
        break;
      case 'Контакт':
      case 'КонтактнаяИнформация':
        if (this.contact && this.cp && parent !== 'КонтактнаяИнформация') {
          this.cp.contacts.push(this.contact);
          this.contact = undefined;
        }
        break;
      case 'ЗначениеРеквизита':
        if (this.req) (this.ln ?? this.doc).requisites.push(this.req);
        this.req = undefined;
        break;
      case 'Скидка':
        if (this.discount) (this.ln ?? this.doc).discounts.push(this.discount);
        this.discount = undefined;
        break;
      case 'Налог':
        if (this.tax) (this.ln ?? this.doc).taxes.push(this.tax);
        this.tax = undefined;
        break;
      case 'ХарактеристикаТовара':
        if (this.ch && this.ln) this.ln.characteristics.push(this.ch);
        this.ch = undefined;
        break;
    }
  }

  private docField(name: string, v: string): void {
    const d = this.doc;
    switch (name) {
      case 'Ид': d.id = v; break;
      case 'Номер': d.number = v; break;
      case 'Дата': d.date = v; break;
      case 'Время': d.time = v; break;
      case 'ХозОперация': d.operation = v; break;
      case 'Роль': d.role = v; break;
      case 'Валюта': d.currency = v; break;
      case 'Курс': d.rate = v; break;
      case 'Сумма': d.amount = v; break;
      case 'Комментарий': d.comment = v; break;
      case 'Номер1С': d.erpNumber = v; break;
      case 'Дата1С': d.erpDate = v; break;
      case 'ПометкаУдаления': d.deletionMark = v; break;
      case 'Проведен': d.posted = v; break;
    }
  }

  private lineField(name: string, v: string): void {
    const l = this.ln!;
    switch (name) {
      case 'Ид': l.id = v; break;
      case 'ИдКаталога': l.catalogId = v; break;
      case 'Артикул': l.article = v; break;
      case 'Наименование': l.name = v; break;
      case 'ЦенаЗаЕдиницу': l.price = v; break;
      case 'Количество': l.quantity = v; break;
      case 'Сумма': l.amount = v; break;
      case 'Коэффициент': l.factor = v; break;
      case 'БазоваяЕдиница': l.unit.text = v; break;
      case 'Единица': l.unit.text ||= v; break;
    }
  }

  private counterpartyField(name: string, v: string): void {
    const c = this.cp!;
    switch (name) {
      case 'Ид': if (this.path.length === 3) c.id = v; break;
      case 'Наименование': if (this.path.length === 3) c.name = v; break;
      case 'ПолноеНаименование': c.fullName ||= v; break;
      case 'ОфициальноеНаименование': c.officialName ||= v; break;
      case 'Роль': if (this.path.length === 3) c.role = v; break;
      case 'ИНН': c.inn ||= v; break;
      case 'КПП': c.kpp ||= v; break;
      case 'Фамилия': c.lastName ||= v; break;
      case 'Имя': c.firstName ||= v; break;
      case 'Отчество': c.middleName ||= v; break;
    }
  }

  private repField(name: string, parent: string | undefined, v: string): void {
    if (parent !== 'Контрагент') return;
    const r = this.rep!;
    if (name === 'Отношение') r.relation = v;
    else if (name === 'Ид') r.id = v;
    else if (name === 'Наименование') r.name = v;
  }

  private addressField(name: string, v: string): void {
    if (name === 'Тип') this.field!.type = v;
    else if (name === 'Значение') this.field!.value = v;
  }

  private contactField(name: string, v: string): void {
    const c = this.contact!;
    if (name === 'Тип' || name === 'КонтактВид') c.type = v;
    else if (name === 'Значение') c.value = v;
    else if (name === 'Комментарий') c.comment = v;
  }

  private requisiteField(name: string, v: string): void {
    if (name === 'Наименование') this.req!.name = v;
    // A requisite with several values keeps the first, as 1C-Bitrix reads it.
    else if (name === 'Значение' && this.req!.value === '') this.req!.value = v;
  }

  private discountField(name: string, v: string): void {
    const d = this.discount!;
    if (name === 'Наименование') d.name = v;
    else if (name === 'Сумма') d.amount = v;
    else if (name === 'Процент') d.percent = v;
    else if (name === 'УчтеноВСумме') d.includedInAmount = v;
  }

  private taxField(name: string, v: string): void {
    const t = this.tax!;
    if (name === 'Наименование') t.name = v;
    else if (name === 'УчтеноВСумме') t.includedInAmount = v;
    else if (name === 'Сумма') t.amount = v;
    else if (name === 'Ставка') t.rate = v;
  }

  finish(): OrderDocument {
    return this.doc;
  }
}
