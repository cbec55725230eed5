// 1C's side of the sale exchange for cabinet tests: a site exchange flow registered on the fixture's
// store (as ops/flows/onec.yaml registers one) and the order numbers 1C would receive from it now —
// checkauth, init and query as 1C performs them.
import iconv from 'iconv-lite';
import { expect } from 'vitest';
import { applyFlows, type Flow } from '../../src/pipeline/flows.ts';
import type { CabinetFixture } from './cabinet.ts';

export interface SaleExchange {
  /** Order numbers in the sale query's answer. */
  queryNumbers(): Promise<string[]>;
  /** Forgets the exchange's login variables. */
  close(): void;
}

export async function saleExchange(f: CabinetFixture, exchange: string): Promise<SaleExchange> {
  const userEnv = `MAGISTRAL_TEST_${exchange.toUpperCase()}_USER`;
  const passwordEnv = `MAGISTRAL_TEST_${exchange.toUpperCase()}_PASSWORD`;
  const user = `1c-${exchange}`;
  const password = `secret-${exchange}-1c`;
  process.env[userEnv] = user;
  process.env[passwordEnv] = password;
  await applyFlows(f.tp.rt.db, [{
    apiVersion: 'magistral/v1', kind: 'Flow', name: `onec-${exchange}`, mapping: 'onec/catalog.products.yaml', target: 'products', mode: 'delta',
    source: { connector: 'onec.commerceml', system: 'onec', options: { exchange, userEnv, passwordEnv, zip: false } },
  } as Flow]);
  return {
    async queryNumbers() {
      const url = (mode: string) => `${f.baseUrl}/exchange/onec/${exchange}?type=sale&mode=${mode}`;
      const auth = await fetch(url('checkauth'), { headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } });
      const [ok, name, value] = iconv.decode(Buffer.from(await auth.arrayBuffer()), 'win1251').split('\n');
      expect(ok).toBe('success');
      const cookie = `${name}=${value}`;
      await fetch(url('init'), { headers: { cookie } });
      const xml = iconv.decode(Buffer.from(await (await fetch(url('query'), { headers: { cookie } })).arrayBuffer()), 'win1251');
      return [...xml.matchAll(/<Документ>\s*<Ид>[^<]*<\/Ид>\s*<Номер>([^<]+)<\/Номер>/g)].map((m) => m[1]!);
    },
    close() {
      delete process.env[userEnv];
      delete process.env[passwordEnv];
    },
  };
}
