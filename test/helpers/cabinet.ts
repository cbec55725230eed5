// The cabinet on the demo data set: a fresh database filled from ops/demo through the real CSV flows and
// workers (as `magistral demo` does), a real server listening on a free port, and passwords for the
// demo contacts. What browser tests and service tests of the cabinet start from.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { buildServer } from '../../src/api/index.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { DEFAULT_CITY_SETTING } from '../../src/api/portal/auth.ts';
import { setPassword } from '../../src/cabinet/accounts.ts';
import { setManagerPassword } from '../../src/backoffice/managers.ts';
import { DEMO_FILES } from '../../src/cli/commands/demo.ts';
import { createTestPipeline, type TestPipeline } from './pipeline.ts';

/** The demo's CSV flows in load order (ops/demo): the list `magistral demo` loads. */
export const DEMO_FLOWS = DEMO_FILES.map((d) => d.flow.replace(/-csv$/, ''));

/** Demo contacts with cabinet passwords (ops/demo/contacts.csv). */
export const DEMO_USERS = {
  /** P1: head of LE1 and LE2 of client C1 (agreement prices), manager M1. */
  head: { code: 'P1', email: 'a.smirnov@energomontazh.example', password: 'Пароль-head-1' },
  /** P2: subordinate of LE1 (client C1). */
  subordinate: { code: 'P2', email: 'm.orlova@energomontazh.example', password: 'Пароль-sub-2' },
  /** P3: another client (C2), head of LE3. */
  other: { code: 'P3', email: 'sidorov@example.ru', password: 'Пароль-other-3' },
} as const;

/** Demo managers with workplace passwords (ops/demo/managers.csv): M1 manages C1 and C3, M2 manages C2. */
export const DEMO_MANAGERS = {
  m1: { code: 'M1', email: 'i.petrova@magistral.example', password: 'Пароль-manager-1', name: 'Ирина Петрова' },
  m2: { code: 'M2', email: 'o.kuznetsov@magistral.example', password: 'Пароль-manager-2', name: 'Олег Кузнецов' },
} as const;

export interface CabinetFixture {
  tp: TestPipeline;
  app: FastifyInstance;
  /** http://127.0.0.1:PORT */
  baseUrl: string;
  /** Signs a Playwright page in through the login form. */
  signIn(page: Page, user?: { email: string; password: string }): Promise<void>;
  /** Signs a Playwright page in to the manager workplace (/manager). */
  signInManager(page: Page, manager?: { email: string; password: string }): Promise<void>;
  close(): Promise<void>;
}

export async function loadDemo(tp: TestPipeline): Promise<void> {
  for (const f of DEMO_FLOWS) await tp.applyFlowFile(`ops/flows/${f}-csv.yaml`);
  for (const f of DEMO_FLOWS) {
    const run = await tp.ingest(`${f}-csv`, await readFile(path.join(REPO_DIR, `ops/demo/${f}.csv`)), `${f}.csv`);
    expect(run.state, `${f}: ${run.error?.message ?? ''}`).toBe('done');
    expect(run.rows.rejected, `${f} rejected rows`).toBe(0);
  }
  await tp.rt.db.insertInto('portal_settings').values({ key: DEFAULT_CITY_SETTING, value: 'msk' }).onConflict((oc) => oc.column('key').doNothing()).execute();
}

/** A port free now (the server listens on it, and e-mailed links name it through MAGISTRAL_PUBLIC_URL). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

export async function cabinetFixture(label: string, opts: { env?: Record<string, string> } = {}): Promise<CabinetFixture> {
  const port = await freePort();
  const tp = await createTestPipeline(label, { env: { MAGISTRAL_PUBLIC_URL: `http://127.0.0.1:${port}`, ...opts.env } });
  let app: FastifyInstance | undefined;
  try {
    await loadDemo(tp);
    for (const u of Object.values(DEMO_USERS)) await setPassword(tp.rt.db, u.code, u.password, u.email);
    for (const m of Object.values(DEMO_MANAGERS)) await setManagerPassword(tp.rt.db, m.code, m.password, m.email);
    app = await buildServer({
      registry: tp.rt.registry, config: tp.config, db: tp.rt.db, pool: tp.rt.pool, queues: tp.rt.queues,
      log: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), metrics: createMetrics(), mode: 'full',
    });
    await app.listen({ host: '127.0.0.1', port });
  } catch (e) {
    await app?.close();
    await tp.close();
    throw e;
  }
  const baseUrl = `http://127.0.0.1:${port}`;
  const server = app;
  return {
    tp, app: server, baseUrl,
    async signIn(page, user = DEMO_USERS.head) {
      await page.goto(`${baseUrl}/cabinet/login`);
      await page.getByLabel('Электронная почта').fill(user.email);
      await page.getByLabel('Пароль').fill(user.password);
      await page.getByRole('button', { name: 'Войти' }).click();
      await page.waitForURL((u) => !u.pathname.startsWith('/cabinet/login'));
    },
    async signInManager(page, manager = DEMO_MANAGERS.m1) {
      await page.goto(`${baseUrl}/manager/login`);
      await page.getByLabel('Электронная почта').fill(manager.email);
      await page.getByLabel('Пароль').fill(manager.password);
      await page.getByRole('button', { name: 'Войти' }).click();
      await page.waitForURL((u) => !u.pathname.startsWith('/manager/login'));
    },
    async close() {
      await server.close();
      await tp.close();
    },
  };
}
