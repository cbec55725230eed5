// The cabinet's admin API: invitations (the link returned and e-mailed through the outbox), sign-ups
// listed, approved (the client may order) and refused a second decision; errors in the admin format.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portalFixture, type PortalFixture } from './portal-fixture.ts';
import { registerBuyer } from '../../src/cabinet/accounts.ts';

let fx: PortalFixture;
beforeAll(async () => {
  fx = await portalFixture('cabadmin');
}, 120_000);
afterAll(async () => fx?.close());

describe('/admin/api/cabinet', () => {
  it('invites a contact: the link is returned and an e-mail with it is queued', async () => {
    const res = await fx.app.inject({ method: 'POST', url: '/admin/api/cabinet/invitations', headers: fx.admin, payload: { contact: 'K2' } });
    expect(res.statusCode, res.body).toBe(201);
    const body = res.json() as { email: string; url: string };
    expect(body.email).toBe('m@example.ru');
    expect(body.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/cabinet\/password\/[A-Za-z0-9_-]{43}$/);
    const mail = await fx.tp.rt.db.selectFrom('email_outbox').selectAll().where('to_address', '=', 'm@example.ru').executeTakeFirstOrThrow();
    expect(mail.kind).toBe('invite');
    expect(mail.text_body).toContain(body.url);
    const unknown = await fx.app.inject({ method: 'POST', url: '/admin/api/cabinet/invitations', headers: fx.admin, payload: { contact: 'NOPE' } });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'MAG_ERR_NOT_FOUND', message: 'Контакт с кодом «NOPE» не найден.' });
    const noToken = await fx.app.inject({ method: 'POST', url: '/admin/api/cabinet/invitations', payload: { contact: 'K2' } });
    expect(noToken.statusCode).toBe(401);
  });

  it('lists pending sign-ups, approves one (the client may order), and refuses a second decision', async () => {
    const r = await registerBuyer(fx.tp.rt.db, { company: 'ООО «Тест»', inn: '7707083893', contactName: 'Иван', email: 'ivan@example.org', password: 'Пароль-123', cityId: null });
    const list = await fx.app.inject({ method: 'GET', url: '/admin/api/cabinet/signups', headers: fx.admin });
    expect(list.json().signups).toEqual([expect.objectContaining({ id: r.signupId, status: 'pending', company: 'ООО «Тест»', inn: '7707083893' })]);
    const ok = await fx.app.inject({ method: 'POST', url: `/admin/api/cabinet/signups/${r.signupId}/approve`, headers: fx.admin, payload: { by: 'Ирина' } });
    expect(ok.statusCode, ok.body).toBe(200);
    expect((await fx.tp.rt.db.selectFrom('clients').select('pending').where('id', '=', r.clientId).executeTakeFirstOrThrow()).pending).toBe(false);
    const again = await fx.app.inject({ method: 'POST', url: `/admin/api/cabinet/signups/${r.signupId}/reject`, headers: fx.admin, payload: {} });
    expect(again.statusCode).toBe(409);
    expect(again.json().message).toContain('уже рассмотрена');
    expect((await fx.app.inject({ method: 'GET', url: '/admin/api/cabinet/signups', headers: fx.admin })).json().signups).toEqual([]);
  });
});
