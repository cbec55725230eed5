// The pieces of the 1C sale exchange that need no server: the CommerceML order writer (structure of
// sample 08, versions, encodings, escaping, exact decimals), 1C's local dates, and how an order
// document from 1C (sample 07) maps to a change of our order.
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import {
  escapeXml, formatMoney, formatQuantity, namespaceFor, renderOrderDocuments, writeOrderDocuments,
  type CmlOrderDocument,
} from '../../connectors/onec/commerceml/order-writer.ts';
import { mapIncomingOrder, statusResolver, type IncomingOrder } from '../../connectors/onec/exchange/sale-changes.ts';
import { parseLocal, toLocal } from '../../connectors/onec/exchange/sale-time.ts';
import { saleSettings } from '../../connectors/onec/exchange/sale-options.ts';
import { commercemlConnector } from '../../connectors/onec/commerceml/index.ts';
import { ajv } from '../../src/schemas/index.ts';
import type { OrderStatus } from '../../src/orders/index.ts';
import { all, child, readTree, requisites, sampleTree, structureProblems } from './onec-sale-structure.ts';

const STATUSES: OrderStatus[] = [
  { code: 'new', name: 'Новый', final: false, sort: 10 },
  { code: 'accepted', name: 'Принят', final: false, sort: 20 },
  { code: 'confirmed', name: 'Подтвержден', final: false, sort: 30 },
  { code: 'in_work', name: 'В работе', final: false, sort: 40 },
  { code: 'shipped', name: 'Отгружен', final: false, sort: 50 },
  { code: 'completed', name: 'Выполнен', final: true, sort: 60 },
  { code: 'cancelled', name: 'Отменен', final: true, sort: 70 },
];

function doc(over: Partial<CmlOrderDocument> = {}): CmlOrderDocument {
  return {
    id: 'M-000001',
    number: 'M-000001',
    date: '2024-03-01',
    time: '10:15:00',
    currency: 'RUB',
    rate: '1',
    total: '1234567890123456.780000',
    comment: 'Позвонить за час',
    counterparty: {
      id: 'le-guid-1', name: 'ООО «Ромашка»', fullName: 'Общество с ограниченной ответственностью «Ромашка»', company: true,
      inn: '7701234567', kpp: '770101001', address: { text: '101000, Москва, ул. Мясницкая, 1' },
      bank: { account: '40702810900000000001', bankName: 'ПАО Банк', bik: '044525225', corrAccount: '30101810400000000225' },
      phone: '+7 495 000-00-00', email: 'buy@romashka.ru', representative: { id: 'c-1', name: 'Иванов Иван' },
    },
    lines: [
      { id: 'dee6e19a-55bc-11d9-848a-00112f43529a', name: 'Телевизор "JVC" & <пульт>', unit: { code: '796', fullName: 'Штука', shortName: 'шт', intl: 'PCE' },
        price: '0.125000', quantity: '2.500000', amount: '0.31', kind: 'Товар' },
      { id: 'p2#c1', name: 'Кабель 😀 Ä 中', unit: { code: '006', fullName: 'Метр', shortName: 'м' }, price: '100.000000', quantity: '3.000000', amount: '300.00', kind: 'Товар' },
    ],
    requisites: [['Заказ оплачен', 'false'], ['Доставка разрешена', 'false'], ['Отменен', 'false'], ['Финальный статус', 'false'],
      ['Статус заказа', '[new] Новый'], ['Статуса заказа ИД', 'new'], ['Дата изменения статуса', '2024-03-01 10:15:00'], ['Сайт', '[s1] Magistral']],
    ...over,
  };
}

