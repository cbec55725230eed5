// Counterparties filled by flows (the example CSV flows and mappings): requisites checked with their
// check digits (bad rows rejected with the rule, good rows kept), references by code resolved with
// placeholders, contact ↔ legal entity links with roles and history, agreements with exact terms.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPipeline, csv, type TestPipeline } from '../helpers/pipeline.ts';
import { PORTAL_FLOWS } from './portal-fixture.ts';

let tp: TestPipeline;
beforeAll(async () => {
  tp = await createTestPipeline('pcounter');
  for (const f of PORTAL_FLOWS) await tp.applyFlowFile(`ops/flows/${f}-csv.yaml`);
}, 60_000);
afterAll(async () => { await tp?.close(); });

const q = async (text: string, values: unknown[] = []) => (await tp.rt.pool.query(text, values)).rows;

describe('legal entities', () => {
  it('rejects a mistyped INN, KPP or OGRN with the rule and keeps the good rows', async () => {
    const run = await tp.ingest('legal-entities-csv', csv('code;client;name;inn;kpp;ogrn;bik;account', [
      'LE1;C1;ООО «Верный»;7707083893;773601001;1027700132195;044525225;40702810938000000001',
      'LE2;C1;ООО «Опечатка»;7707083894;773601001;;;',
      'LE3;C1;ООО «Короткий КПП»;7707083893;77360100;;;',
      'LE4;C2;ИП Верный;500100732259;;304500116000157;;',
      'LE5;C2;ИП Опечатка ОГРНИП;500100732259;;304500116000158;;',
      'LE6;C2;ООО «Счёт»;7707083893;;;044525225;4070281093800000000',
    ]), 'legal.csv');
    expect(run.state).toBe('done');
    expect(run.rows).toMatchObject({ inserted: 2, rejected: 4 });
    const rejects = await q(`SELECT line, field, rule, reason FROM rejects WHERE run_id = $1 ORDER BY line`, [run.id]);
    expect(rejects).toEqual([
      { line: 3, field: 'inn', rule: 'requisite', reason: 'inn: "7707083894" is not a valid INN: the check digit does not match' },
      { line: 4, field: 'kpp', rule: 'requisite', reason: 'kpp: "77360100" is not a KPP: 9 characters (4 digits, 2 digits or capital letters, 3 digits)' },
      { line: 6, field: 'ogrn', rule: 'requisite', reason: 'ogrn: "304500116000158" is not a valid OGRN: the check digit does not match' },
      { line: 7, field: 'account', rule: 'requisite', reason: 'account: "4070281093800000000" is not a bank account number: 20 digits' },
    ]);
    const rows = await q(`SELECT le.code, c.code AS client, c.placeholder, le.inn, le.kpp, le.ogrn FROM legal_entities le JOIN clients c ON c.id = le.client_id ORDER BY le.code`);
    // Clients named before their own flow ran are placeholders until it does.
    expect(rows).toEqual([
      { code: 'LE1', client: 'C1', placeholder: true, inn: '7707083893', kpp: '773601001', ogrn: '1027700132195' },
      { code: 'LE4', client: 'C2', placeholder: true, inn: '500100732259', kpp: null, ogrn: '304500116000157' },
    ]);
  });

  it('a clients flow completes the placeholders with manager and city', async () => {
    const run = await tp.ingest('clients-csv', csv('code;name;manager;city;blocked', ['C1;Энергомонтаж;M1;msk;нет', 'C2;Сидоров;;spb;да']));
    expect(run.state).toBe('done');
    expect(run.rows).toMatchObject({ updated: 2, inserted: 0 });
    const rows = await q(`SELECT c.code, c.name, c.placeholder, c.blocked, m.code AS manager, m.placeholder AS m_ph, ci.code AS city
      FROM clients c LEFT JOIN managers m ON m.id = c.manager_id LEFT JOIN cities ci ON ci.id = c.city_id ORDER BY c.code`);
    expect(rows).toEqual([
      { code: 'C1', name: 'Энергомонтаж', placeholder: false, blocked: false, manager: 'M1', m_ph: true, city: 'msk' },
      { code: 'C2', name: 'Сидоров', placeholder: false, blocked: true, manager: null, m_ph: null, city: 'spb' },
    ]);
    // The same payload again changes nothing.
    expect((await tp.ingest('clients-csv', csv('code;name;manager;city;blocked', ['C1;Энергомонтаж;M1;msk;нет', 'C2;Сидоров;;spb;да']))).rows)
      .toMatchObject({ inserted: 0, updated: 0, unchanged: 2 });
  });
});

