// Notifications: e-mail through the transactional outbox (src/cabinet/mail.ts delivers it). `notify`
// is called with the transaction of the change that causes it; it resolves the recipient's address,
// honours a contact's choice to turn a kind off (invitations and password resets cannot be turned
// off), attaches stored files, and writes at most one message per `dedupeKey` (one event reported
// twice, a status file re-sent, is one e-mail).
import { sql, type Kysely } from 'kysely';
import type { Database, MailAttachment } from '../db/index.ts';

type Db = Kysely<Database>;

/** The kinds a contact may turn off, with the words the cabinet's settings page shows. */
export const CONTACT_NOTIFICATION_KINDS = {
  'order-confirmed': 'Заказ подтверждён (счёт на оплату во вложении)',
  'order-status': 'Статус заказа изменился',
  'order-approval': 'Заказ сотрудника ждёт моего согласования, решение по моему заказу',
  'document-new': 'Новый документ по заказу или договору',
  'debt': 'Появилась задолженность, задолженность просрочена',
  'credit-limit': 'Кредитный лимит почти исчерпан или исчерпан',
} as const;
export type ContactNotificationKind = keyof typeof CONTACT_NOTIFICATION_KINDS;

export type Recipient = { contactId: number } | { managerId: number } | { email: string };

export interface Notification {
  /** A ContactNotificationKind, or a kind nobody may turn off (invite, reset, signup, contract-scan …). */
  kind: string;
  to: Recipient;
  subject: string;
  text: string;
  html?: string;
  replyTo?: string;
  attachments?: MailAttachment[];
  /** One message per key: an event reported again writes nothing. */
  dedupeKey?: string;
}

export type NotifyOutcome = { queued: true; id: number } | { queued: false; why: 'turned-off' | 'no-address' | 'duplicate' };

/** Whether a contact receives a kind (on unless turned off in the cabinet's settings). */
export function kindEnabled(prefs: Record<string, unknown> | null | undefined, kind: string): boolean {
  if (!(kind in CONTACT_NOTIFICATION_KINDS)) return true;
  const n = (prefs?.notifications ?? {}) as Record<string, unknown>;
  return n[kind] !== false;
}

export async function notify(db: Db, n: Notification): Promise<NotifyOutcome> {
  let address: string | null = null;
  let contactId: number | null = null;
  let managerId: number | null = null;
  if ('contactId' in n.to) {
    contactId = n.to.contactId;
    const r = await sql<{ email: string | null; prefs: Record<string, unknown> | null; disabled: boolean | null }>`
      SELECT coalesce(a.email, c.email) AS email, a.prefs, a.disabled FROM contacts c
      LEFT JOIN cabinet_accounts a ON a.contact_id = c.id WHERE c.id = ${contactId} AND NOT c.deleted`.execute(db);
    const row = r.rows[0];
    if (!row || row.disabled) return { queued: false, why: 'no-address' };
    if (!kindEnabled(row.prefs, n.kind)) return { queued: false, why: 'turned-off' };
    address = row.email;
  } else if ('managerId' in n.to) {
    managerId = n.to.managerId;
    const r = await sql<{ email: string | null }>`
      SELECT coalesce(a.email, m.email) AS email FROM managers m LEFT JOIN manager_accounts a ON a.manager_id = m.id
      WHERE m.id = ${managerId} AND NOT m.placeholder`.execute(db);
    address = r.rows[0]?.email ?? null;
  } else {
    address = n.to.email;
  }
  address = address?.trim() || null;
  if (!address || !address.includes('@')) return { queued: false, why: 'no-address' };
  const r = await sql<{ id: string }>`
    INSERT INTO email_outbox (to_address, reply_to, subject, text_body, html_body, kind, contact_id, manager_id, attachments, dedupe_key)
    VALUES (${address}, ${n.replyTo ?? null}, ${n.subject}, ${n.text}, ${n.html ?? null}, ${n.kind}, ${contactId}, ${managerId},
      ${JSON.stringify(n.attachments ?? [])}::jsonb, ${n.dedupeKey ?? null})
    ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
    RETURNING id::text`.execute(db);
  return r.rows[0] ? { queued: true, id: Number(r.rows[0].id) } : { queued: false, why: 'duplicate' };
}

/** Sets whether a contact receives a kind; unknown kinds are refused. */
export async function setNotificationPreference(db: Db, contactId: number, kind: string, enabled: boolean): Promise<void> {
  if (!(kind in CONTACT_NOTIFICATION_KINDS)) throw new Error(`unknown notification kind: ${kind}`);
  await sql`UPDATE cabinet_accounts SET prefs = jsonb_set(prefs, '{notifications}',
      coalesce(prefs->'notifications', '{}'::jsonb) || jsonb_build_object(${kind}::text, ${enabled}::boolean)), updated_at = now()
    WHERE contact_id = ${contactId}`.execute(db);
}
