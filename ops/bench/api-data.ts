// Data set of the portal API benchmark: a wholesale electrical catalog of P products (Russian names made
// of product kind, brand, size and colour, so that search and facets meet realistic text), a two-level
// group tree, four properties, T price types (the first C bound to cities, the rest sold by agreement),
// two warehouses per city, clients with legal entities, contacts and agreements. Everything is written
// as the CSV files the repo's file.csv flows read, so the benchmark loads it through the real pipeline.
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';

export interface Shape {
  products: number;
  priceTypes: number;
  cities: number;
  clients: number;
}

const KINDS: Array<{ name: string; group: string; top: string; specs: string[]; unit: string }> = [
  { name: 'Провод', group: 'wires', top: 'cable', specs: ['ПВС 2х0,75', 'ПВС 3х1,5', 'ПуГВ 1х2,5', 'ШВВП 2х0,5', 'ПВС 3х2,5'], unit: 'm' },
  { name: 'Кабель', group: 'cables', top: 'cable', specs: ['ВВГнг 3х1,5', 'ВВГнг 3х2,5', 'NYM 3х1,5', 'КГ 4х4', 'ВВГнг-LS 5х6'], unit: 'm' },
  { name: 'Автоматический выключатель', group: 'breakers', top: 'protection', specs: ['1P 16А', '1P 25А', '2P 32А', '3P 40А', '3P 63А'], unit: 'pcs' },
  { name: 'Дифференциальный автомат', group: 'rcbo', top: 'protection', specs: ['1P+N 16А 30мА', '1P+N 25А 30мА', '2P 32А 30мА'], unit: 'pcs' },
  { name: 'УЗО', group: 'rcd', top: 'protection', specs: ['2P 25А 30мА', '2P 40А 30мА', '4P 63А 100мА'], unit: 'pcs' },
  { name: 'Розетка', group: 'sockets', top: 'wiring', specs: ['одинарная с заземлением', 'двойная', 'с крышкой IP44', 'USB'], unit: 'pcs' },
  { name: 'Выключатель', group: 'switches', top: 'wiring', specs: ['одноклавишный', 'двухклавишный', 'проходной', 'с подсветкой'], unit: 'pcs' },
  { name: 'Лампа светодиодная', group: 'lamps', top: 'light', specs: ['E27 10Вт', 'E14 7Вт', 'GU10 5Вт', 'E27 15Вт', 'T8 18Вт'], unit: 'pcs' },
  { name: 'Светильник', group: 'luminaires', top: 'light', specs: ['потолочный 36Вт', 'линейный 18Вт', 'прожектор 50Вт', 'трековый 20Вт'], unit: 'pcs' },
  { name: 'Удлинитель', group: 'extensions', top: 'wiring', specs: ['3 гнезда 3м', '5 гнезд 5м', 'на катушке 30м'], unit: 'pcs' },
  { name: 'Кабель-канал', group: 'channels', top: 'install', specs: ['16х16', '25х16', '40х25', '60х40'], unit: 'm' },
  { name: 'Гофротруба', group: 'tubes', top: 'install', specs: ['ПВХ 16мм', 'ПВХ 20мм', 'ПНД 25мм', 'ПНД 32мм'], unit: 'm' },
  { name: 'Клемма', group: 'terminals', top: 'install', specs: ['WAGO 2-проводная', 'WAGO 3-проводная', 'строительно-монтажная 5'], unit: 'pcs' },
  { name: 'Щит распределительный', group: 'boards', top: 'protection', specs: ['ЩРН-12', 'ЩРВ-24', 'ЩРН-36 IP54'], unit: 'pcs' },
  { name: 'Счетчик электроэнергии', group: 'meters', top: 'protection', specs: ['однофазный', 'трехфазный', 'многотарифный'], unit: 'pcs' },
  { name: 'Контактор', group: 'contactors', top: 'protection', specs: ['КМИ 9А', 'КМИ 18А', 'КМИ 32А'], unit: 'pcs' },
];
const TOPS: Record<string, string> = {
  cable: 'Кабельно-проводниковая продукция', protection: 'Защита и автоматика', wiring: 'Электроустановочные изделия',
  light: 'Освещение', install: 'Электромонтажные изделия',
};
const GROUP_NAMES: Record<string, string> = {
  wires: 'Провода', cables: 'Силовые кабели', breakers: 'Автоматические выключатели', rcbo: 'Дифавтоматы', rcd: 'УЗО',
  sockets: 'Розетки', switches: 'Выключатели', lamps: 'Лампы', luminaires: 'Светильники', extensions: 'Удлинители',
  channels: 'Кабель-каналы', tubes: 'Гофротрубы', terminals: 'Клеммы', boards: 'Щиты', meters: 'Счетчики', contactors: 'Контакторы',
};
export const BRANDS = ['IEK', 'ABB', 'Schneider Electric', 'Legrand', 'EKF', 'DKC', 'Navigator', 'Gauss', 'Philips', 'Rexant', 'TDM', 'Hager'];
export const COLORS = ['белый', 'черный', 'серый', 'бежевый', 'красный', 'синий'];
const CITY_NAMES = ['Москва', 'Санкт-Петербург', 'Новосибирск', 'Екатеринбург', 'Казань', 'Нижний Новгород', 'Челябинск', 'Самара',
  'Омск', 'Ростов-на-Дону', 'Уфа', 'Красноярск', 'Воронеж', 'Пермь', 'Волгоград', 'Краснодар', 'Саратов', 'Тюмень', 'Тольятти', 'Ижевск'];