describe('contacts and their legal entities', () => {
  it('links contacts to legal entities with roles; a change of role is kept in history', async () => {
    expect((await tp.ingest('contacts-csv', csv('code;client;name;email;position', ['K1;C1;Смирнов;K1@Example.ru;Директор', 'K2;C1;Орлова;;']))).state).toBe('done');
    const first = await tp.ingest('contact-legal-entities-csv', csv('contact;legal_entity;role', ['K1;LE1;Руководитель', 'K2;LE1;', 'K2;LE4;head']));
    expect(first.state).toBe('done');
    expect(first.rows.inserted).toBe(3);
    const second = await tp.ingest('contact-legal-entities-csv', csv('contact;legal_entity;role', ['K2;LE1;head', 'K1;LE1;head']));
    expect(second.rows).toMatchObject({ updated: 1, unchanged: 1 });
    const links = await q(`SELECT ct.code AS contact, le.code AS le, l.role FROM contact_legal_entities l
      JOIN contacts ct ON ct.id = l.contact_id JOIN legal_entities le ON le.id = l.legal_entity_id ORDER BY 1, 2`);
    expect(links).toEqual([
      { contact: 'K1', le: 'LE1', role: 'head' }, { contact: 'K2', le: 'LE1', role: 'head' }, { contact: 'K2', le: 'LE4', role: 'head' },
    ]);
    expect(await q(`SELECT op, old_role, new_role FROM contact_legal_entity_history WHERE run_id = $1`, [second.id])).toEqual([{ op: 'U', old_role: 'subordinate', new_role: 'head' }]);
    expect(await q(`SELECT email, position FROM contacts WHERE code = 'K1'`)).toEqual([{ email: 'k1@example.ru', position: 'Директор' }]);
  });
});

describe('agreements', () => {
  it('keeps exact terms and resolves client, legal entity and price type by code', async () => {
    const run = await tp.ingest('agreements-csv', csv('code;name;client;legal_entity;price_type;discount;credit_limit;payment_delay_days;currency', [
      'A1;Основной;C1;;wholesale;2,5;1 000 000,50;30;rub',
      'A2;Для LE4;C2;LE4;dealer;0;;;',
      'A3;Скидка больше ста;C1;;;150;;;',
      'A4;Дробная отсрочка;C1;;;;;1.5;',
    ]));
    expect(run.state).toBe('done');
    expect(run.rows).toMatchObject({ inserted: 2, rejected: 2 });
    expect((await q(`SELECT line, field, rule FROM rejects WHERE run_id = $1 ORDER BY line`, [run.id]))).toEqual([
      { line: 4, field: 'discountPercent', rule: 'pattern' }, { line: 5, field: 'paymentDelayDays', rule: 'integer' },
    ]);
    const rows = await q(`SELECT a.code, c.code AS client, le.code AS le, pt.code AS pt, pt.placeholder AS pt_ph, a.discount_percent::text AS d,
        a.credit_limit::text AS credit, a.payment_delay_days AS days, a.currency
      FROM agreements a JOIN clients c ON c.id = a.client_id LEFT JOIN legal_entities le ON le.id = a.legal_entity_id
      LEFT JOIN price_types pt ON pt.id = a.price_type_id ORDER BY a.code`);
    expect(rows).toEqual([
      { code: 'A1', client: 'C1', le: null, pt: 'wholesale', pt_ph: true, d: '2.5000', credit: '1000000.50', days: 30, currency: 'RUB' },
      { code: 'A2', client: 'C2', le: 'LE4', pt: 'dealer', pt_ph: true, d: '0.0000', credit: null, days: null, currency: null },
    ]);
  });
});

describe('cities, price types and warehouses from flows', () => {
  it('binds price types and warehouses to cities and designates a city price type', async () => {
    await tp.ingest('cities-csv', csv('code;name;price_type', ['msk;Москва;retail-msk', 'spb;Санкт-Петербург;']));
    await tp.ingest('price-types-csv', csv('code;name;currency;city', ['retail-msk;Розница;RUB;msk', 'retail-spb;Розница СПб;RUB;spb']));
    await tp.ingest('warehouses-csv', csv('code;name;city', ['W1;Склад 1;msk', 'W2;Склад 2;spb']));
    expect(await q(`SELECT c.code, pt.code AS designated, (SELECT array_agg(x.code ORDER BY x.code) FROM price_types x WHERE x.city_id = c.id) AS bound,
        (SELECT array_agg(w.code ORDER BY w.code) FROM warehouses w WHERE w.city_id = c.id) AS warehouses
      FROM cities c LEFT JOIN price_types pt ON pt.id = c.price_type_id ORDER BY c.code`)).toEqual([
      { code: 'msk', designated: 'retail-msk', bound: ['retail-msk'], warehouses: ['W1'] },
      { code: 'spb', designated: null, bound: ['retail-spb'], warehouses: ['W2'] },
    ]);
  });
});
