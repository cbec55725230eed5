// The CommerceML reader and the onec.commerceml connector on every real sample and on small fixtures
// for the shapes the samples lack: counts checked against an independent count (saxes and element
// paths), field values, namespaces, both stock forms, characteristic offers, the delta flag, kinds,
// order documents, the dry run and malformed files.
import { execFile } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import iconv from 'iconv-lite';
import { SaxesParser } from 'saxes';
import { afterAll, describe, expect, it } from 'vitest';
import { ONEC_SAMPLES } from '../helpers/samples.ts';
import { COUNT_KEYS, readCommerceML, readOrderDocuments, RECORD_KINDS, type ElementCounts, type OrderDocument } from '../../connectors/onec/commerceml/index.ts';
import { PayloadError } from '../../src/errors/index.ts';
import { checkMappingTarget, loadMapping, runMappingTests } from '../../src/mapping/index.ts';
import type { SourceRecord } from '../../src/port/index.ts';
import { dryRun, dryRunJson } from '../../src/pipeline/dry-run.ts';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { registry } from '../helpers/registry.ts';

const SAMPLES = ONEC_SAMPLES;
const FIXTURES = path.join(REPO_DIR, 'test/fixtures/onec');
const sample = (name: string): string => path.join(SAMPLES, name);
const fixture = (name: string): string => path.join(FIXTURES, name);
const S01 = sample('01_import0_1_cml207_unf-style.xml');
const S02 = sample('02_offers0_1_cml207_warehouse-attrs.xml');
const S03 = sample('03_prices___cml209_bitrix-module.xml');
const S04 = sample('04_rests___cml209_bitrix-module.xml');
const S05 = sample('05_offers_cml208_3-price-types.xml');
const S06 = sample('06_order_from_site_cml203_cp1251.xml');
const S07 = sample('07_order_to_site_cml203_cp1251.xml');
const S08 = sample('08_sale_query_response_cml205_cp1251.xml');