describe('order writer', () => {
  const sample = sampleTree('08_sale_query_response_cml205_cp1251.xml');

  it('the structural check accepts sample 08 itself and refuses a document missing or reordering elements', () => {
    expect(structureProblems(sample, sample)).toEqual([]);
    const broken = structuredClone(sample);
    const d = child(broken, 'Документ')!;
    d.children = d.children.filter((c) => c.name !== 'Валюта').reverse();
    const problems = structureProblems(broken, sample);
    expect(problems).toContain('missing element /КоммерческаяИнформация/Документ/Валюта');
    expect(problems.some((p) => p.startsWith('children of /КоммерческаяИнформация/Документ out of order'))).toBe(true);
  });

  for (const version of ['2.05', '2.08', '2.10'] as const) {
    for (const encoding of ['windows-1251', 'utf-8'] as const) {
      it(`${version} in ${encoding}: the structure of sample 08, Cyrillic and decimals intact`, () => {
        const person = doc({ id: 'M-000002', number: 'M-000002', counterparty: { id: 'ip-1', name: 'ИП Петров', fullName: 'Петров Пётр Петрович', company: false, inn: '500100732259' } });
        const bytes = writeOrderDocuments([doc(), person], { version, encoding, generatedAt: '2024-03-01T10:20:00' });
        expect(bytes.subarray(0, 60).toString('latin1')).toContain(`encoding="${encoding === 'utf-8' ? 'UTF-8' : 'windows-1251'}"`);
        if (encoding === 'windows-1251') expect(iconv.encode(iconv.decode(bytes, 'win1251'), 'win1251').equals(bytes)).toBe(true);
        const root = readTree(bytes);
        expect(structureProblems(root, sample)).toEqual([]);
        expect(root.attrs['ВерсияСхемы']).toBe(version);
        expect(root.attrs.xmlns).toBe(namespaceFor(version) ?? undefined);
        const [d1, d2] = all(root, 'Документ');
        expect(child(d1!, 'Сумма')!.text).toBe('1234567890123456.78');
        const agent = child(child(d1!, 'Контрагенты')!, 'Контрагент')!;
        expect(child(agent, 'ОфициальноеНаименование')!.text).toBe('Общество с ограниченной ответственностью «Ромашка»');
        expect(child(agent, 'ИНН')!.text).toBe('7701234567');
        expect(child(agent, 'КПП')!.text).toBe('770101001');
        expect(child(agent, 'Роль')!.text).toBe('Покупатель');
        const contactTypes = all(child(agent, 'Контакты')!, 'Контакт').map((c) => child(c, 'Тип')!.text);
        expect(contactTypes).toEqual(version === '2.05' ? ['ТелефонРабочий', 'Почта'] : ['Телефон рабочий', 'Электронная почта']);
        const personAgent = child(child(d2!, 'Контрагенты')!, 'Контрагент')!;
        expect(child(personAgent, 'ОфициальноеНаименование')).toBeUndefined();
        expect(child(personAgent, 'АдресРегистрации')).toBeDefined();
        const [l1, l2] = all(child(d1!, 'Товары')!, 'Товар');
        expect(child(l1!, 'Наименование')!.text).toBe('Телевизор "JVC" & <пульт>');
        expect(child(l2!, 'Наименование')!.text).toBe('Кабель 😀 Ä 中');
        expect(child(l2!, 'Ид')!.text).toBe('p2#c1');
        expect([child(l1!, 'ЦенаЗаЕдиницу')!.text, child(l1!, 'Количество')!.text, child(l1!, 'Сумма')!.text]).toEqual(['0.125', '2.5', '0.31']);
        if (version === '2.05') {
          expect(child(l2!, 'БазоваяЕдиница')!.attrs).toEqual({ 'Код': '006', 'НаименованиеПолное': 'Метр' });
          expect(child(l2!, 'БазоваяЕдиница')!.text).toBe('м');
        } else {
          expect(child(child(l2!, 'Единица')!, 'Код')!.text).toBe('006');
          expect(child(l2!, 'Коэффициент')!.text).toBe('1');
        }
        expect(requisites(l1!)).toEqual([['ВидНоменклатуры', 'Товар'], ['ТипНоменклатуры', 'Товар']]);
        expect(requisites(d1!).map(([n]) => n)).toEqual(requisites(child(sample, 'Документ')!).map(([n]) => n)
          .filter((n) => !['Способ доставки', 'Метод доставки ИД', 'Метод оплаты', 'Метод оплаты ИД', 'Комментарии покупателя'].includes(n)));
      });
    }
  }

  it('windows-1251 output carries characters outside the code page as character references', () => {
    const text = renderOrderDocuments([doc()], { version: '2.05', encoding: 'windows-1251', generatedAt: '2024-03-01T10:20:00' });
    expect(text).toContain('Кабель &#x1F600; &#xC4; &#x4E2D;');
    expect(text).toContain('Телевизор &quot;JVC&quot; &amp; &lt;пульт&gt;');
  });

  it('escapes markup, keeps what the code page has, and replaces what XML cannot hold', () => {
    expect(escapeXml('a&b<c>d"e', 'utf-8')).toBe('a&amp;b&lt;c&gt;d&quot;e');
    expect(escapeXml('№ «ёлка» — €', 'windows-1251')).toBe('№ «ёлка» — €');
    expect(escapeXml('x\u0001y\ud800z', 'windows-1251')).toBe('x&#xFFFD;y&#xFFFD;z');
    expect(escapeXml('x\u0001y', 'utf-8')).toBe('x\ufffdy');
    expect(escapeXml('tab\tnl\n', 'windows-1251')).toBe('tab\tnl\n');
  });

  it('formats stored decimals exactly', () => {
    expect(formatMoney('231.740000')).toBe('231.74');
    expect(formatMoney('2137.8')).toBe('2137.80');
    expect(formatMoney('100')).toBe('100.00');
    expect(formatMoney('0.125000')).toBe('0.125');
    expect(formatMoney('99999999999999.999999')).toBe('99999999999999.999999');
    expect(formatQuantity('1.000000')).toBe('1');
    expect(formatQuantity('0.001000')).toBe('0.001');
    expect(() => formatMoney('1e5')).toThrow(/not a decimal/);
  });
});

