// The e-mail outbox over real SMTP (an in-process smtp-server): a message is delivered once with its
// headers, a message of a rolled-back transaction never leaves, and an SMTP server that refuses keeps
// the message for a later attempt with the reason on its row.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import { pino } from 'pino';
import type { AddressInfo } from 'node:net';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { migrate } from '../../src/db/index.ts';
import { registry } from '../helpers/registry.ts';
import { enqueueMail, mailDelivery } from '../../src/cabinet/mail.ts';
import { parseEml } from '../helpers/mail.ts';

interface Received { from: string; to: string[]; raw: string }

let db: TestDb;
let server: SMTPServer;
let port = 0;
let refuse = false;
const received: Received[] = [];

beforeAll(async () => {
  db = await createTestDb('mail');
  await migrate(db.db, registry.migrationSets());
  server = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
    onRcptTo(_address, _session, cb) {
      if (refuse) cb(Object.assign(new Error('mailbox unavailable'), { responseCode: 450 }));
      else cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await db.drop();
});

const config = () => ({ SMTP_URL: `smtp://127.0.0.1:${port}`, MAGISTRAL_DATA_DIR: '/nonexistent', MAGISTRAL_MAIL_FROM: 'Магистраль <no-reply@magistral.test>' });

describe('e-mail outbox over SMTP', () => {
  it('delivers a queued message once, in Russian, with Reply-To', async () => {
    const id = await enqueueMail(db.db, { kind: 'test', to: 'manager@example.org', replyTo: 'buyer@example.org', subject: 'Сообщение из кабинета', text: 'Нужен счёт' });
    const m = mailDelivery(db.db, config(), pino({ level: 'silent' }));
    expect(await m.deliverDue()).toBe(1);
    expect(await m.deliverDue()).toBe(0);
    m.close();
    const got = received.filter((r) => new RegExp(`^X-Magistral-Mail-Id: ${id}\\r?$`, 'mi').test(r.raw));
    expect(got).toHaveLength(1);
    expect(got[0]!.to).toEqual(['manager@example.org']);
    const mail = parseEml(got[0]!.raw);
    expect(mail.subject).toBe('Сообщение из кабинета');
    expect(mail.replyTo).toContain('buyer@example.org');
    expect(mail.body.trim()).toBe('Нужен счёт');
    const row = await db.db.selectFrom('email_outbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.sent_at).not.toBeNull();
  });

  it('never sends a message whose transaction rolled back', async () => {
    await db.db.transaction().execute(async (trx) => {
      await enqueueMail(trx, { kind: 'test', to: 'ghost@example.org', subject: 'x', text: 'x' });
      throw new Error('rollback');
    }).catch(() => {});
    const m = mailDelivery(db.db, config(), pino({ level: 'silent' }));
    await m.deliverDue();
    m.close();
    expect(received.some((r) => r.to.includes('ghost@example.org'))).toBe(false);
  });

  it('keeps a refused message with the reason and sends it once the server takes it', async () => {
    refuse = true;
    const id = await enqueueMail(db.db, { kind: 'test', to: 'later@example.org', subject: 'Потом', text: 'Повтор' });
    const m = mailDelivery(db.db, config(), pino({ level: 'silent' }));
    expect(await m.deliverDue()).toBe(0);
    let row = await db.db.selectFrom('email_outbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.sent_at).toBeNull();
    expect(row.attempts).toBe(1);
    expect(row.last_error).toMatch(/mailbox unavailable/);
    expect(row.next_attempt_at.getTime()).toBeGreaterThan(Date.now() + 30_000);
    refuse = false;
    await db.db.updateTable('email_outbox').set({ next_attempt_at: new Date() }).where('id', '=', id).execute();
    expect(await m.deliverDue()).toBe(1);
    m.close();
    row = await db.db.selectFrom('email_outbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.sent_at).not.toBeNull();
    expect(received.filter((r) => r.to.includes('later@example.org'))).toHaveLength(1);
  });
});
