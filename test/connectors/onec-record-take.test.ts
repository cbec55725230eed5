// An offer's prices taken from their bytes (record-take.ts, price-block.ts; issue 16, target 4): a 1C
// first load into an empty prices table gives the same store, rejects and counts as reading every price
// as a record (MAGISTRAL_TAKE_LINES=false), whatever the offers file mixes in: prices whose currency a
// lookup translates or their price type supplies, comma decimals, spaces, a Cyrillic unit, references,
// CDATA, comments, a negative price, an undeclared price type, an offer whose Ид follows its prices, a
// characteristic offer. Real PostgreSQL, Redis and workers.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';

const flow = (name: string, target: string, mapping: string): string => `
apiVersion: magistral/v1
kind: Flow
name: ${name}
source: { connector: onec.commerceml, system: onec }
mapping: onec/${mapping}.yaml
target: ${target}
mode: delta
${target === 'prices' ? 'autoCreate: [product]' : ''}
`;

const price = (pt: string, value: string, extra = '\t\t\t\t\t\t<Валюта>RUB</Валюта>\n\t\t\t\t\t\t<Единица>шт</Единица>\n\t\t\t\t\t\t<Коэффициент>1</Коэффициент>\n'): string =>
  `\t\t\t\t\t<Цена>\n\t\t\t\t\t\t<Представление>${value} RUB за шт</Представление>\n\t\t\t\t\t\t<ИдТипаЦены>${pt}</ИдТипаЦены>\n\t\t\t\t\t\t<ЦенаЗаЕдиницу>${value}</ЦенаЗаЕдиницу>\n${extra}\t\t\t\t\t</Цена>\n`;

/** 400 plain offers of 3 prices, and among them offers with every irregular price. */
function offersFile(): Buffer {
  let s = '\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<КоммерческаяИнформация xmlns="urn:1C.ru:commerceml_2" ВерсияСхемы="2.07">\n'
    + '\t<ПакетПредложений СодержитТолькоИзменения="false">\n\t\t<Ид>rt#</Ид>\n\t\t<Наименование>Пакет</Наименование>\n\t\t<ТипыЦен>\n';
  for (let t = 0; t < 3; t++) s += `\t\t\t<ТипЦены><Ид>rt-pt-${t}</Ид><Наименование>Цена ${t}</Наименование><Валюта>${t === 2 ? 'KZT' : 'RUB'}</Валюта></ТипЦены>\n`;
  s += '\t\t</ТипыЦен>\n\t\t<Предложения>\n';
  // Offer n: its price at position t (price type rt-pt-t) replaced by an irregular one.
  const irregular: Record<number, [number, string]> = {
    10: [0, price('rt-pt-0', '15.50', '\t\t\t\t\t\t<Валюта>руб</Валюта>\n')],
    21: [2, price('rt-pt-2', '99', '')], // no Валюта: the price type's (KZT)
    30: [0, price('rt-pt-0', '10500,99')],
    40: [1, price('rt-pt-1', ' 7.25 ')],
    50: [0, price('rt-pt-0', '-1')],
    60: [0, price('rt-pt-undeclared', '5')],
    70: [0, price('rt-pt-0', '3', '\t\t\t\t\t\t<Валюта>RUB</Валюта>\n\t\t\t\t\t\t<Единица>уп&amp;кор</Единица>\n\t\t\t\t\t\t<Коэффициент>12.000</Коэффициент>\n')],
    80: [1, price('rt-pt-1', '<![CDATA[4.5]]>')],
    90: [0, `<!-- a comment -->\n${price('rt-pt-0', '8')}`],
    100: [0, price('rt-pt-0', '2', '\t\t\t\t\t\t<Валюта>RUB</Валюта>\n\t\t\t\t\t\t<Коэффициент>0</Коэффициент>\n')],
    110: [0, price('rt-pt-0', '6', '\t\t\t\t\t\t<Валюта>rub</Валюта>\n')],
    120: [1, price('rt-pt-1', '000.5')],
    // Another unit and factor where the offers before had шт and 1 (the taker keeps outputs by a price's place).
    140: [1, price('rt-pt-1', '12', '\t\t\t\t\t\t<Валюта>RUB</Валюта>\n\t\t\t\t\t\t<Единица>кор</Единица>\n\t\t\t\t\t\t<Коэффициент>6</Коэффициент>\n')],
  };
  for (let n = 0; n < 400; n++) {
    const id = n === 200 ? `rt-offer-${n}#char-1` : `rt-offer-${n}`;
    let prices = '';
    // Offer 130 lists its price types in the other order.
    for (const t of n === 130 ? [2, 1, 0] : [0, 1, 2]) prices += irregular[n]?.[0] === t ? irregular[n]![1] : price(`rt-pt-${t}`, `${n}.${t}5`);
    const head = `\t\t\t\t<Ид>${id}</Ид>\n\t\t\t\t<Наименование>Товар ${n}</Наименование>\n`;
    // Offer 300 names itself after its prices: they are read as records.
    s += n === 300
      ? `\t\t\t<Предложение>\n\t\t\t\t<Цены>\n${prices}\t\t\t\t</Цены>\n${head}\t\t\t</Предложение>\n`
      : `\t\t\t<Предложение>\n${head}\t\t\t\t<Цены>\n${prices}\t\t\t\t</Цены>\n\t\t\t\t<Количество>${n % 7}</Количество>\n\t\t\t</Предложение>\n`;
  }
  s += '\t\t</Предложения>\n\t</ПакетПредложений>\n</КоммерческаяИнформация>\n';
  return Buffer.from(s, 'utf8');
}