describe('1C local time', () => {
  it('reads the forms 1C writes, in the flow zone', () => {
    const tz = 'Europe/Moscow';
    expect(parseLocal('2007-10-16 15:44:47', tz)!.toISOString()).toBe('2007-10-16T11:44:47.000Z');
    expect(parseLocal('2007-10-16T15:44:47', tz)!.toISOString()).toBe('2007-10-16T11:44:47.000Z');
    expect(parseLocal('11.02.2021 18:45:21', tz)!.toISOString()).toBe('2021-02-11T15:45:21.000Z');
    expect(parseLocal('2021-02-11', tz)!.toISOString()).toBe('2021-02-10T21:00:00.000Z');
    expect(parseLocal('T', tz)).toBeNull();
    expect(parseLocal('', tz)).toBeNull();
    expect(parseLocal('0001-01-01T00:00:00', tz)).toBeNull();
    expect(parseLocal('2021-02-30', tz)).toBeUndefined();
    expect(parseLocal('вчера', tz)).toBeUndefined();
    // Summer time in a zone that still switches.
    expect(parseLocal('2024-07-01 12:00:00', 'Europe/Berlin')!.toISOString()).toBe('2024-07-01T10:00:00.000Z');
    expect(toLocal(new Date('2024-03-01T07:15:00Z'), tz)).toEqual({ date: '2024-03-01', time: '10:15:00' });
  });
});

/** Sample 07 as the sale exchange sees an order document (the server test reads it with H1's reader). */
function sample07(): IncomingOrder {
  const d = child(sampleTree('07_order_to_site_cml203_cp1251.xml'), 'Документ')!;
  return { id: child(d, 'Ид')!.text, number: child(d, 'Номер')!.text, requisites: requisites(d).map(([name, value]) => ({ name, value })) };
}

