// The offers file of the 1C benchmarks (bench:onec, onec-read-cpu.ts): a CommerceML offers package as 1C
// writes it, of N prices.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';

export const PRICE_TYPES = 100;
export const WAREHOUSES = 10;


const guid = (kind: number, n: number): string =>
  `${kind.toString(16).padStart(8, '0')}-${((n >>> 16) & 0xffff).toString(16).padStart(4, '0')}-4${(n & 0xfff).toString(16).padStart(3, '0')}-8${kind.toString(16).padStart(3, '0')}-${n.toString(16).padStart(12, '0')}`;

export interface Generated { offers: number; prices: number; stock: number; bytes: number }

/**
 * Writes an offers package as 1C writes it (UTF-8 with BOM, tab-indented, 2.07 namespace): 100 price
 * types, 10 warehouses declared; every offer has one price per price type and stock per warehouse in the
 * attribute form. Exactly `prices` prices: the last offer may carry fewer price types.
 */
export async function generateOffers(file: string, prices: number): Promise<Generated> {
  const priceTypes = Math.min(PRICE_TYPES, prices);
  const offers = Math.ceil(prices / priceTypes);
  const out = createWriteStream(file, { highWaterMark: 1 << 22 });
  let buf = '\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<КоммерческаяИнформация xmlns="urn:1C.ru:commerceml_2" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ВерсияСхемы="2.07" ДатаФормирования="2024-05-01T10:00:00">\n'
    + '\t<ПакетПредложений СодержитТолькоИзменения="false">\n\t\t<Ид>bench-catalog#</Ид>\n\t\t<Наименование>Пакет предложений (bench)</Наименование>\n'
    + '\t\t<ИдКаталога>bench-catalog</ИдКаталога>\n\t\t<ИдКлассификатора>bench-catalog</ИдКлассификатора>\n\t\t<ТипыЦен>\n';
  const ptIds = Array.from({ length: priceTypes }, (_, t) => guid(1, t));
  for (let t = 0; t < priceTypes; t++) {
    buf += `\t\t\t<ТипЦены>\n\t\t\t\t<Ид>${ptIds[t]}</Ид>\n\t\t\t\t<Наименование>Цена ${t + 1}</Наименование>\n\t\t\t\t<Валюта>RUB</Валюта>\n`
      + '\t\t\t\t<Налог>\n\t\t\t\t\t<Наименование>НДС</Наименование>\n\t\t\t\t\t<УчтеноВСумме>true</УчтеноВСумме>\n\t\t\t\t</Налог>\n\t\t\t</ТипЦены>\n';
  }
  buf += '\t\t</ТипыЦен>\n\t\t<Склады>\n';
  const whIds = Array.from({ length: WAREHOUSES }, (_, w) => guid(2, w));
  for (let w = 0; w < WAREHOUSES; w++) buf += `\t\t\t<Склад>\n\t\t\t\t<Ид>${whIds[w]}</Ид>\n\t\t\t\t<Наименование>Склад ${w + 1}</Наименование>\n\t\t\t</Склад>\n`;
  buf += '\t\t</Склады>\n\t\t<Предложения>\n';
  let bytes = 0;
  let written = 0;
  let stock = 0;
  const flush = async () => {
    const b = Buffer.from(buf, 'utf8');
    bytes += b.length;
    buf = '';
    if (!out.write(b)) await once(out, 'drain');
  };
  for (let n = 0; n < offers; n++) {
    buf += `\t\t\t<Предложение>\n\t\t\t\t<Ид>${guid(3, n)}</Ид>\n\t\t\t\t<Артикул>ART-${n}</Артикул>\n\t\t\t\t<Наименование>Товар ${n}</Наименование>\n`
      + '\t\t\t\t<БазоваяЕдиница Код="796" НаименованиеПолное="Штука" МеждународноеСокращение="PCE">шт</БазоваяЕдиница>\n\t\t\t\t<Цены>\n';
    const k = Math.min(priceTypes, prices - written);
    for (let t = 0; t < k; t++) {
      const cents = 100 + ((n * 7919 + t * 104_729) % 9_999_900);
      const price = `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
      buf += `\t\t\t\t\t<Цена>\n\t\t\t\t\t\t<Представление>${price} RUB за шт</Представление>\n\t\t\t\t\t\t<ИдТипаЦены>${ptIds[t]}</ИдТипаЦены>\n`
        + `\t\t\t\t\t\t<ЦенаЗаЕдиницу>${price}</ЦенаЗаЕдиницу>\n\t\t\t\t\t\t<Валюта>RUB</Валюта>\n\t\t\t\t\t\t<Единица>шт</Единица>\n\t\t\t\t\t\t<Коэффициент>1</Коэффициент>\n\t\t\t\t\t</Цена>\n`;
    }
    written += k;
    buf += `\t\t\t\t</Цены>\n\t\t\t\t<Количество>${n % 97}</Количество>\n`;
    for (let w = 0; w < WAREHOUSES; w++) buf += `\t\t\t\t<Склад ИдСклада="${whIds[w]}" КоличествоНаСкладе="${(n + w) % 13}"/>\n`;
    stock += WAREHOUSES;
    buf += '\t\t\t</Предложение>\n';
    if (buf.length > 1 << 20) await flush();
  }
  buf += '\t\t</Предложения>\n\t</ПакетПредложений>\n</КоммерческаяИнформация>\n';
  await flush();
  out.end();
  await once(out, 'finish');
  if (written !== prices) throw new Error(`generated ${written} prices, expected ${prices}`);
  return { offers, prices: written, stock, bytes };
}