describe('1C prices taken from their bytes', () => {
  const pipes: Array<{ tp: TestPipeline; logs: string[] }> = [];
  beforeAll(async () => {
    for (const take of ['true', 'false']) {
      const logs: string[] = [];
      const tp = await createTestPipeline(`onec-take-${take}`, { env: { MAGISTRAL_TAKE_LINES: take }, log: pino({ level: 'info' }, { write: (l: string) => { logs.push(l); } }) });
      await tp.applyFlowYaml([flow('onec-price-types', 'priceTypes', 'price-types'), flow('onec-prices', 'prices', 'prices')].join('---\n'));
      pipes.push({ tp, logs });
    }
  }, 120_000);
  afterAll(async () => {
    for (const p of pipes) await p.tp.close();
  });

  it('gives the store, rejects and counts of reading every price as a record', async () => {
    const file = offersFile();
    const seen: string[] = [];
    for (const { tp, logs } of pipes) {
      expect((await tp.ingest('onec-price-types', file, 'offers.xml')).state).toBe('done');
      const run = await tp.ingest('onec-prices', file, 'offers.xml');
      expect(run.state, JSON.stringify(run.error)).toBe('done');
      expect((await tp.rt.pool.query('SELECT load_path FROM runs WHERE id = $1', [run.id])).rows[0].load_path).toBe('direct');
      const store = (await tp.rt.pool.query(`SELECT p.code AS product, pt.code AS pt, x.value::text, x.currency, x.unit, x.factor::text
        FROM prices x JOIN products p ON p.id = x.product_id JOIN price_types pt ON pt.id = x.price_type_id ORDER BY 1, 2`)).rows;
      const rejects = (await tp.rt.pool.query(`SELECT file_name, line, path, field, rule, reason, record FROM rejects WHERE run_id = $1 ORDER BY line, path`, [run.id])).rows;
      // The load logs after its commit: the run may read as done a moment before its line is written.
      const loadedOf = () => logs.map((l) => JSON.parse(l) as { msg: string; run?: number; taken?: number }).filter((l) => l.msg === 'run loaded directly into an empty table');
      await expect.poll(() => loadedOf().some((l) => l.run === run.id), { timeout: 5000 }).toBe(true);
      const loaded = loadedOf();
      const taken = loaded.find((l) => l.run === run.id)?.taken ?? 0;
      seen.push(JSON.stringify({ rows: run.rows, store, rejects }));
      if (tp === pipes[0]!.tp) {
        // Not taken: the offers whose prices a record must carry (21: no Валюта; 70, 80, 90: a reference,
        // CDATA, a comment; 300: Ид after the prices) or the mapping refuses (50, 60, 100). Taken: the rest,
        // with currencies looked up, decimals normalised and spaces trimmed by what the mapping made of them.
        // (An offer's prices that straddle two chunks of the file wait for the next chunk: taken too.)
        expect(taken, JSON.stringify({ run: run.id, loaded })).toBe((400 - 8) * 3);
        expect(rejects.map((r) => r.field).sort()).toEqual(['factor', 'price', 'priceType']);
        const get = (product: string, pt: string) => store.find((x) => x.product === product && x.pt === pt);
        expect(get('rt-offer-10', 'rt-pt-0')).toMatchObject({ value: '15.500000', currency: 'RUB' });
        expect(get('rt-offer-21', 'rt-pt-2')).toMatchObject({ value: '99.000000', currency: 'KZT' });
        expect(get('rt-offer-40', 'rt-pt-1')).toMatchObject({ value: '7.250000' });
        expect(get('rt-offer-110', 'rt-pt-0')).toMatchObject({ currency: 'RUB' });
        expect(get('rt-offer-120', 'rt-pt-1')).toMatchObject({ value: '0.500000' });
        expect(get('rt-offer-30', 'rt-pt-0')).toMatchObject({ value: '10500.990000' });
        expect(get('rt-offer-70', 'rt-pt-0')).toMatchObject({ unit: 'уп&кор', factor: '12.000000' });
        expect(get('rt-offer-200#char-1', 'rt-pt-1')).toMatchObject({ value: '200.150000', unit: 'шт' });
        expect(get('rt-offer-300', 'rt-pt-2')).toMatchObject({ value: '300.250000' });
      } else expect(taken).toBe(0);
    }
    expect(seen[0]).toBe(seen[1]);
  });
});