describe('order changes from 1C', () => {
  const tz = 'Europe/Moscow';

  it('sample 07: completed (1C-Bitrix letter F), paid and shipped with their dates', () => {
    const m = mapIncomingOrder(sample07(), statusResolver(STATUSES), tz);
    expect(m.warnings).toEqual([]);
    expect(m.refs).toEqual({ numbers: ['20'] });
    expect(m.change).toEqual({
      status: 'completed', paid: true, paidAt: new Date('2007-10-16T11:44:47Z'),
      shipped: true, shippedAt: new Date('2007-10-16T11:51:27Z'),
    });
  });

  it('1C numbers and dates, 1C payment and shipment dates, deletion mark', () => {
    const m = mapIncomingOrder({
      id: 'guid-in-1c', number: 'M-000007',
      requisites: [
        { name: 'Номер по 1С', value: 'ТК-000123' }, { name: 'Дата по 1С', value: '2024-03-02 09:00:00' },
        { name: 'Дата оплаты по 1С', value: '2024-03-03T12:00:00' }, { name: 'Дата отгрузки по 1С', value: 'T' },
        { name: 'ПометкаУдаления', value: 'true' }, { name: 'Статус заказа', value: 'В работе' },
      ],
    }, statusResolver(STATUSES), tz);
    expect(m.refs).toEqual({ numbers: ['M-000007', 'guid-in-1c'], erpNumber: 'ТК-000123' });
    expect(m.change).toEqual({
      status: 'in_work', erpNumber: 'ТК-000123', erpDate: new Date('2024-03-02T06:00:00Z'),
      paid: true, paidAt: new Date('2024-03-03T09:00:00Z'), cancelled: true,
    });
  });

  it('status by our code, by name, by the flow map; unknown status and bad dates are warnings, false flags clear nothing', () => {
    const r = statusResolver(STATUSES, { 'Собран': 'confirmed', X: 'shipped' });
    expect(r.resolve('[accepted] Принят')).toBe('accepted');
    expect(r.resolve('ОТГРУЖЕН')).toBe('shipped');
    expect(r.resolve('Собран')).toBe('confirmed');
    expect(r.resolve('[X] Что-то')).toBe('shipped');
    expect(r.resolve('[N] Принят, ожидается оплата')).toBe('new');
    expect(r.resolve('[Q] Неизвестный')).toBeUndefined();
    const m = mapIncomingOrder({ number: '5', requisites: [
      { name: 'Статуса заказа ИД', value: 'Q' }, { name: 'Статус заказа', value: '[new] Новый' },
      { name: 'Заказ оплачен', value: 'false' }, { name: 'Отменен', value: 'false' }, { name: 'Дата по 1С', value: '32.13.2024' },
    ] }, r, tz);
    expect(m.change).toEqual({});
    expect(m.warnings).toEqual([
      "document 5: unknown order status 'Q'; status not changed",
      "document 5: «Дата по 1С» '32.13.2024' is not a date; ignored",
    ]);
  });
});

describe('sale options', () => {
  const validate = ajv.compile(commercemlConnector.optionsSchema);

  it('the onec.commerceml connector accepts the sale options and refuses bad ones, naming them', () => {
    const good = {
      exchange: 'default', saleVersion: '2.10', saleEncoding: 'utf-8', saleTimeZone: 'Asia/Yekaterinburg', saleQueryLimit: 100,
      saleSite: '[s1] Shop', salePaymentMethod: 'Наличные', saleCatalogId: 'cat-1', saleCurrencyNames: { RUB: 'руб' },
      saleStatusMap: { 'Собран': 'confirmed' }, salePaymentSystems: [{ id: '1', name: 'Карта', type: 'Эквайринговая операция' }], saleDeliveryServices: [{ id: '5', name: 'Самовывоз' }],
    };
    expect(validate(structuredClone(good)), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ saleVersion: '3.1' })).toBe(false);
    expect(validate.errors?.[0]?.instancePath).toBe('/saleVersion');
    expect(validate({ saleEncoding: 'koi8-r' })).toBe(false);
    expect(validate({ saleQueryLimit: 0 })).toBe(false);
    expect(validate({ salePaymentSystems: [{ id: '1' }] })).toBe(false);
  });

  it('defaults: CommerceML 2.05 in windows-1251 like 1C-Bitrix, Moscow time, 500 orders a query', () => {
    expect(saleSettings({ id: 1 })).toMatchObject({
      system: 'local', version: '2.05', encoding: 'windows-1251', timeZone: 'Europe/Moscow', queryLimit: 500, site: '[s1] Magistral',
      currencyNames: {}, statusMap: {}, paymentSystems: [], deliveryServices: [],
    });
  });
});
