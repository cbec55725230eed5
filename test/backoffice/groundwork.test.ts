// The back office's shared ground on a real PostgreSQL and a real SMTP server: the audit log refuses to
// be rewritten; notify() honours a contact's choice, writes one message per event, and attaches stored
// files; an SMTP server that is down keeps every message in the outbox until it is back, then each goes
// out once with its attachment intact; the file store is content-addressed and refuses made-up names.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import { pino } from 'pino';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { mailDelivery } from '../../src/cabinet/mail.ts';
import { audit } from '../../src/backoffice/audit.ts';
import { notify, setNotificationPreference } from '../../src/backoffice/notify.ts';
import { contentDisposition, filePath, openStoredFile, storeFile } from '../../src/backoffice/files.ts';
import { assertOwnClient } from '../../src/backoffice/managers.ts';
import { CabinetError } from '../../src/cabinet/errors.ts';

interface Received { to: string[]; raw: string }

let db: TestDb;
let dataDir: string;
let port = 0;
let server: SMTPServer | undefined;
const received: Received[] = [];

function startSmtp(listenPort: number): Promise<number> {
  server = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => { received.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') }); cb(); });
    },
  });
  return new Promise((resolve) => server!.listen(listenPort, '127.0.0.1', () => resolve((server!.server.address() as { port: number }).port)));
}
const stopSmtp = () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));

let contactId = 0;
let managerId = 0;
let otherManagerId = 0;
let clientId = 0;

