// A portal store built through the real pipeline (the example CSV flows of ops/flows, real workers,
// real PostgreSQL and Redis) and a real server on it, with API keys made by the keys module.
import { pino } from 'pino';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { buildServer } from '../../src/api/index.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { createApiKey } from '../../src/portal/keys.ts';
import { createTestPipeline, csv, type TestPipeline } from '../helpers/pipeline.ts';
import { ADMIN_TOKEN } from './api-fixture.ts';

/** The example flows a portal store is filled by, in load order (references before their users). */
export const PORTAL_FLOWS = [
  'cities', 'price-types', 'warehouses', 'products', 'prices', 'stock', 'managers', 'clients', 'legal-entities', 'contacts',
  'contact-legal-entities', 'agreements',
] as const;
export type PortalFlow = (typeof PORTAL_FLOWS)[number];

/** A small store that exercises every pricing path (see the test files for what each row is for). */
export const STORE: Partial<Record<PortalFlow, string>> = {
  cities: csv('code;name;price_type', ['msk;Москва;retail-msk', 'spb;Санкт-Петербург;', 'nsk;Новосибирск;']),
  'price-types': csv('code;name;currency;city', [
    'retail-msk;Розница Москва;RUB;msk', 'retail-spb;Розница СПб;RUB;spb', 'wholesale;Опт;RUB;', 'dealer;Дилер;RUB;',
  ]),
  warehouses: csv('code;name;city', ['W-MSK-1;Москва 1;msk', 'W-MSK-2;Москва 2;msk', 'W-SPB;Петербург;spb', 'W-TRANSIT;Транзит;']),
  products: csv('sku;name;article;barcode;group;unit;deleted', [
    'P1;Кабель ВВГнг 3x2,5;VVG-325;;cables;m;', 'P2;Автомат 16А;AV-16;;breakers;pcs;', 'P3;Лампа 10 Вт;L-10;;lamps;pcs;',
    'P4;Трансформатор;TR-1;;power;pcs;', 'P5;Без цены;NP-1;;misc;pcs;', 'P-DEL;Снят с продажи;DEL-1;;misc;pcs;да',
  ]),
  prices: csv('sku;price_type;price;currency', [
    'P1;retail-msk;100.00;RUB', 'P1;retail-spb;105.50;RUB', 'P1;wholesale;90.00;RUB', 'P1;dealer;80.00;RUB',
    'P2;retail-msk;19.99;RUB', 'P2;retail-spb;21;RUB', 'P2;wholesale;17.5;RUB', 'P2;dealer;19.99;RUB',
    'P3;retail-msk;1.005;RUB', 'P3;wholesale;1.005;RUB', 'P3;dealer;1.005;RUB',
    'P4;retail-msk;123456789012.345678;RUB', 'P4;dealer;123456789012.345678;RUB',
    'P-DEL;retail-msk;5;RUB', 'P5;retail-msk;0;RUB',
  ]),
  stock: csv('sku;warehouse;qty', ['P1;W-MSK-1;10.5', 'P1;W-MSK-2;2', 'P1;W-SPB;7', 'P1;W-TRANSIT;1', 'P2;W-SPB;3', 'P3;W-MSK-1;100']),
  managers: csv('code;name;email;phone', ['M1;Ирина Петрова;i.petrova@example.ru;+7 495 000-00-01']),
  clients: csv('code;name;manager;city', ['C1;Энергомонтаж;M1;msk', 'C2;Сидоров;M1;spb', 'C3;Светотехника;;msk', 'C4;Дилер-Центр;;msk']),
  'legal-entities': csv('code;client;name;inn;kpp;ogrn', [
    'LE1;C1;ООО «Энергомонтаж»;7704010015;770401001;1027700000019', 'LE2;C1;АО «Энергомонтаж-Сервис»;7810001238;781001001;1047800000027',
    'LE3;C2;ИП Сидоров;500100732259;;304500116000157', 'LE4;C3;ООО «Светотехника»;6670004562;667001001;1066600000037',
    'LE5;C4;ООО «Дилер-Центр»;7707083893;773601001;1027700132195',
  ]),
  contacts: csv('code;client;name;email', ['K1;C1;Алексей Смирнов;a@example.ru', 'K2;C1;Мария Орлова;m@example.ru', 'K3;C2;Алексей Сидоров;s@example.ru', 'K5;C4;Дилер;d@example.ru']),
  'contact-legal-entities': csv('contact;legal_entity;role', ['K1;LE1;head', 'K1;LE2;head', 'K2;LE1;subordinate', 'K3;LE3;head', 'K5;LE5;head']),
  agreements: csv('code;name;client;legal_entity;price_type;discount;credit_limit;payment_delay_days;currency', [
    'A1;Договор опт;C1;;wholesale;0;1000000;30;RUB',
    'A1-LE2;Дилерский для LE2;C1;LE2;dealer;3;;45;RUB',
    'A2;Скидка 5 %;C2;;;5;;14;RUB',
    'A4;Дилерский со скидкой;C4;;dealer;2.5;;;RUB',
  ]),
};

export interface PortalFixture {
  tp: TestPipeline;
  app: FastifyInstance;
  /** A trusted frontend key with every scope (acts for any client via headers). */
  key: string;
  admin: { authorization: string };
  makeKey(opts: { scopes?: string[]; client?: string; ratePerMin?: number; name?: string }): Promise<string>;
  /** GET/POST on the app with the key and optional on-behalf headers. */
  call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, opts?: { key?: string; headers?: Record<string, string>; body?: unknown }): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export const ALL_SCOPES = ['catalog:read', 'prices:read', 'stock:read', 'orders:read', 'orders:write', 'clients:read'];

export async function portalFixture(label: string, store: Partial<Record<PortalFlow, string>> = STORE): Promise<PortalFixture> {
  const tp = await createTestPipeline(label, { env: { MAGISTRAL_ADMIN_TOKEN: ADMIN_TOKEN } });
  try {
    for (const f of PORTAL_FLOWS) await tp.applyFlowFile(`ops/flows/${f}-csv.yaml`);
    for (const f of PORTAL_FLOWS) {
      const content = store[f];
      if (content === undefined) continue;
      const run = await tp.ingest(`${f}-csv`, content, `${f}.csv`);
      expect(run.state, `${f}: ${run.error?.message ?? ''}`).toBe('done');
      expect(run.rows.rejected, `${f} rejected rows`).toBe(0);
    }
  } catch (e) {
    await tp.close();
    throw e;
  }
  const app = await buildServer({
    registry: tp.rt.registry, config: tp.config, db: tp.rt.db, pool: tp.rt.pool, queues: tp.rt.queues, log: pino({ level: 'silent' }), metrics: createMetrics(), mode: 'full',
  });
  const makeKey: PortalFixture['makeKey'] = async (o) =>
    (await createApiKey(tp.rt.db, { name: o.name ?? 'test', scopes: o.scopes ?? ALL_SCOPES, clientCode: o.client, ratePerMin: o.ratePerMin ?? 100_000 })).key;
  const key = await makeKey({ name: 'frontend' });
  return {
    tp, app, key, makeKey,
    admin: { authorization: `Bearer ${ADMIN_TOKEN}` },
    call: (method, url, o = {}) => app.inject({
      method, url,
      headers: { authorization: `Bearer ${o.key ?? key}`, ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}), ...o.headers },
      ...(o.body !== undefined ? { payload: typeof o.body === 'string' ? o.body : JSON.stringify(o.body) } : {}),
    }),
    async close() {
      await app.close();
      await tp.close();
    },
  };
}
