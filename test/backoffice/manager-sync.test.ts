// Managers arrive through flows (the managers CSV here; Bitrix24 users map the same way): a manager known
// first only by a client's reference (a placeholder) can be invited once its row arrives with an e-mail;
// a manager the file marks as gone (active = нет) loses the workplace session, any "work as client"
// session, signing in and invitations at once — and gets them back when marked active again.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startImpersonation } from '../../src/backoffice/impersonation.ts';
import {
  createManagerSession, inviteManager, loadManagerSession, setManagerPasswordWithToken, signInManager,
} from '../../src/backoffice/managers.ts';
import { CabinetError } from '../../src/cabinet/errors.ts';
import { cabinetFixture, DEMO_MANAGERS, type CabinetFixture } from '../helpers/cabinet.ts';

let f: CabinetFixture;
beforeAll(async () => { f = await cabinetFixture('mgrsync'); }, 180_000);
afterAll(async () => { await f?.close(); });

const db = () => f.tp.rt.db;

async function ingest(flow: string, csv: string): Promise<void> {
  const run = await f.tp.ingest(flow, Buffer.from(csv), `${flow}.csv`);
  expect(run.state, run.error?.message ?? '').toBe('done');
  expect(run.rows.rejected).toBe(0);
}

async function refusal(p: Promise<unknown>): Promise<CabinetError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CabinetError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('managers from the managers flow', () => {
  it('a manager first named by a client (placeholder) is invited once its row arrives with an e-mail', async () => {
    await ingest('clients-csv', 'code;name;manager;city\nC9;ООО «Девятый»;M9;msk\n');
    const m9 = await db().selectFrom('managers').select(['placeholder', 'email']).where('code', '=', 'M9').executeTakeFirstOrThrow();
    expect(m9).toEqual({ placeholder: true, email: null });
    expect((await refusal(inviteManager(db(), { code: 'M9', publicUrl: f.baseUrl }))).status).toBe(404);

    await ingest('managers-csv', 'code;name;email;phone\nM9;Павел Девятов;P.Devyatov@magistral.example;+7 495 000-00-09\n');
    const inv = await inviteManager(db(), { code: 'M9', publicUrl: f.baseUrl });
    expect(inv.email).toBe('p.devyatov@magistral.example');
    expect((await db().selectFrom('email_outbox').select('subject').where('to_address', '=', inv.email).executeTakeFirstOrThrow()).subject)
      .toBe('Доступ к рабочему месту менеджера');
    await setManagerPasswordWithToken(db(), inv.url.split('/').pop()!, 'Пароль-девятый-9');
    const id = await signInManager(db(), { email: inv.email, password: 'Пароль-девятый-9', ip: '10.0.0.9' });
    const s = await loadManagerSession(db(), await createManagerSession(db(), id, {}));
    expect(s?.manager.code).toBe('M9');
    // The client it manages is its own in the workplace.
    const c9 = await db().selectFrom('clients').select('manager_id').where('code', '=', 'C9').executeTakeFirstOrThrow();
    expect(c9.manager_id).toBe(id);
  });

  it('a manager marked as gone loses the workplace and "work as client" at the next request, and gets them back', async () => {
    const m1 = await db().selectFrom('managers').select(['id', 'name']).where('code', '=', 'M1').executeTakeFirstOrThrow();
    const cookie = await createManagerSession(db(), m1.id, {});
    expect(await loadManagerSession(db(), cookie)).toBeDefined();
    const c1 = await db().selectFrom('clients').select('id').where('code', '=', 'C1').executeTakeFirstOrThrow();
    const imp = await startImpersonation(db(), { manager: { id: m1.id, name: m1.name }, clientId: Number(c1.id), ip: null, userAgent: null });
    const cabinet = () => fetch(`${f.baseUrl}/cabinet/cart`, { headers: { cookie: `mg_cab=${imp.cookie}` }, redirect: 'manual' });
    expect((await cabinet()).status).toBe(200);

    await ingest('managers-csv', `code;name;email;active\nM1;Ирина Петрова;${DEMO_MANAGERS.m1.email};нет\n`);
    expect(await loadManagerSession(db(), cookie)).toBeUndefined();
    const gone = await cabinet();
    expect(gone.status).toBe(303);
    expect(gone.headers.get('location')).toBe(`/manager/clients/${c1.id}?impersonation=ended`);
    expect((await db().selectFrom('impersonations').select('end_reason').where('id', '=', imp.impersonationId).executeTakeFirstOrThrow()).end_reason).toBe('ended');
    expect((await refusal(signInManager(db(), { email: DEMO_MANAGERS.m1.email, password: DEMO_MANAGERS.m1.password, ip: '10.0.0.1' }))).status).toBe(401);
    const inv = await refusal(inviteManager(db(), { code: 'M1', publicUrl: f.baseUrl }));
    expect(inv.status).toBe(409);
    expect(inv.message).toBe('Менеджер «M1» (Ирина Петрова) отмечен в CRM или файле менеджеров как неработающий: доступ не выдаётся.');
    // The link to the clients stays (history, orders placed by the manager).
    expect((await sql<{ n: number }>`SELECT count(*)::int AS n FROM clients WHERE manager_id = ${m1.id}`.execute(db())).rows[0]!.n).toBe(2);

    // Back at work: a row without the column (or active = да) makes the manager active again.
    await ingest('managers-csv', `code;name;email\nM1;Ирина Петрова;${DEMO_MANAGERS.m1.email}\n`);
    expect(await signInManager(db(), { email: DEMO_MANAGERS.m1.email, password: DEMO_MANAGERS.m1.password, ip: '10.0.0.1' })).toBe(m1.id);
  });
});
