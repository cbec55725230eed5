// The e-mail outbox: a message is a row written in the same transaction as the change that causes it
// (an invitation with its token, a sign-up with its client), so no e-mail is sent for a change that
// rolled back and none is lost for one that committed. The workers deliver due rows over SMTP
// (SMTP_URL) or, without one, write each as an .eml file under MAGISTRAL_DATA_DIR/mail — what a
// newcomer's demo and the tests read.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import nodemailer from 'nodemailer';
import type { Config } from '../config/index.ts';
import type { Database, MailAttachment } from '../db/index.ts';
import { filePath } from '../backoffice/files.ts';
import type { Logger } from '../telemetry/logger.ts';

type Db = Kysely<Database>;

export interface Mail {
  to: string;
  subject: string;
  text: string;
  html?: string;
  replyTo?: string;
  /** What the message is for (invite, reset, signup, manager-message …): for the console and tests. */
  kind: string;
}

export async function enqueueMail(db: Db, m: Mail): Promise<number> {
  const r = await db.insertInto('email_outbox').values({
    to_address: m.to, subject: m.subject, text_body: m.text, html_body: m.html ?? null, reply_to: m.replyTo ?? null, kind: m.kind,
  }).returning('id').executeTakeFirstOrThrow();
  return r.id;
}

/** Attempts before a message is left alone (its last error stays on the row for the console). */
export const MAIL_MAX_ATTEMPTS = 12;

export interface MailDelivery {
  /** Sends what is due; returns how many were sent. Never two at once in one process. */
  deliverDue(): Promise<number>;
  close(): void;
}

export function mailDelivery(db: Db, config: Pick<Config, 'SMTP_URL' | 'MAGISTRAL_DATA_DIR' | 'MAGISTRAL_MAIL_FROM'>, log: Logger): MailDelivery {
  const smtp = config.SMTP_URL ? nodemailer.createTransport(config.SMTP_URL) : undefined;
  const files = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  const dir = path.resolve(config.MAGISTRAL_DATA_DIR, 'mail');
  let running: Promise<number> | undefined;

  const once = async (): Promise<number> => {
    let sent = 0;
    for (;;) {
      // One row per transaction, locked: several worker processes never send the same message twice.
      const done = await db.transaction().execute(async (trx) => {
        const row = await sql<{ id: number; to_address: string; reply_to: string | null; subject: string; text_body: string; html_body: string | null; attempts: number; attachments: MailAttachment[] }>`
          SELECT id, to_address, reply_to, subject, text_body, html_body, attempts, attachments FROM email_outbox
          WHERE sent_at IS NULL AND next_attempt_at <= now() AND attempts < ${MAIL_MAX_ATTEMPTS}
          ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`.execute(trx).then((r) => r.rows[0]);
        if (!row) return false;
        const message = {
          from: config.MAGISTRAL_MAIL_FROM, to: row.to_address, subject: row.subject, text: row.text_body,
          ...(row.html_body ? { html: row.html_body } : {}), ...(row.reply_to ? { replyTo: row.reply_to } : {}),
          headers: { 'X-Magistral-Mail-Id': String(row.id) },
          // Attachments are stored files (an invoice generated before the message was written).
          attachments: (row.attachments ?? []).map((a) => ({ filename: a.fileName, contentType: a.contentType, path: filePath(config.MAGISTRAL_DATA_DIR, a.sha256) })),
        };
        try {
          if (smtp) {
            await smtp.sendMail(message);
          } else {
            const info = await files.sendMail(message);
            await mkdir(dir, { recursive: true });
            await writeFile(path.join(dir, `${String(row.id).padStart(8, '0')}.eml`), info.message as Buffer);
          }
          await trx.updateTable('email_outbox').set({ sent_at: new Date(), attempts: row.attempts + 1, last_error: null }).where('id', '=', row.id).execute();
          sent++;
        } catch (e) {
          // Back off 1, 2, 4 … minutes, at most an hour, and keep the reason for the console.
          const delayMin = Math.min(60, 2 ** row.attempts);
          await sql`UPDATE email_outbox SET attempts = attempts + 1, last_error = ${(e as Error).message},
            next_attempt_at = now() + make_interval(mins => ${delayMin}) WHERE id = ${row.id}`.execute(trx);
          log.warn({ mail: row.id, err: (e as Error).message, attempt: row.attempts + 1 }, 'e-mail not sent; will retry');
        }
        return true;
      });
      if (!done) return sent;
    }
  };

  return {
    deliverDue() {
      running ??= once().finally(() => { running = undefined; });
      return running;
    },
    close() {
      smtp?.close();
    },
  };
}
