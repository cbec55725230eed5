// The console's rights through fastify inject on a real database: no session → the sign-in page; a viewer
// reads but every operator action is refused 403 and written to the audit log; a post without the session's
// CSRF token is refused (and audited); an operator's action is done and audited with role and object;
// failed sign-ins count in /metrics and are throttled; a disabled user's session ends at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { disableConsoleUser } from '../../src/console/users.ts';
import type { TestPipeline } from '../helpers/pipeline.ts';
import { consoleServer, CONSOLE_USERS, type ConsoleServer, injectConsolePost, injectConsoleSignIn, type InjectSession } from '../helpers/console.ts';

let server: ConsoleServer;
let tp: TestPipeline;
let app: FastifyInstance;
let viewer: InjectSession;
let operator: InjectSession;
let admin: InjectSession;

beforeAll(async () => {
  server = await consoleServer('conrights', ['ops/flows/prices-csv.yaml']);
  ({ tp, app } = server);
  viewer = await injectConsoleSignIn(app, CONSOLE_USERS.viewer);
  operator = await injectConsoleSignIn(app, CONSOLE_USERS.operator);
  admin = await injectConsoleSignIn(app, CONSOLE_USERS.admin);
}, 60_000);
afterAll(async () => {
  await server?.close();
});

async function consoleAudit(action: string) {
  return tp.rt.db.selectFrom('audit_log').selectAll().where('action', '=', `console.${action}`).orderBy('id').execute();
}

const flowPaused = async (): Promise<boolean> =>
  (await tp.rt.db.selectFrom('flows').select('paused').where('name', '=', 'prices-csv').executeTakeFirstOrThrow()).paused;