/** Deterministic pseudo-random numbers (mulberry32), so every run loads the same store. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sku = (p: number) => `SKU-${String(p + 1).padStart(6, '0')}`;
export const priceTypeCode = (t: number) => `PT-${String(t + 1).padStart(3, '0')}`;
export const cityCode = (c: number) => `city-${String(c + 1).padStart(2, '0')}`;
export const clientCode = (c: number) => `CL-${String(c + 1).padStart(4, '0')}`;

function ean13(n: number): string {
  const body = `460${String(n).padStart(9, '0')}`;
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += Number(body[i]) * (i % 2 ? 3 : 1);
  return body + String((10 - (sum % 10)) % 10);
}

/** A valid 10-digit INN (legal entity): check digit per the Federal Tax Service's weights. */
function inn10(n: number): string {
  const body = `77${String(n).padStart(7, '0')}`;
  const w = [2, 4, 10, 3, 5, 9, 4, 6, 8];
  let s = 0;
  for (let i = 0; i < 9; i++) s += Number(body[i]) * w[i]!;
  return body + String((s % 11) % 10);
}

/** A valid 13-digit OGRN: the last digit is the 12-digit prefix mod 11 (mod 10). */
function ogrn13(n: number): string {
  const body = `10277${String(n).padStart(7, '0')}`;
  return body + String(Number(BigInt(body) % 11n) % 10);
}

export interface ProductRow { sku: string; name: string; kind: number; brand: string; color: string; spec: string }

export function productRow(p: number): ProductRow {
  const r = rng(p * 7919 + 1);
  const kind = p % KINDS.length;
  const k = KINDS[kind]!;
  const spec = k.specs[Math.floor(r() * k.specs.length)]!;
  const brand = BRANDS[Math.floor(r() * BRANDS.length)]!;
  const color = COLORS[Math.floor(r() * COLORS.length)]!;
  return { sku: sku(p), name: `${k.name} ${brand} ${spec} ${color}`, kind, brand, color, spec };
}

/** Deterministic price of (price type t, product p) in kopecks: 10.00 … 50,009.99. */
export function priceKop(t: number, p: number): number {
  return 1000 + ((p * 2_654_435_761 + t * 40_503) % 5_000_000);
}

const fmt = (kop: number) => `${Math.floor(kop / 100)}.${String(kop % 100).padStart(2, '0')}`;

function writeLines(file: string, header: string, n: number, line: (i: number) => string | null): number {
  const fd = openSync(file, 'w');
  let buf = header + '\n';
  let rows = 0;
  try {
    for (let i = 0; i < n; i++) {
      const l = line(i);
      if (l !== null) { buf += l + '\n'; rows++; }
      if (buf.length > 1 << 20) { writeSync(fd, buf); buf = ''; }
    }
    writeSync(fd, buf);
  } finally {
    closeSync(fd);
  }
  return rows;
}

export interface DataFiles { flow: string; file: string; rows: number }

