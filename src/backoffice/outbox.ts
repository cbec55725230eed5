// What the e-mail outbox holds, for operators (admin API, CLI; the console later): queued, sent and
// failed messages with their attempts and last error, newest first, keyset-paged; and a retry of a
// message that gave up (its attempts start again).
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { MAIL_MAX_ATTEMPTS } from '../cabinet/mail.ts';

type Db = Kysely<Database>;

export type OutboxState = 'queued' | 'sent' | 'failed';

export interface OutboxRow {
  id: number;
  state: OutboxState;
  kind: string;
  to: string;
  subject: string;
  attachments: number;
  attempts: number;
  lastError: string | null;
  createdAt: string;
  sentAt: string | null;
  nextAttemptAt: string | null;
}

const STATE_SQL = {
  queued: sql`sent_at IS NULL AND attempts < ${MAIL_MAX_ATTEMPTS}`,
  sent: sql`sent_at IS NOT NULL`,
  failed: sql`sent_at IS NULL AND attempts >= ${MAIL_MAX_ATTEMPTS}`,
} as const;

export async function listOutbox(db: Db, q: { state?: OutboxState; kind?: string; limit?: number; beforeId?: number } = {}): Promise<OutboxRow[]> {
  const limit = Math.min(500, Math.max(1, q.limit ?? 50));
  const r = await sql<{ id: string; kind: string; to_address: string; subject: string; n: number; attempts: number; last_error: string | null; created_at: Date; sent_at: Date | null; next_attempt_at: Date }>`
    SELECT id::text, kind, to_address, subject, jsonb_array_length(attachments) AS n, attempts, last_error, created_at, sent_at, next_attempt_at
    FROM email_outbox
    WHERE ${q.state ? STATE_SQL[q.state] : sql`true`} AND (${q.kind ?? null}::text IS NULL OR kind = ${q.kind ?? null})
      AND (${q.beforeId ?? null}::bigint IS NULL OR id < ${q.beforeId ?? null})
    ORDER BY id DESC LIMIT ${limit}`.execute(db);
  return r.rows.map((x) => ({
    id: Number(x.id), kind: x.kind, to: x.to_address, subject: x.subject, attachments: x.n, attempts: x.attempts, lastError: x.last_error,
    state: x.sent_at ? 'sent' : x.attempts >= MAIL_MAX_ATTEMPTS ? 'failed' : 'queued',
    createdAt: x.created_at.toISOString(), sentAt: x.sent_at?.toISOString() ?? null, nextAttemptAt: x.sent_at ? null : x.next_attempt_at.toISOString(),
  }));
}

/** Sends an unsent message again at once (a failed one gets its attempts back). False: no such unsent message. */
export async function retryMail(db: Db, id: number): Promise<boolean> {
  const r = await sql`UPDATE email_outbox SET attempts = 0, next_attempt_at = now() WHERE id = ${id} AND sent_at IS NULL`.execute(db);
  return Number(r.numAffectedRows ?? 0) > 0;
}