const dir = mkdtempSync(path.join(tmpdir(), 'onec-cml-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const run = promisify(execFile);

/**
 * The reference count, by a different method: saxes over the decoded text, each element judged by its
 * path of local names, with the meanings `magistral dry-run` documents.
 */
function referenceCounts(file: string): ElementCounts {
  const bytes = readFileSync(file);
  const head = bytes.subarray(0, 120).toString('latin1');
  const text = /encoding="windows-1251"/i.test(head) ? iconv.decode(bytes, 'win1251') : bytes.toString('utf8').replace(/^\uFEFF/, '');
  const c: ElementCounts = { products: 0, groups: 0, properties: 0, priceTypes: 0, warehouses: 0, offers: 0, prices: 0, stock: 0, orders: 0 };
  const stack: string[] = [];
  const p = new SaxesParser();
  p.on('opentag', (t) => {
    const name = t.name.replace(/^.*:/, '');
    const parent = stack[stack.length - 1];
    const grand = stack[stack.length - 2];
    const has = (n: string): boolean => stack.includes(n);
    const attrs = Object.keys(t.attributes).map((a) => a.replace(/^.*:/, ''));
    if (name === 'Товар' && parent === 'Товары' && grand === 'Каталог') c.products++;
    if (name === 'Группа' && parent === 'Группы' && has('Классификатор')) c.groups++;
    if (name === 'Свойство' && parent === 'Свойства' && grand === 'Классификатор') c.properties++;
    if (name === 'ТипЦены' && parent === 'ТипыЦен') c.priceTypes++;
    if (name === 'Склад' && parent === 'Склады' && !has('Предложение')) c.warehouses++;
    if (name === 'Предложение') c.offers++;
    if (name === 'Цена' && parent === 'Цены' && has('Предложение')) c.prices++;
    if (name === 'Склад' && has('Предложение') && (attrs.includes('ИдСклада') || parent === 'Остаток')) c.stock++;
    if (name === 'Документ') c.orders++;
    stack.push(name);
  });
  p.on('closetag', () => stack.pop());
  p.write(text).close();
  return c;
}

async function readAll(file: string | Buffer, o: { kinds?: string[]; plainOffers?: boolean; chunk?: number } = {}): Promise<{ records: SourceRecord[]; counts: ElementCounts; modes: string[] }> {
  const modes: string[] = [];
  const input = typeof file === 'string' ? createReadStream(file, { highWaterMark: o.chunk ?? 64 * 1024 }) : Readable.from([file]);
  const it = readCommerceML(input, {
    fileName: typeof file === 'string' ? path.basename(file) : 'buffer.xml',
    kinds: o.kinds ? new Set(o.kinds) : undefined,
    plainOffers: o.plainOffers,
    setMode: (m) => modes.push(m),
    batchSize: 100,
  });
  const records: SourceRecord[] = [];
  let step = await it.next();
  while (!step.done) {
    expect(step.value.length).toBeLessThanOrEqual(100);
    records.push(...step.value);
    step = await it.next();
  }
  return { records, counts: step.value, modes };
}

const ofKind = (records: SourceRecord[], kind: string): SourceRecord[] => records.filter((r) => r.kind === kind);

describe('every real sample gives exactly the counts a careful reading gives', () => {
  // Read by hand from each file (and the notes in samples/README.md), then checked against saxes.
  const expected: Record<string, Partial<ElementCounts>> = {
    [S01]: { products: 36, groups: 1, properties: 12 },
    [S02]: { priceTypes: 1, warehouses: 3, offers: 44, prices: 44, stock: 132 },
    [S03]: { offers: 978, prices: 978 },
    // 978 offers with one Остатки/Остаток/Склад each; the warehouse is referenced, never declared.
    [S04]: { offers: 978, stock: 978 },
    [S05]: { properties: 1, priceTypes: 3, offers: 2, prices: 6 },
    [S06]: { orders: 1 },
    [S07]: { orders: 1 },
    [S08]: { orders: 2 },
  };
  for (const [file, counts] of Object.entries(expected)) {
    it(path.basename(file), async () => {
      const full = { products: 0, groups: 0, properties: 0, priceTypes: 0, warehouses: 0, offers: 0, prices: 0, stock: 0, orders: 0, ...counts };
      expect(referenceCounts(file)).toEqual(full);
      const r = await dryRun({ registry, connector: 'onec.commerceml', files: [file] });
      expect(r.errors).toEqual([]);
      expect(r.counts).toEqual(full);
      // Keys in the documented order.
      expect(Object.keys(dryRunJson(r))).toEqual([...COUNT_KEYS, 'rejects', 'errors']);
    });
  }

  it('regex counts over the raw text agree where they can', () => {
    const text = (f: string): string => readFileSync(f, 'utf8');
    expect(text(S03).match(/<Цена>/g)!.length).toBe(978);
    expect(text(S02).match(/<Склад ИдСклада="/g)!.length).toBe(132);
    // One of the 36 is <Товар Статус="Удален">.
    expect(text(S01).match(/<Товар[ >]/g)!.length).toBe(36);
  });

  it('the samples map without rejects except the one negative stock quantity of 04', async () => {
    const r = await dryRun({ registry, connector: 'onec.commerceml', files: [S01, S02, S03, S04, S05, S06, S07, S08] });
    expect(r.errors).toEqual([]);
    expect(r.rejects).toBe(1);
    expect(r.samples).toEqual([{
      at: `${S04}:1179 /КоммерческаяИнформация/ПакетПредложений/Предложения/Предложение[107]/Остатки/Остаток[1]/Склад[1]`,
      field: 'quantity', rule: 'pattern', reason: expect.stringContaining('quantity: "-1" is not a non-negative decimal number'),
    }]);
    expect(r.mappingsUsed[S02]).toEqual(['onec/price-types.yaml', 'onec/prices.yaml', 'onec/stock.yaml', 'onec/warehouses.yaml']);
    expect(r.mappingsUsed[S01]).toEqual(['onec/groups.yaml', 'onec/product-properties.yaml', 'onec/products.yaml', 'onec/properties.yaml', 'onec/property-values.yaml']);
  });
});

describe('record values', () => {
  it('01 catalog: groups, properties with reference values, products with unit, group, taxes, requisites', async () => {
    const { records, modes } = await readAll(S01, { chunk: 1000 });
    expect(modes).toEqual(['snapshot']);
    expect(ofKind(records, 'groups')).toEqual([{
      kind: 'groups', line: 15, path: '/КоммерческаяИнформация/Классификатор/Группы/Группа[1]',
      data: { id: '82cfb8dc-18f9-11e7-80c2-0cc47ab29cd1', name: 'Коврики для дома', parent: '', deleted: '' },
    }]);
    const props = ofKind(records, 'properties');
    expect(props.map((p) => p.data.valueType)).toEqual(['Строка', 'Число', 'Справочник', 'Справочник', 'Число', 'Число', 'Число', 'Строка', 'Справочник', 'Число', 'Число', 'Число']);
    const values = ofKind(records, 'propertyValues');
    expect(values).toHaveLength(12);
    expect(values[1]).toMatchObject({ data: { property: '06375b96-18fb-11e7-80c2-0cc47ab29cd1', id: '259d77bb-18fb-11e7-80c2-0cc47ab29cd1', value: 'Portable' } });
    const products = ofKind(records, 'products');
    expect(products).toHaveLength(36);
    expect(products[0]).toEqual({
      kind: 'products', line: 150, path: '/КоммерческаяИнформация/Каталог/Товары/Товар[1]',
      data: {
        id: 'bd8c4e15-18f9-11e7-80c2-0cc47ab29cd1', name: 'Портативный коврик Portable 140x200x1 см, Деревянные лошадки', article: 'PM-421-WP',
        barcode: '8809288404089', group: '82cfb8dc-18f9-11e7-80c2-0cc47ab29cd1', unit: 'PCE', unitCode: '796', unitName: 'Штука',
        unitRecalcUnit: '796', unitRecalcFactor: '1', deleted: '', status: '', 'tax.НДС': '20', 'requisite.ВидНоменклатуры': 'Коврики для дома',
        'requisite.ТипНоменклатуры': 'Товар', 'requisite.Полное наименование': 'Портативный коврик Portable 140x200x1 см, Деревянные лошадки',
      },
    });
    // 14 of the 36 products have no barcode; one is removed (Статус="Удален").
    expect(products.filter((p) => p.data.barcode === '')).toHaveLength(14);
    expect(products.filter((p) => p.data.deleted === 'true').map((p) => [p.line, p.data.status])).toEqual([[2701, 'Удален']]);
    const pp = ofKind(records, 'productProperties');
    expect(pp).toHaveLength(415);
    expect(pp[1]).toMatchObject({ data: { product: 'bd8c4e15-18f9-11e7-80c2-0cc47ab29cd1', property: '38409b0c-29da-11e9-80c9-0cc47ab29cd1', value: '1,4' } });
  });

  it('02 offers: price type, warehouses, prices with unit and factor, stock from attributes', async () => {
    const { records, modes } = await readAll(S02, { chunk: 333 });
    expect(modes).toEqual(['snapshot']);
    expect(ofKind(records, 'priceTypes')[0]!.data).toEqual({ id: '279b6812-740b-11e8-80c8-0cc47ab29cd1', name: 'BASE', currency: 'RUB', taxName: 'НДС', taxIncluded: 'true' });
    expect(ofKind(records, 'warehouses').map((w) => w.data.name)).toEqual(['Владивосток', 'Новосибирск', 'Москва']);
    expect(ofKind(records, 'prices')[0]).toEqual({
      kind: 'prices', line: 66, path: '/КоммерческаяИнформация/ПакетПредложений/Предложения/Предложение[1]/Цены/Цена[1]',
      data: { offer: 'bd8c4e15-18f9-11e7-80c2-0cc47ab29cd1', product: 'bd8c4e15-18f9-11e7-80c2-0cc47ab29cd1', priceType: '279b6812-740b-11e8-80c8-0cc47ab29cd1', price: '100', currency: 'RUB', unit: 'PCE', factor: '1', presentation: ' 100 RUB за PCE' },
    });
    const stock = ofKind(records, 'stock');
    expect(stock.slice(0, 3).map((s) => [s.data.warehouse, s.data.quantity, s.line])).toEqual([
      ['6abdb0b5-18fd-11e7-80c2-0cc47ab29cd1', '1', 76], ['d2a52d49-19c9-11e7-80c2-0cc47ab29cd1', '0', 77], ['dd306af1-19c9-11e7-80c2-0cc47ab29cd1', '376', 78],
    ]);
    expect(stock[2]!.path).toBe('/КоммерческаяИнформация/ПакетПредложений/Предложения/Предложение[1]/Склад[3]');
    // Plain offers are their catalog products: no `offers` records unless asked for.
    expect(ofKind(records, 'offers')).toEqual([]);
    const all = await readAll(S02, { plainOffers: true, kinds: ['offers'] });
    expect(all.records).toHaveLength(44);
    expect(all.records[0]!.data).toMatchObject({ id: 'bd8c4e15-18f9-11e7-80c2-0cc47ab29cd1', product: 'bd8c4e15-18f9-11e7-80c2-0cc47ab29cd1', characteristic: '', quantity: '377', unit: 'PCE' });
  });

  it('03 and 04 (Bitrix module, delta): prices and Остатки/Остаток/Склад stock', async () => {
    const prices = await readAll(S03);
    expect(prices.modes).toEqual(['delta']);
    expect(ofKind(prices.records, 'prices').at(-1)!.data).toMatchObject({ offer: '32ffe33b-0c38-11e4-a89f-00155d003d0f', priceType: '4d968229-47ba-11e4-a628-003048c64779', price: '262', currency: 'RUB' });
    const rests = await readAll(S04);
    expect(rests.modes).toEqual(['delta']);
    const stock = ofKind(rests.records, 'stock');
    expect(stock).toHaveLength(978);
    expect(stock[0]).toEqual({
      kind: 'stock', line: 13, path: '/КоммерческаяИнформация/ПакетПредложений/Предложения/Предложение[1]/Остатки/Остаток[1]/Склад[1]',
      data: { offer: '26b0dc1e-4d66-11e4-99fe-003048c64779', product: '26b0dc1e-4d66-11e4-99fe-003048c64779', warehouse: '5d1caeb1-44b2-11e4-a628-003048c64779', quantity: '1' },
    });
  });

  it('05 characteristic offers: SKU records, product id before #, prices per type, «руб» mapped to RUB', async () => {
    const { records } = await readAll(S05);
    const offers = ofKind(records, 'offers');
    expect(offers.map((o) => o.data)).toEqual([
      { id: 'ffce323d-c133-11e8-8111-0050569b2b72#8a4e5ea9-d129-11e8-8112-0050569b2b72', product: 'ffce323d-c133-11e8-8111-0050569b2b72', characteristic: '8a4e5ea9-d129-11e8-8112-0050569b2b72', name: 'Test offer 1', article: '', barcode: '', quantity: '2', unit: 'PCE', deleted: '', characteristics: 'Цвет: Бежевый' },
      { id: 'ffce323d-c133-11e8-8111-0050569b2b72#8a4e5eaa-d129-11e8-8112-0050569b2b72', product: 'ffce323d-c133-11e8-8111-0050569b2b72', characteristic: '8a4e5eaa-d129-11e8-8112-0050569b2b72', name: 'Test Offer 2', article: '', barcode: '', quantity: '5', unit: 'PCE', deleted: '', characteristics: 'Цвет: Желтый' },
    ]);
    const prices = ofKind(records, 'prices');
    expect(prices.map((p) => [p.data.offer!.slice(-12), p.data.priceType!.slice(0, 8), p.data.price])).toEqual([
      ['0050569b2b72', 'db7b09f3', '10500'], ['0050569b2b72', 'a5d63ccd', '15500'], ['0050569b2b72', '913eb9e7', '10500'],
      ['0050569b2b72', '913eb9e7', '10500'], ['0050569b2b72', 'a5d63ccd', '15500'], ['0050569b2b72', 'db7b09f3', '10500'],
    ]);
    // The SKU's property values (Цвет) belong to the SKU.
    expect(ofKind(records, 'productProperties').map((p) => p.data.product)).toEqual([offers[0]!.data.id, offers[1]!.data.id]);
  });

  it('edge fixtures: 2.04 nested groups, old property form, entities, CDATA, deletion marks', async () => {
    const { records, counts, modes } = await readAll(fixture('import-204-nested-groups.xml'), { chunk: 50 });
    expect(counts).toMatchObject({ groups: 5, properties: 2, products: 3 });
    expect(referenceCounts(fixture('import-204-nested-groups.xml'))).toEqual(counts);
    expect(modes).toEqual(['delta']);
    expect(ofKind(records, 'groups').map((g) => [g.data.id, g.data.parent, g.data.name, g.data.deleted])).toEqual([
      ['g-1', '', 'Электрика', ''], ['g-1-1', 'g-1', 'Кабель', ''], ['g-1-1-1', 'g-1-1', 'Кабель силовой', ''],
      ['g-1-1-2', 'g-1-1', 'Кабель & провод', 'true'], ['g-2', '', 'Свет <лампы>', ''],
    ]);
    expect(ofKind(records, 'groups')[3]!.path).toBe('/КоммерческаяИнформация/Классификатор/Группы/Группа[1]/Группы/Группа[1]/Группы/Группа[2]');
    expect(ofKind(records, 'properties').map((p) => p.data.valueType)).toEqual(['Справочник', 'Число']);
    expect(ofKind(records, 'propertyValues').map((v) => v.data)).toEqual([
      { property: 'prop-color', id: 'c-white', value: 'Белый' }, { property: 'prop-color', id: 'c-black', value: 'Чёрный' },
    ]);
    const products = ofKind(records, 'products');
    expect(products.map((p) => [p.data.id, p.data.name, p.data.group, p.data.unit, p.data.deleted])).toEqual([
      ['p-1', 'Кабель ВВГнг 3x2,5', 'g-1-1-1', 'м', ''], ['p-2', 'Лампа Л-60 «Тёплая»', '', '', 'true'], ['p-3', 'Старый товар', '', '', 'true'],
    ]);
    expect(products[0]!.data).toMatchObject({ 'tax.НДС': '20', 'requisite.Вес': '0,15', unitCode: '006', unitName: 'Метр' });
  });

  it('both stock forms, characteristic offers and currency from the price type (2.05 namespace)', async () => {
    const f = fixture('offers-205-both-stock-forms.xml');
    const { records, counts, modes } = await readAll(f, { chunk: 17 });
    expect(counts).toEqual(referenceCounts(f));
    expect(counts).toMatchObject({ priceTypes: 2, warehouses: 2, offers: 3, prices: 4, stock: 5 });
    expect(modes).toEqual(['snapshot']);
    expect(ofKind(records, 'stock').map((s) => [s.data.offer, s.data.warehouse, s.data.quantity])).toEqual([
      ['p-1', 'wh-msk', '10'], ['p-1', 'wh-spb', '2.5'], ['p-2#ch-red', 'wh-msk', '3'], ['p-2#ch-red', 'wh-spb', '0'], ['p-2#ch-blue', 'wh-msk', '1'],
    ]);
    expect(ofKind(records, 'prices').map((p) => [p.data.offer, p.data.product, p.data.price, p.data.currency, p.data.unit, p.data.factor])).toEqual([
      ['p-1', 'p-1', '1234.56', 'руб', 'м', '1'], ['p-1', 'p-1', '13,5', 'USD', 'бухта', '100'],
      ['p-2#ch-red', 'p-2', '4990.00', 'руб', '', ''], ['p-2#ch-blue', 'p-2', '5190', 'руб', '', ''],
    ]);
    expect(ofKind(records, 'offers').map((o) => [o.data.id, o.data.name, o.data.characteristics])).toEqual([
      ['p-2#ch-red', 'Платье (красное)', 'Цвет: Красный; Размер: 42'], ['p-2#ch-blue', 'Платье (синее)', ''],
    ]);
  });

  it('every namespace variant reads the same', async () => {
    const base = readFileSync(fixture('offers-205-both-stock-forms.xml'), 'utf8');
    const variants = [
      base.replace(' xmlns="urn:1C.ru:commerceml 2"', ''), // 2.03/2.04: none
      base, // 2.05
      base.replace('urn:1C.ru:commerceml 2', 'urn:1C.ru:commerceml_2'), // 2.06–2.09
      base.replace('urn:1C.ru:commerceml 2', 'urn:1C.ru:commerceml_210'), // 2.10
      base.replace('urn:1C.ru:commerceml 2', 'urn:1C.ru:commerceml_3'), // 3.x
    ];
    const first = await readAll(Buffer.from(variants[0]!));
    expect(first.records.length).toBe(15);
    for (const v of variants.slice(1)) expect((await readAll(Buffer.from(v))).records).toEqual(first.records);
    const prefixed = await readAll(fixture('offers-prefixed-ns.xml'));
    expect(prefixed.counts).toMatchObject({ priceTypes: 1, offers: 1, prices: 1, stock: 1 });
    expect(prefixed.modes).toEqual(['delta']);
    expect(ofKind(prefixed.records, 'stock')[0]!.data).toMatchObject({ offer: 'p-1', warehouse: 'wh-1', quantity: '7' });
    expect(ofKind(prefixed.records, 'prices')[0]!.data).toMatchObject({ offer: 'p-1', price: '99.90', currency: 'RUB' });
  });

  it('3.x: packages in Контейнер, ИзмененияПакетаПредложений is a delta', async () => {
    const f = fixture('cml3-container.xml');
    const { records, counts, modes } = await readAll(f);
    expect(counts).toEqual(referenceCounts(f));
    expect(counts).toMatchObject({ groups: 1, warehouses: 1, offers: 1, prices: 1, stock: 1 });
    expect(modes).toEqual(['delta']);
    expect(ofKind(records, 'stock')[0]).toMatchObject({ path: '/КоммерческаяИнформация/Контейнер/ИзмененияПакетаПредложений/Предложения/Предложение[1]/Остатки/Остаток[1]/Склад[1]', data: { offer: 'p-3#c-1', warehouse: 'wh-3', quantity: '4' } });
  });

  it('UTF-8 with and without BOM, and the same file in windows-1251, give the same records', async () => {
    const text = readFileSync(fixture('offers-205-both-stock-forms.xml'), 'utf8');
    const plain = await readAll(Buffer.from(text));
    const bom = await readAll(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]));
    const cp = await readAll(iconv.encode(text.replace('encoding="UTF-8"', 'encoding="windows-1251"'), 'win1251'));
    expect(bom.records).toEqual(plain.records);
    expect(cp.records).toEqual(plain.records);
    expect(ofKind(cp.records, 'warehouses')[1]!.data.name).toBe('Санкт-Петербург');
  });
});

describe('the delta flag', () => {
  const doc = (pkg: string): Buffer => Buffer.from(`<КоммерческаяИнформация>${pkg}</КоммерческаяИнформация>`);
  it('from the attribute, the child element, or ИзмененияПакетаПредложений; nothing when absent', async () => {
    expect((await readAll(doc('<ПакетПредложений СодержитТолькоИзменения="true"/>'))).modes).toEqual(['delta']);
    expect((await readAll(doc('<ПакетПредложений СодержитТолькоИзменения="false"/>'))).modes).toEqual(['snapshot']);
    expect((await readAll(doc('<Каталог><СодержитТолькоИзменения>true</СодержитТолькоИзменения></Каталог>'))).modes).toEqual(['delta']);
    expect((await readAll(doc('<Классификатор СодержитТолькоИзменения="true"/>'))).modes).toEqual(['delta']);
    expect((await readAll(doc('<ИзмененияПакетаПредложений/>'))).modes).toEqual(['delta']);
    expect((await readAll(doc('<ПакетПредложений/>'))).modes).toEqual([]);
    // Once a part says delta, a later «false» does not turn the file into a snapshot.
    expect((await readAll(doc('<Классификатор СодержитТолькоИзменения="true"/><Каталог СодержитТолькоИзменения="false"/>'))).modes).toEqual(['delta']);
  });
});

describe('kinds', () => {
  it('emits only the kinds asked for', async () => {
    const { records, counts } = await readAll(S02, { kinds: ['stock'] });
    expect(new Set(records.map((r) => r.kind))).toEqual(new Set(['stock']));
    expect(records).toHaveLength(132);
    expect(counts.prices).toBe(44);
  });

  it('stops at <Предложения> when only price types and warehouses are wanted', async () => {
    // A file that is broken after the offers begin still gives its declarations.
    const text = readFileSync(S02, 'utf8');
    const cut = Buffer.from(text.slice(0, text.indexOf('<Предложение>') + 200));
    const { records, counts } = await readAll(cut, { kinds: ['priceTypes', 'warehouses'] });
    expect(records.map((r) => r.kind)).toEqual(['priceTypes', 'warehouses', 'warehouses', 'warehouses']);
    expect(counts.offers).toBe(0);
    await expect(readAll(cut, { kinds: ['prices'] })).rejects.toThrow(/\(the file is truncated\)/);
  });
});

describe('order documents', () => {
  async function docs(file: string): Promise<OrderDocument[]> {
    const out: OrderDocument[] = [];
    for await (const d of readOrderDocuments(createReadStream(file, { highWaterMark: 512 }), path.basename(file))) out.push(d);
    return out;
  }

  it('06: an order from a site, read completely (windows-1251)', async () => {
    const [d, ...rest] = await docs(S06);
    expect(rest).toEqual([]);
    expect(d).toMatchObject({ id: '36', number: '36', date: '2007-10-30', time: '15:19:27', operation: 'Заказ товара', role: 'Продавец', currency: 'руб', rate: '1', amount: '6734.47', comment: '', line: 3, path: '/КоммерческаяИнформация/Документ[1]' });
    expect(d!.counterparties).toEqual([{
      id: '1#admin# admin', name: 'admin', fullName: 'admin', officialName: '', role: 'Покупатель', inn: '', kpp: '', lastName: 'Иванов', firstName: 'admin', middleName: '',
      address: { presentation: 'ггг', fields: [{ type: 'Почтовый индекс', value: '1111' }, { type: 'Улица', value: 'ггг' }] },
      contacts: [], representatives: [{ relation: 'Контактное лицо', id: 'b342955a9185c40132d4c1df6b30af2f', name: 'admin' }],
    }]);
    expect(d!.lines).toHaveLength(2);
    expect(d!.lines[1]).toEqual({
      id: 'dee6e19a-55bc-11d9-848a-00112f43529a', catalogId: 'bd72d8f9-55bc-11d9-848a-00112f43529a', article: '', name: 'Телевизор &quot;JVC&quot;',
      unit: { code: '796', fullName: 'Штука', intl: 'PCE', text: 'шт' }, factor: '', price: '6394.47', quantity: '1.00', amount: '6394.47',
      discounts: [], taxes: [], characteristics: [], line: 64,
      requisites: [{ name: 'ВидНоменклатуры', value: 'Товар' }, { name: 'ТипНоменклатуры', value: 'Товар' }],
    });
    expect(d!.requisites.map((q) => q.name)).toEqual(['Метод оплаты', 'Заказ оплачен', 'Доставка разрешена', 'Отменен', 'Финальный статус', 'Статус заказа', 'Дата изменения статуса']);
    expect(d!.requisites.find((q) => q.name === 'Статус заказа')!.value).toBe('[N] Принят');
  });

  it('07: an order back from 1C with its status requisites', async () => {
    const [d] = await docs(S07);
    expect(d).toMatchObject({ id: '20', number: '20', amount: '9683.42', currency: 'RUB' });
    expect(d!.requisites).toEqual([
      { name: 'Дата оплаты', value: '2007-10-16 15:44:47' }, { name: 'Номер платежного документа', value: 'ТК000000026' },
      { name: 'Метод оплаты', value: 'Наличный расчет' }, { name: 'Дата разрешения доставки', value: '2007-10-16 15:51:27' },
      { name: 'Заказ оплачен', value: 'true' }, { name: 'Доставка разрешена', value: 'true' }, { name: 'Отменен', value: 'false' },
      { name: 'Финальный статус', value: 'true' }, { name: 'Статус заказа', value: '[F] Доставлен' }, { name: 'Дата изменения статуса', value: '2007-10-16 15:51:58' },
    ]);
    expect(d!.counterparties[0]!).toMatchObject({ id: '1#admin#Петров Петр', name: 'Петр Петров', lastName: 'Петров', firstName: 'Петр' });
    expect(d!.lines.map((l) => [l.id, l.price, l.quantity, l.amount])).toEqual([['ORDER_DELIVERY', '348.00', '1', '348.00'], ['cbcf498f-55bc-11d9-848a-00112f43529a', '9335.42', '1.00', '9335.42']]);
  });

  it('08: a sale query reply, 2 orders and 8 lines; multi-line values trimmed', async () => {
    const all = await docs(S08);
    expect(all.map((d) => [d.number, d.lines.length, d.amount])).toEqual([['132', 1, '231.7400'], ['133', 7, '14380.5800']]);
    expect(all[1]!.lines[0]!.name).toBe('HERBMENT/Dishwashing liquid detergent with disinfecting effect,orange scent ,refill 800ml');
    expect(all[1]!.lines[5]!.name).toBe('Средство для мытья посуды "Mama Lemon" с ароматом лимона (закручивающаяся крышка Очень\n          Большой) 2150 мл');
    expect(all[1]!.lines[0]!.requisites).toHaveLength(11);
    expect(all[0]!.requisites.at(-1)).toEqual({ name: 'Сайт', value: '[s1] Сайт по умолчанию' });
    expect(all[0]!.counterparties[0]).toMatchObject({ id: '38#catalog_exchange#', role: 'Покупатель', address: { presentation: '', fields: [] } });
    const { records } = await readAll(S08, { kinds: ['orders', 'orderLines'] });
    expect(ofKind(records, 'orderLines')).toHaveLength(8);
    expect(ofKind(records, 'orderLines')[1]).toMatchObject({ line: 138, path: '/КоммерческаяИнформация/Документ[2]/Товары/Товар[1]', data: { order: '133', lineNo: '1', price: '295.7900', quantity: '1.0000', amount: '295.79' } });
    expect(ofKind(records, 'orders')[1]!.data).toMatchObject({ id: '133', status: '[N] Принят, ожидается оплата', 'requisite.Метод оплаты': 'Банковской картой онлайн' });
  });

  it('2.08+ document elements: Номер1С, Дата1С, ПометкаУдаления, contacts, legal requisites, discounts', async () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<КоммерческаяИнформация xmlns="urn:1C.ru:commerceml_210" ВерсияСхемы="2.10">
  <Документ><Ид>M-1</Ид><Номер>M-1</Номер><Номер1С>ЗК-000123</Номер1С><Дата1С>2024-03-01</Дата1С><ПометкаУдаления>false</ПометкаУдаления>
    <Контрагенты><Контрагент><Ид>c-1</Ид><Наименование>ООО Ромашка</Наименование><ОфициальноеНаименование>ООО «Ромашка»</ОфициальноеНаименование>
      <ИНН>7707083893</ИНН><КПП>773601001</КПП><ЮридическийАдрес><Представление>Москва</Представление></ЮридическийАдрес>
      <Контакты><Контакт><Тип>Почта</Тип><Значение>a@b.ru</Значение></Контакт></Контакты><Роль>Покупатель</Роль></Контрагент></Контрагенты>
    <Товары><Товар><Ид>p#c</Ид><Наименование>Платье</Наименование><Скидки><Скидка><Наименование>Акция</Наименование><Сумма>10.00</Сумма><УчтеноВСумме>true</УчтеноВСумме></Скидка></Скидки></Товар></Товары>
  </Документ>
</КоммерческаяИнформация>`;
    const out: OrderDocument[] = [];
    for await (const d of readOrderDocuments(Readable.from([Buffer.from(xml)]), 'x.xml')) out.push(d);
    expect(out[0]).toMatchObject({ erpNumber: 'ЗК-000123', erpDate: '2024-03-01', deletionMark: 'false' });
    expect(out[0]!.counterparties[0]).toMatchObject({ officialName: 'ООО «Ромашка»', inn: '7707083893', kpp: '773601001', legalAddress: { presentation: 'Москва', fields: [] }, contacts: [{ type: 'Почта', value: 'a@b.ru', comment: '' }] });
    expect(out[0]!.lines[0]!.discounts).toEqual([{ name: 'Акция', amount: '10.00', percent: '', includedInAmount: 'true' }]);
  });
});

describe('malformed files', () => {
  function file(name: string, content: string | Buffer): string {
    const f = path.join(dir, name);
    writeFileSync(f, content);
    return f;
  }

  it('a truncated file fails with file, line and column; the error names the open element', async () => {
    const text = readFileSync(S03, 'utf8');
    const f = file('prices-truncated.xml', text.slice(0, text.indexOf('<Цена>', 200_000) + 30));
    const e = await readAll(f).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PayloadError);
    expect((e as PayloadError).position).toMatchObject({ file: 'prices-truncated.xml' });
    expect((e as PayloadError).message).toMatch(/^prices-truncated\.xml:\d+:\d+: unexpected end of file: element <Представление> \(\/КоммерческаяИнформация\/ПакетПредложений\/Предложения\/Предложение\/Цены\/Цена\/Представление\) is not closed/);
  });

  it('a DOCTYPE is refused; a file that is not CommerceML is named as such', async () => {
    const xxe = file('xxe.xml', '<?xml version="1.0"?>\n<!DOCTYPE КоммерческаяИнформация [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<КоммерческаяИнформация>&x;</КоммерческаяИнформация>');
    await expect(readAll(xxe)).rejects.toThrow('xxe.xml:2:1: DOCTYPE and ENTITY declarations are not accepted');
    const other = file('other.xml', '<?xml version="1.0"?>\n<rss><channel/></rss>');
    await expect(readAll(other)).rejects.toThrow('other.xml:2: the root element is <rss>, not <КоммерческаяИнформация>: not a CommerceML document');
  });

  it('dry-run: a malformed file lands in errors with its position, the next file is still counted', async () => {
    const bad = file('bad.xml', '<КоммерческаяИнформация>\n  <ПакетПредложений>\n    <Предложения><Предложение></Предложения>\n</КоммерческаяИнформация>');
    const r = await dryRun({ registry, connector: 'onec.commerceml', files: [bad, S05] });
    expect(r.errors).toEqual([{ at: `${bad}:3:31`, message: 'MAG_ERR_PAYLOAD_MALFORMED: closing tag </Предложения> does not match the open element <Предложение> (/КоммерческаяИнформация/ПакетПредложений/Предложения/Предложение)' }]);
    expect(r.counts).toMatchObject({ offers: 2, prices: 6, priceTypes: 3 });
  });
});

describe('connector and mappings', () => {
  it('is registered with its options schema (exchange options included)', () => {
    const c = registry.connector('onec.commerceml')!;
    expect(c.kind).toBe('onec.commerceml');
    const props = (c.optionsSchema as { properties: Record<string, unknown> }).properties;
    expect(Object.keys(props)).toEqual(expect.arrayContaining(['plainOffers', 'exchange', 'userEnv', 'passwordEnv', 'zip', 'fileLimit']));
  });

  it('parse() emits the kinds of ctx.kinds and reports the mode', async () => {
    const c = registry.connector('onec.commerceml')!;
    const modes: string[] = [];
    const kinds: string[] = [];
    for await (const b of c.parse(createReadStream(S04), { fileName: 'rests.xml', options: {}, kinds: new Set(['stock']), setMode: (m) => modes.push(m) })) {
      for (const r of b) kinds.push(r.kind!);
    }
    expect(kinds).toHaveLength(978);
    expect(new Set(kinds)).toEqual(new Set(['stock']));
    expect(modes).toEqual(['delta']);
  });

  for (const ref of ['groups', 'products', 'offers', 'price-types', 'warehouses', 'prices', 'stock', 'properties', 'property-values', 'product-properties']) {
    it(`mappings/onec/${ref}.yaml: its test cases pass and its name is a record kind`, async () => {
      const m = await loadMapping(`onec/${ref}.yaml`);
      expect(RECORD_KINDS).toContain(m.name);
      expect(checkMappingTarget(m)).toEqual([]);
      const results = await runMappingTests(m, ref);
      expect(results.length).toBeGreaterThan(1);
      expect(results.filter((x) => !x.ok)).toEqual([]);
    });
  }
});

describe('magistral dry-run --connector onec.commerceml', () => {
  it('--json prints the counts of the readable files and the position of a malformed one, exit 1', async () => {
    const cli = path.join(REPO_DIR, 'bin', 'magistral.js');
    const bad = path.join(dir, 'cut.xml');
    writeFileSync(bad, readFileSync(S02).subarray(0, 5000));
    const e = await run(process.execPath, [cli, 'dry-run', '--connector', 'onec.commerceml', S02, bad, S05, '--json']).catch((x) => x);
    expect(e.code).toBe(1);
    const out = JSON.parse(e.stdout);
    expect(out).toEqual({
      products: 0, groups: 0, properties: 1, priceTypes: 4, warehouses: 3, offers: 46, prices: 50, stock: 132, orders: 0, rejects: 0,
      errors: [{ at: expect.stringMatching(/cut\.xml:\d+:\d+$/), message: expect.stringContaining('the file is truncated') }],
    });
    expect(out.errors[0].at.startsWith(`${bad}:`)).toBe(true);
  });
});