/** Writes the CSV files into `dir`; returns them in load order with the flow each goes through. */
export function generate(dir: string, s: Shape): DataFiles[] {
  const out: DataFiles[] = [];
  const add = (flow: string, name: string, header: string, n: number, line: (i: number) => string | null) => {
    const file = path.join(dir, name);
    out.push({ flow, file, rows: writeLines(file, header, n, line) });
  };
  const cities = Math.min(s.cities, CITY_NAMES.length);
  add('price-types-csv', 'price-types.csv', 'code;name;currency;city', s.priceTypes,
    (t) => `${priceTypeCode(t)};${t < cities ? `Розница ${CITY_NAMES[t]}` : `Соглашение ${t + 1}`};RUB;${t < cities ? cityCode(t) : ''}`);
  add('cities-csv', 'cities.csv', 'code;name;price_type', cities, (c) => `${cityCode(c)};${CITY_NAMES[c]};${priceTypeCode(c)}`);
  add('warehouses-csv', 'warehouses.csv', 'code;name;city', cities * 2,
    (w) => `W-${String(w + 1).padStart(3, '0')};${CITY_NAMES[w >> 1]}, склад ${w % 2 ? 'Северный' : 'Южный'};${cityCode(w >> 1)}`);
  const tops = Object.keys(TOPS);
  add('groups-csv', 'groups.csv', 'code;name;parent', tops.length + KINDS.length,
    (i) => (i < tops.length ? `${tops[i]};${TOPS[tops[i]!]};` : `${KINDS[i - tops.length]!.group};${GROUP_NAMES[KINDS[i - tops.length]!.group]};${KINDS[i - tops.length]!.top}`));
  add('products-csv', 'products.csv', 'sku;name;article;barcode;group;unit', s.products, (p) => {
    const row = productRow(p);
    return `${row.sku};${row.name};A${String(100000 + p)}-${row.kind};${ean13(p + 1)};${KINDS[row.kind]!.group};${KINDS[row.kind]!.unit}`;
  });
  add('properties-csv', 'properties.csv', 'code;name;type', 3, (i) => ['brand;Бренд;string', 'color;Цвет;string', 'spec;Исполнение;string'][i]!);
  add('product-properties-csv', 'product-properties.csv', 'sku;property;value', s.products * 3, (i) => {
    const row = productRow(Math.floor(i / 3));
    return `${row.sku};${['brand', 'color', 'spec'][i % 3]};${[row.brand, row.color, row.spec][i % 3]}`;
  });
  add('synonyms-csv', 'synonyms.csv', 'term;synonyms', 3, (i) => ['кабель;провод, шнур', 'автомат;автоматический выключатель', 'лампочка;лампа'][i]!);
  // Prices: every product in every price type; written price type by price type (the order of an ERP export).
  add('prices-csv', 'prices.csv', 'sku;price_type;price;currency', s.products * s.priceTypes, (i) => {
    const t = Math.floor(i / s.products);
    const p = i - t * s.products;
    return `${sku(p)};${priceTypeCode(t)};${fmt(priceKop(t, p))};RUB`;
  });
  // Stock: each product in about a third of the warehouses.
  const wh = cities * 2;
  add('stock-csv', 'stock.csv', 'sku;warehouse;qty', s.products * wh, (i) => {
    const p = Math.floor(i / wh);
    const w = i - p * wh;
    return (p * 31 + w * 17) % 3 === 0 ? `${sku(p)};W-${String(w + 1).padStart(3, '0')};${(p * 13 + w) % 500}` : null;
  });
  add('managers-csv', 'managers.csv', 'code;name;email;phone', 10, (m) => `M-${m + 1};Менеджер ${m + 1};m${m + 1}@example.com;+7 495 000-00-${String(m).padStart(2, '0')}`);
  add('clients-csv', 'clients.csv', 'code;name;manager;city;email;phone', s.clients,
    (c) => `${clientCode(c)};Клиент ${c + 1};M-${(c % 10) + 1};${cityCode(c % cities)};c${c + 1}@example.com;+7 900 000-${String(c).padStart(4, '0')}`);
  add('legal-entities-csv', 'legal-entities.csv', 'code;client;name;full_name;inn;kpp;ogrn;address;bank_name;bik;account;corr_account', s.clients,
    (c) => `LE-${c + 1};${clientCode(c)};ООО «Клиент ${c + 1}»;Общество с ограниченной ответственностью «Клиент ${c + 1}»;${inn10(c + 1)};770101001;${ogrn13(c + 1)};г. Москва;ПАО Банк;044525225;40702810900000000001;30101810400000000225`);
  // Half of the clients buy by agreement: a non-city price type and, for every other one, a discount.
  add('agreements-csv', 'agreements.csv', 'code;name;client;legal_entity;price_type;discount;credit_limit;payment_delay_days;currency', s.clients,
    (c) => (c % 2 ? null : `AG-${c + 1};Договор ${c + 1};${clientCode(c)};;${priceTypeCode(cities + (c % Math.max(1, s.priceTypes - cities)))};${c % 4 ? '0' : '3.5'};1000000;30;RUB`));
  writeFileSync(path.join(dir, 'shape.json'), JSON.stringify(s));
  return out;
}
