// The CommerceML vocabulary: the element and attribute names the reader knows, with the constant ids
// the tokenizer reports them by (an id is the name's index; names outside it get larger ids).

export const VOCAB = [
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

export type VocabName = (typeof VOCAB)[number];

/** The id of a vocabulary name. */
export const nameId = (n: VocabName): number => VOCAB.indexOf(n);

/** The id of any name, or -1 outside the vocabulary (for the order documents, which read by name). */
export const idOfName = (n: string): number => (VOCAB as readonly string[]).indexOf(n);

export const N_ROOT = nameId('КоммерческаяИнформация');
export const N_PACKAGE_CHANGES = nameId('ИзмененияПакетаПредложений');
export const N_ONLY_CHANGES = nameId('СодержитТолькоИзменения');
export const N_ID = nameId('Ид');
export const N_NAME = nameId('Наименование');
export const N_DELETION_MARK = nameId('ПометкаУдаления');
export const N_STATUS = nameId('Статус');
export const N_VALUE_TYPE = nameId('ТипЗначений');
export const N_FOR_OFFERS = nameId('ДляПредложений');
export const N_VALUE = nameId('Значение');
export const N_ARTICLE = nameId('Артикул');
export const N_BARCODE = nameId('Штрихкод');
export const N_UNIT = nameId('Единица');
export const N_FACTOR = nameId('Коэффициент');
export const N_RATE = nameId('Ставка');
export const N_CURRENCY = nameId('Валюта');
export const N_QUANTITY = nameId('Количество');
export const N_PRESENTATION = nameId('Представление');
export const N_PRICE_TYPE_ID = nameId('ИдТипаЦены');
export const N_PRICES = nameId('Цены');
export const N_UNIT_PRICE = nameId('ЦенаЗаЕдиницу');
export const A_WAREHOUSE_ID = nameId('ИдСклада');
export const A_WAREHOUSE_QTY = nameId('КоличествоНаСкладе');
export const A_CODE = nameId('Код');
export const A_FULL_NAME = nameId('НаименованиеПолное');
export const A_INTL = nameId('МеждународноеСокращение');
export const A_SHORT_NAME = nameId('НаименованиеКраткое');