describe('console rights', () => {
  it('sends a visitor without a session to the sign-in page, and refuses its posts', async () => {
    for (const url of ['/console', '/console/flows', '/console/flows/prices-csv']) {
      const r = await app.inject({ method: 'GET', url });
      if (url === '/console') {
        expect(r.statusCode).toBe(303);
        continue;
      }
      expect(r.statusCode, url).toBe(303);
      expect(r.headers.location).toBe(`/console/login?next=${encodeURIComponent(url)}`);
    }
    const post = await app.inject({ method: 'POST', url: '/console/flows/prices-csv/pause', payload: {} });
    expect(post.statusCode).toBe(401);
    expect(await flowPaused()).toBe(false);
    const htmx = await app.inject({ method: 'GET', url: '/console/flows', headers: { 'hx-request': 'true' } });
    expect(htmx.headers['hx-redirect']).toBe('/console/login?next=%2Fconsole%2Fflows');
  });

  it('lets a viewer read, and refuses every operator action with 403, audited as denied', async () => {
    const list = await app.inject({ method: 'GET', url: '/console/flows', headers: { cookie: viewer.cookie } });
    expect(list.statusCode).toBe(200);
    expect(list.body).toContain('data-flow="prices-csv"');
    const page = await app.inject({ method: 'GET', url: '/console/flows/prices-csv', headers: { cookie: viewer.cookie } });
    expect(page.statusCode).toBe(200);
    // The page offers a viewer no action (the guard below is what refuses them).
    expect(page.body).not.toContain('/console/flows/prices-csv/pause');
    expect(page.body).toContain('доступны оператору');

    const yaml = (await tp.rt.db.selectFrom('flows').select('definition').where('name', '=', 'prices-csv').executeTakeFirstOrThrow()).definition;
    for (const [verb, fields] of [['apply', { yaml: `${JSON.stringify({ ...yaml, description: 'changed by a viewer' })}` }], ['pause', {}], ['resume', {}], ['pull', {}]] as const) {
      const r = await injectConsolePost(app, viewer, `/console/flows/prices-csv/${verb}`, fields);
      expect(r.statusCode, verb).toBe(403);
      expect(r.body).toContain('Недостаточно прав');
      const entries = await consoleAudit(`flow.${verb}`);
      expect(entries.map((e) => [e.actor_kind, e.actor_name, e.outcome]), verb).toEqual([['console', 'vera-viewer', 'denied']]);
      expect(entries[0]!.details).toMatchObject({ role: 'viewer', object: { name: 'prices-csv' }, reason: 'needs role operator' });
    }
    const def = (await tp.rt.db.selectFrom('flows').select(['definition', 'version']).where('name', '=', 'prices-csv').executeTakeFirstOrThrow());
    expect(def.definition.description).toBe('Prices per price type from a CSV export (any ERP)');
    expect(def.version).toBe(1);
    expect(await flowPaused()).toBe(false);
  });

  it('refuses a post without the session\'s CSRF token (nothing done, audited)', async () => {
    const r = await injectConsolePost(app, operator, '/console/flows/prices-csv/pause', {}, { csrf: false });
    expect(r.statusCode).toBe(403);
    expect(r.body).toContain('Форма устарела');
    const wrong = await injectConsolePost(app, operator, '/console/flows/prices-csv/pause', { _csrf: viewer.csrf }, { csrf: false });
    expect(wrong.statusCode).toBe(403);
    expect(await flowPaused()).toBe(false);
    // htmx is answered 200 with the message for #flash; the audit entry keeps the refusal.
    const htmx = await app.inject({ method: 'POST', url: '/console/flows/prices-csv/pause', headers: { cookie: operator.cookie, 'hx-request': 'true' } });
    expect(htmx.statusCode).toBe(200);
    expect(htmx.body).toContain('Форма устарела');
    expect(await flowPaused()).toBe(false);
    const entries = await consoleAudit('flow.pause');
    expect(entries.filter((e) => e.actor_name === 'oleg-operator').map((e) => [e.outcome, (e.details as { reason?: string; status: number }).reason, (e.details as { status: number }).status]))
      .toEqual([['denied', 'no valid CSRF token', 403], ['denied', 'no valid CSRF token', 403], ['denied', 'no valid CSRF token', 403]]);
  });

  it('does an operator\'s action and audits who, role, what, object and outcome', async () => {
    const r = await injectConsolePost(app, operator, '/console/flows/prices-csv/pause');
    expect(r.statusCode).toBe(303);
    expect(r.headers.location).toBe('/console/flows/prices-csv?done=paused');
    expect(await flowPaused()).toBe(true);
    const ok = (await consoleAudit('flow.pause')).filter((e) => e.outcome === 'ok');
    expect(ok).toHaveLength(1);
    expect(ok[0]).toMatchObject({ actor_kind: 'console', actor_name: 'oleg-operator', ip: '127.0.0.1' });
    expect(ok[0]!.details).toMatchObject({ role: 'operator', object: { name: 'prices-csv' }, status: 303 });
    expect((await injectConsolePost(app, operator, '/console/flows/prices-csv/resume')).statusCode).toBe(303);
    expect(await flowPaused()).toBe(false);
    // Pulling a flow whose connector is pushed to: refused with the reason, nothing received, audited as failed.
    const pull = await injectConsolePost(app, operator, '/console/flows/prices-csv/pull');
    expect(pull.statusCode).toBe(400);
    expect(pull.body).toContain("Загрузка не выполнена: flow prices-csv: connector 'file.csv' does not pull");
    expect(await tp.rt.db.selectFrom('runs').select('id').execute()).toEqual([]);
    expect((await consoleAudit('flow.pull')).at(-1)).toMatchObject({ outcome: 'failed', actor_name: 'oleg-operator' });
    // A flow that does not exist: a 404, audited as failed.
    const missing = await injectConsolePost(app, operator, '/console/flows/no-such-flow/pause');
    expect(missing.statusCode).toBe(404);
    expect((await consoleAudit('flow.pause')).at(-1)).toMatchObject({ outcome: 'failed', actor_name: 'oleg-operator' });
  });

  it('counts failed sign-ins in /metrics, throttles them, and signs nobody in with a wrong password', async () => {
    const form = await app.inject({ method: 'GET', url: '/console/login' });
    const pre = /mg_con_pre=([^;]+)/.exec(String(form.headers['set-cookie']))![1]!;
    const token = /name="_csrf" value="([^"]+)"/.exec(form.body)![1]!;
    const attempt = () => app.inject({
      method: 'POST', url: '/console/login', headers: { cookie: `mg_con_pre=${pre}`, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ _csrf: token, name: CONSOLE_USERS.admin.name, password: 'wrong-password-1' }).toString(),
    });
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await attempt()).statusCode);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    const last = await attempt();
    expect(last.body).toContain('Слишком много неудачных попыток входа');
    expect(last.headers['set-cookie'] ?? '').not.toContain('mg_con=');
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toContain('magistral_login_failures_total{surface="console"} 5');
    expect(metrics).toContain('magistral_login_throttled_total{surface="console"} 2');
    // A sign-in form posted from another site (no pre-session cookie) is refused before any check.
    const forged = await app.inject({
      method: 'POST', url: '/console/login', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ name: CONSOLE_USERS.operator.name, password: CONSOLE_USERS.operator.password }).toString(),
    });
    expect(forged.statusCode).toBe(403);
  });

  it('ends a disabled user\'s session at the next request', async () => {
    const s = await injectConsoleSignIn(app, CONSOLE_USERS.viewer);
    expect((await app.inject({ method: 'GET', url: '/console/flows', headers: { cookie: s.cookie } })).statusCode).toBe(200);
    await disableConsoleUser(tp.rt.db, CONSOLE_USERS.viewer.name);
    const r = await app.inject({ method: 'GET', url: '/console/flows', headers: { cookie: s.cookie } });
    expect(r.statusCode).toBe(303);
    expect(r.headers.location).toBe('/console/login?next=%2Fconsole%2Fflows&expired=1');
  });

  it('lets only an admin see and disable users; a disabled user\'s session ends; an admin cannot disable themself', async () => {
    const victim = operator;
    const refused = await app.inject({ method: 'GET', url: '/console/users', headers: { cookie: victim.cookie } });
    expect(refused.statusCode).toBe(403);
    expect((await consoleAudit('users.view')).map((e) => [e.actor_name, e.outcome])).toEqual([['oleg-operator', 'denied']]);
    const flows = await app.inject({ method: 'GET', url: '/console/flows', headers: { cookie: victim.cookie } });
    expect(flows.body).not.toContain('href="/console/users"');
    expect((await injectConsolePost(app, victim, '/console/users/anna-admin/disable')).statusCode).toBe(403);

    const page = await app.inject({ method: 'GET', url: '/console/users', headers: { cookie: admin.cookie } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('href="/console/users"');
    expect(page.body).toContain('data-user="oleg-operator"');
    expect(page.body).not.toContain('/console/users/anna-admin/disable');
    expect((await injectConsolePost(app, admin, '/console/users/anna-admin/disable')).statusCode).toBe(409);
    const off = await injectConsolePost(app, admin, '/console/users/oleg-operator/disable');
    expect(off.statusCode).toBe(303);
    expect((await app.inject({ method: 'GET', url: '/console/flows', headers: { cookie: victim.cookie } })).statusCode).toBe(303);
    expect((await consoleAudit('user.disable')).map((e) => [e.actor_name, e.outcome, (e.details as { object: unknown }).object]))
      .toEqual([['oleg-operator', 'denied', { name: 'anna-admin' }], ['anna-admin', 'failed', { name: 'anna-admin' }], ['anna-admin', 'ok', { name: 'oleg-operator' }]]);
    const confirmed = await app.inject({ method: 'GET', url: '/console/users?disabled=oleg-operator', headers: { cookie: admin.cookie } });
    expect(confirmed.body).toContain('Пользователь oleg-operator отключён');
    const forged = await app.inject({ method: 'GET', url: '/console/users?disabled=anna-admin', headers: { cookie: admin.cookie } });
    expect(forged.body).not.toContain('отключён, его сессии');
  });

  it('refuses at start a console route that changes something without naming its audit action', async () => {
    const { consolePlugin } = await import('../../src/web/console/index.ts');
    const Fastify = (await import('fastify')).default;
    const inside = Fastify();
    await expect(inside.register(async (scope) => {
      await scope.register(async (c) => {
        await consolePlugin(c, { deps: { db: tp.rt.db, config: tp.config, registry: tp.rt.registry } as never });
        c.post('/unaudited', async () => 'x');
      });
    }).ready()).rejects.toThrow('console route POST /unaudited changes something but declares no config.consoleAction (audit log)');
    await inside.close();
  });
});
