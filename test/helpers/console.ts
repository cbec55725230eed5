// The console in tests: one user per role, signing in through the real form (fastify inject or a
// Playwright page), and the session's CSRF token for posts. See /work/briefs/console-foundation.md.
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildServer } from '../../src/api/index.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { createTestPipeline, type TestPipeline } from './pipeline.ts';
import type { Kysely } from 'kysely';
import type { Browser, Page } from 'playwright-core';
import type { Database } from '../../src/db/index.ts';
import type { Registry } from '../../src/pipeline/registry.ts';
import { addConsoleUser, type ConsoleRole } from '../../src/console/users.ts';

export interface ConsoleTestUser { name: string; password: string; role: ConsoleRole }

/** One user per role (passwords meet the rules). */
export const CONSOLE_USERS: Readonly<Record<ConsoleRole, ConsoleTestUser>> = {
  viewer: { name: 'vera-viewer', password: 'Просмотр-1234', role: 'viewer' },
  operator: { name: 'oleg-operator', password: 'Оператор-1234', role: 'operator' },
  admin: { name: 'anna-admin', password: 'Админ-12345', role: 'admin' },
};

export async function addConsoleUsers(db: Kysely<Database>): Promise<void> {
  for (const u of Object.values(CONSOLE_USERS)) await addConsoleUser(db, { ...u, replace: true });
}

export interface InjectSession {
  /** The Cookie header to send. */
  cookie: string;
  /** The session's CSRF token (a form's `_csrf` field or the X-CSRF-Token header). */
  csrf: string;
}

function cookiesOf(setCookie: string | string[] | undefined): Record<string, string> {
  const list = setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie];
  return Object.fromEntries(list.map((c) => c.split(';')[0]!.split('=') as [string, string]));
}

/** Signs in through GET/POST /console/login as a browser does; throws unless it worked. */
export async function injectConsoleSignIn(app: FastifyInstance, user: Pick<ConsoleTestUser, 'name' | 'password'>): Promise<InjectSession> {
  const form = await app.inject({ method: 'GET', url: '/console/login' });
  const pre = cookiesOf(form.headers['set-cookie']).mg_con_pre!;
  const token = /name="_csrf" value="([^"]+)"/.exec(form.body)![1]!;
  const r = await app.inject({
    method: 'POST', url: '/console/login', headers: { cookie: `mg_con_pre=${pre}`, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ _csrf: token, name: user.name, password: user.password }).toString(),
  });
  const session = cookiesOf(r.headers['set-cookie']).mg_con;
  if (r.statusCode !== 303 || !session) throw new Error(`console sign-in of ${user.name} answered ${r.statusCode}: ${r.body.slice(0, 300)}`);
  const cookie = `mg_con=${session}`;
  const page = await app.inject({ method: 'GET', url: '/console/flows', headers: { cookie } });
  const csrf = /"X-CSRF-Token":"([^"]+)"/.exec(page.body.replace(/&quot;/g, '"'))?.[1];
  if (!csrf) throw new Error(`no CSRF token on /console/flows (${page.statusCode})`);
  return { cookie, csrf };
}

/** Posts a form as the signed-in user (with the session's token unless `csrf: false`). */
export function injectConsolePost(app: FastifyInstance, s: InjectSession, url: string, fields: Record<string, string> = {}, opts: { csrf?: boolean } = {}) {
  const body = new URLSearchParams({ ...(opts.csrf === false ? {} : { _csrf: s.csrf }), ...fields }).toString();
  return app.inject({ method: 'POST', url, headers: { cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: body });
}

/** A page of a fresh browser context (Russian, 1440 × 900) signed in as `user`. */
export async function consolePage(browser: Browser, baseUrl: string, user: Pick<ConsoleTestUser, 'name' | 'password'> = CONSOLE_USERS.viewer): Promise<Page> {
  const context = await browser.newContext({ locale: 'ru-RU', viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  await signInConsole(page, baseUrl, user);
  return page;
}

/** Signs a Playwright page in through the form at `${baseUrl}/console/login`. */
export async function signInConsole(page: Page, baseUrl: string, user: Pick<ConsoleTestUser, 'name' | 'password'>): Promise<void> {
  await page.goto(`${baseUrl}/console/login`);
  await page.getByLabel('Имя пользователя').fill(user.name);
  await page.getByLabel('Пароль').fill(user.password);
  await page.getByRole('button', { name: 'Войти' }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/console/login'));
}

export interface ConsoleServer {
  tp: TestPipeline;
  /** The whole server (fastify inject), with /console. */
  app: FastifyInstance;
  close(): Promise<void>;
}

/**
 * A pipeline without workers (start them with tp.startWorkers()), `flowFiles` applied, one user per role, and
 * the server; `registry`: connectors besides the build's (a test's own).
 */
export async function consoleServer(label: string, flowFiles: string[] = [], opts: { registry?: Registry } = {}): Promise<ConsoleServer> {
  const tp = await createTestPipeline(label, { workers: false, ...(opts.registry ? { registry: opts.registry } : {}) });
  for (const f of flowFiles) await tp.applyFlowFile(f);
  await addConsoleUsers(tp.rt.db);
  const app = await buildServer({
    registry: tp.rt.registry, config: tp.config, db: tp.rt.db, pool: tp.rt.pool, queues: tp.rt.queues,
    log: pino({ level: 'silent' }), metrics: createMetrics(), mode: 'full',
  });
  return {
    tp, app,
    async close() {
      await app.close();
      await tp.close();
    },
  };
}