beforeAll(async () => {
  db = await createTestDb('bogound');
  dataDir = await mkdtemp(path.join(tmpdir(), 'mg-bo-'));
  port = await startSmtp(0);
  managerId = (await db.db.insertInto('managers').values({ code: 'M1', name: 'Ирина Петрова', email: 'i.petrova@example.org' }).returning('id').executeTakeFirstOrThrow()).id;
  otherManagerId = (await db.db.insertInto('managers').values({ code: 'M2', name: 'Олег Кузнецов', email: 'o.k@example.org' }).returning('id').executeTakeFirstOrThrow()).id;
  clientId = Number((await db.db.insertInto('clients').values({ code: 'C1', name: 'ГК Энергомонтаж', manager_id: managerId }).returning('id').executeTakeFirstOrThrow()).id);
  contactId = Number((await db.db.insertInto('contacts').values({ code: 'P1', name: 'Смирнов', email: 'p1@example.org', client_id: clientId }).returning('id').executeTakeFirstOrThrow()).id);
  await db.db.insertInto('cabinet_accounts').values({ contact_id: contactId, email: 'a.smirnov@example.org' }).execute();
});
afterAll(async () => {
  await stopSmtp();
  await db?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

const config = () => ({ SMTP_URL: `smtp://127.0.0.1:${port}`, MAGISTRAL_DATA_DIR: dataDir, MAGISTRAL_MAIL_FROM: 'Магистраль <no-reply@magistral.test>' });

describe('audit log', () => {
  it('is append-only: UPDATE and DELETE are refused by the database', async () => {
    await audit(db.db, { kind: 'manager', id: managerId, name: 'Ирина Петрова', ip: '10.0.0.7' }, { action: 'impersonation.start', clientId, details: { contact: 'P1' } });
    const row = await db.db.selectFrom('audit_log').selectAll().where('action', '=', 'impersonation.start').executeTakeFirstOrThrow();
    expect(row.ip).toBe('10.0.0.7');
    expect(row.details).toEqual({ contact: 'P1' });
    await expect(sql`UPDATE audit_log SET action = 'nothing' WHERE id = ${row.id}`.execute(db.db)).rejects.toThrow(/append-only/);
    await expect(sql`DELETE FROM audit_log WHERE id = ${row.id}`.execute(db.db)).rejects.toThrow(/append-only/);
    expect((await db.db.selectFrom('audit_log').select('action').where('id', '=', row.id).executeTakeFirstOrThrow()).action).toBe('impersonation.start');
  });

  it('refuses a manager another manager\'s client (403), an unknown client (404), and audits the refusal', async () => {
    const actor = { kind: 'manager' as const, id: otherManagerId, name: 'Олег Кузнецов', ip: '10.0.0.9' };
    const err = await assertOwnClient(db.db, actor, clientId, 'client.view').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CabinetError);
    expect((err as CabinetError).status).toBe(403);
    const denied = await db.db.selectFrom('audit_log').selectAll().where('outcome', '=', 'denied').where('actor_id', '=', String(otherManagerId)).execute();
    expect(denied.map((d) => [d.action, Number(d.client_id), d.ip])).toEqual([['client.view', clientId, '10.0.0.9']]);
    expect(((await assertOwnClient(db.db, actor, 999_999, 'client.view').catch((e: unknown) => e)) as CabinetError).status).toBe(404);
    expect((await assertOwnClient(db.db, { ...actor, id: managerId }, clientId, 'client.view')).name).toBe('ГК Энергомонтаж');
  });
});

describe('file store', () => {
  it('stores content once under its sha256, serves it through its row only', async () => {
    const bytes = new TextEncoder().encode('%PDF-1.4 test invoice');
    const a = await storeFile(db.db, dataDir, bytes, 'application/pdf');
    const b = await storeFile(db.db, dataDir, bytes, 'application/pdf');
    expect(a).toEqual(b);
    expect(a.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(await readFile(filePath(dataDir, a.sha256), 'utf8')).toBe('%PDF-1.4 test invoice');
    const opened = await openStoredFile(db.db, dataDir, a.sha256);
    expect(opened?.file.contentType).toBe('application/pdf');
    opened?.stream.destroy();
    expect(await openStoredFile(db.db, dataDir, '../../etc/passwd')).toBeUndefined();
    expect(await openStoredFile(db.db, dataDir, 'f'.repeat(64))).toBeUndefined();
    expect(() => filePath(dataDir, '../x')).toThrow(/not a sha256/);
  });

  it('names a download without letting the name break the header', () => {
    const v = contentDisposition('Счёт "123"\r\nSet-Cookie: x=1.pdf');
    expect(v).not.toMatch(/[\r\n]/);
    expect(v).toMatch(/^attachment; filename="[^"]*"; filename\*=UTF-8''/);
    expect(decodeURIComponent(v.split("''")[1]!)).toBe('Счёт _123___Set-Cookie: x=1.pdf');
  });
});

describe('notifications', () => {
  it('skips a kind the contact turned off, writes one message per event key', async () => {
    expect(await notify(db.db, { kind: 'order-status', to: { contactId }, subject: 'Статус', text: 'x', dedupeKey: 'status:1' })).toMatchObject({ queued: true });
    expect(await notify(db.db, { kind: 'order-status', to: { contactId }, subject: 'Статус', text: 'x', dedupeKey: 'status:1' })).toEqual({ queued: false, why: 'duplicate' });
    await setNotificationPreference(db.db, contactId, 'order-status', false);
    expect(await notify(db.db, { kind: 'order-status', to: { contactId }, subject: 'Статус', text: 'x', dedupeKey: 'status:2' })).toEqual({ queued: false, why: 'turned-off' });
    // Kinds nobody may turn off still go (a password reset), and the account's address wins over the contact's.
    const r = await notify(db.db, { kind: 'reset', to: { contactId }, subject: 'Пароль', text: 'x' });
    expect(r.queued).toBe(true);
    const row = await db.db.selectFrom('email_outbox').select(['to_address', 'contact_id']).where('id', '=', (r as { id: number }).id).executeTakeFirstOrThrow();
    expect(row).toEqual({ to_address: 'a.smirnov@example.org', contact_id: contactId });
    await expect(setNotificationPreference(db.db, contactId, 'no-such-kind', false)).rejects.toThrow(/unknown notification kind/);
    expect(await notify(db.db, { kind: 'contract-scan', to: { managerId }, subject: 'Скан', text: 'x' })).toMatchObject({ queued: true });
    await db.db.deleteFrom('email_outbox').execute();
  });

  it('keeps mails while the SMTP server is down and sends each once, attachment intact, when it is back', async () => {
    const pdf = new TextEncoder().encode('%PDF-1.4\n' + 'счёт '.repeat(2000));
    const file = await storeFile(db.db, dataDir, pdf, 'application/pdf');
    await stopSmtp();
    for (let i = 1; i <= 3; i++) {
      await notify(db.db, {
        kind: 'order-confirmed', to: { contactId }, subject: `Заказ № ${i} подтверждён`, text: `Счёт во вложении (${i})`,
        attachments: [{ sha256: file.sha256, fileName: `Счёт ${i}.pdf`, contentType: 'application/pdf' }], dedupeKey: `confirmed:${i}`,
      });
    }
    const m = mailDelivery(db.db, config(), pino({ level: 'silent' }));
    expect(await m.deliverDue()).toBe(0);
    const waiting = await db.db.selectFrom('email_outbox').select(['attempts', 'last_error', 'sent_at']).execute();
    expect(waiting).toHaveLength(3);
    for (const w of waiting) {
      expect(w.sent_at).toBeNull();
      expect(w.attempts).toBe(1);
      expect(w.last_error).toMatch(/ECONNREFUSED|connect/i);
    }
    // Back on the same port; the retry is due (the back-off moved here instead of waiting a minute).
    await startSmtp(port);
    await sql`UPDATE email_outbox SET next_attempt_at = now()`.execute(db.db);
    expect(await m.deliverDue()).toBe(3);
    expect(await m.deliverDue()).toBe(0);
    m.close();
    const got = received.filter((r) => /Заказ № \d подтверждён|=\?UTF-8\?/i.test(r.raw));
    expect(got).toHaveLength(3);
    for (const g of got) {
      expect(g.to).toEqual(['a.smirnov@example.org']);
      // The attachment's bytes are the stored file's (base64 body of the application/pdf part).
      const part = g.raw.split(/\r?\n--/).find((p) => /Content-Type: application\/pdf/i.test(p))!;
      const b64 = part.split(/\r?\n\r?\n/)[1]!.replace(/\s+/g, '');
      expect(createHash('sha256').update(Buffer.from(b64, 'base64')).digest('hex')).toBe(file.sha256);
    }
  });
});
