// The e-mail outbox for operators: /admin/api/mail lists queued, sent and failed messages (keyset paged,
// filtered by kind), a failed message is queued again by retry; no token → 401; an unknown id → 404.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { portalFixture, type PortalFixture } from './portal-fixture.ts';
import { notify } from '../../src/backoffice/notify.ts';
import { MAIL_MAX_ATTEMPTS } from '../../src/cabinet/mail.ts';
import { until } from '../helpers/wait.ts';

let fx: PortalFixture;
beforeAll(async () => {
  fx = await portalFixture('mailadmin');
}, 120_000);
afterAll(async () => fx?.close());

describe('/admin/api/mail', () => {
  it('lists messages by state and kind, newest first, and retries a failed one', async () => {
    const db = fx.tp.rt.db;
    const ids: number[] = [];
    // Written and set up in one transaction: the fixture's workers deliver due mail and must not see
    // these three before they are in the states the test lists.
    await db.transaction().execute(async (trx) => {
      for (const [i, kind] of (['order-status', 'order-status', 'invite'] as const).entries()) {
        const r = await notify(trx, { kind, to: { email: `b${i}@example.org` }, subject: `Письмо ${i}`, text: 'x' });
        ids.push((r as { id: number }).id);
      }
      await sql`UPDATE email_outbox SET sent_at = now(), attempts = 1 WHERE id = ${ids[0]}`.execute(trx);
      await sql`UPDATE email_outbox SET attempts = ${MAIL_MAX_ATTEMPTS}, last_error = '550 mailbox unavailable' WHERE id = ${ids[1]}`.execute(trx);
      // This one waits: its next attempt is tomorrow.
      await sql`UPDATE email_outbox SET next_attempt_at = now() + interval '1 day' WHERE id = ${ids[2]}`.execute(trx);
    });

    const all = (await fx.app.inject({ method: 'GET', url: '/admin/api/mail', headers: fx.admin })).json().mails as Array<{ id: number; state: string }>;
    expect(all.filter((m) => ids.includes(m.id)).map((m) => [m.id, m.state])).toEqual([[ids[2], 'queued'], [ids[1], 'failed'], [ids[0], 'sent']]);
    const failed = (await fx.app.inject({ method: 'GET', url: '/admin/api/mail?state=failed', headers: fx.admin })).json().mails;
    expect(failed).toEqual([expect.objectContaining({ id: ids[1], kind: 'order-status', to: 'b1@example.org', lastError: '550 mailbox unavailable', attempts: MAIL_MAX_ATTEMPTS })]);
    const page = (await fx.app.inject({ method: 'GET', url: `/admin/api/mail?kind=order-status&before=${ids[1]}`, headers: fx.admin })).json().mails;
    expect(page.map((m: { id: number }) => m.id)).toEqual([ids[0]]);

    const retry = await fx.app.inject({ method: 'POST', url: `/admin/api/mail/${ids[1]}/retry`, headers: fx.admin });
    expect(retry.statusCode, retry.body).toBe(200);
    // The workers pick the retried message up and deliver it (as an .eml without SMTP_URL).
    const sent = await until('the retried mail sent', async () =>
      (await db.selectFrom('email_outbox').select(['attempts', 'sent_at']).where('id', '=', ids[1]!).where('sent_at', 'is not', null).executeTakeFirst()), 15_000);
    expect(sent.attempts).toBe(1);
    expect((await fx.app.inject({ method: 'POST', url: `/admin/api/mail/${ids[0]}/retry`, headers: fx.admin })).statusCode).toBe(404);
    expect((await fx.app.inject({ method: 'GET', url: '/admin/api/mail' })).statusCode).toBe(401);
    expect((await fx.app.inject({ method: 'GET', url: '/admin/api/mail?state=lost', headers: fx.admin })).statusCode).toBe(400);
  });
});
