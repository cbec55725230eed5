// A head manages the holding's people: who is linked to which legal entity in which role (from the
// ERP), who has a cabinet account, whose authority is confirmed (stage 2: balance, settlements,
// reconciliation acts, ordering on credit), the approval threshold of a subordinate's orders, and
// invitations of contacts without an account. Every change is the head's own (assertHead, audited).
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { MagistralError } from '../errors/index.ts';
import { inviteContact } from '../cabinet/accounts.ts';
import { CabinetError } from '../cabinet/errors.ts';
import { audit, type Actor } from './audit.ts';
import { assertHead, type Viewer } from './rights.ts';

type Db = Kysely<Database>;

/** A bad request of the team page, with the words for the head. */
export class TeamError extends MagistralError {
  constructor(code: 'MAG_ERR_BAD_REQUEST' | 'MAG_ERR_NOT_FOUND', message: string, readonly russian: string) {
    super(code, message);
    this.name = 'TeamError';
  }
}

export interface TeamMember {
  contactId: number;
  code: string;
  name: string;
  position: string | null;
  email: string | null;
  /** Has a cabinet account (invited or signed up). */
  account: boolean;
  role: 'head' | 'subordinate';
  confirmedAt: Date | null;
  approvalAbove: string | null;
}

export interface TeamEntity {
  legalEntityId: number;
  code: string;
  name: string;
  members: TeamMember[];
}

export async function listTeam(db: Db, v: Viewer, actor: Actor): Promise<TeamEntity[]> {
  await assertHead(db, v, actor, 'team.view');
  const rows = (await sql<{ le_id: number; le_code: string; le_name: string; contact_id: number; code: string; name: string; position: string | null;
    email: string | null; account: boolean; role: 'head' | 'subordinate'; confirmed_at: Date | null; approval_above: string | null }>`
    SELECT le.id::int AS le_id, le.code AS le_code, le.name AS le_name, c.id::int AS contact_id, c.code, c.name, c.position,
      coalesce(a.email, c.email) AS email, a.contact_id IS NOT NULL AS account, cl.role, cr.authority_confirmed_at AS confirmed_at,
      cr.approval_above::text AS approval_above
    FROM legal_entities le
    JOIN contact_legal_entities cl ON cl.legal_entity_id = le.id
    JOIN contacts c ON c.id = cl.contact_id AND NOT c.deleted AND NOT c.placeholder
    LEFT JOIN cabinet_accounts a ON a.contact_id = c.id
    LEFT JOIN contact_rights cr ON cr.contact_id = c.id AND cr.legal_entity_id = le.id
    WHERE le.client_id = ${v.clientId} AND NOT le.deleted AND NOT le.placeholder
    ORDER BY le.name, le.id, cl.role, c.name`.execute(db)).rows;
  const out: TeamEntity[] = [];
  for (const r of rows) {
    let e = out.find((x) => x.legalEntityId === r.le_id);
    if (!e) out.push(e = { legalEntityId: r.le_id, code: r.le_code, name: r.le_name, members: [] });
    e.members.push({
      contactId: r.contact_id, code: r.code, name: r.name, position: r.position, email: r.email, account: r.account, role: r.role,
      confirmedAt: r.confirmed_at, approvalAbove: r.approval_above,
    });
  }
  return out;
}

/** The member's link to a legal entity of the viewer's client, or a refusal that names neither. */
async function memberOf(db: Db, v: Viewer, contactId: number, legalEntityId: number): Promise<{ role: string; name: string }> {
  const r = (await sql<{ role: string; name: string }>`
    SELECT cl.role, c.name FROM contact_legal_entities cl JOIN legal_entities le ON le.id = cl.legal_entity_id JOIN contacts c ON c.id = cl.contact_id
    WHERE cl.contact_id = ${contactId} AND cl.legal_entity_id = ${legalEntityId} AND le.client_id = ${v.clientId} AND NOT c.deleted`.execute(db)).rows[0];
  if (!r) throw new TeamError('MAG_ERR_NOT_FOUND', 'no such member of your legal entities', 'Сотрудник не найден среди сотрудников ваших юрлиц.');
  return r;
}

/** Confirms (stage 2) or revokes a member's authority in a legal entity. */
export async function setAuthority(db: Db, v: Viewer, q: { contactId: number; legalEntityId: number; confirmed: boolean }, actor: Actor): Promise<void> {
  await assertHead(db, v, actor, q.confirmed ? 'rights.confirm' : 'rights.revoke');
  const m = await memberOf(db, v, q.contactId, q.legalEntityId);
  if (m.role === 'head') throw new TeamError('MAG_ERR_BAD_REQUEST', 'a head has every right already', `${m.name} — руководитель: полномочия подтверждать не нужно.`);
  await db.transaction().execute(async (trx) => {
    await sql`INSERT INTO contact_rights (contact_id, legal_entity_id, authority_confirmed_at, authority_confirmed_by)
      VALUES (${q.contactId}, ${q.legalEntityId}, CASE WHEN ${q.confirmed} THEN now() END, CASE WHEN ${q.confirmed} THEN ${v.contactId}::bigint END)
      ON CONFLICT (contact_id, legal_entity_id) DO UPDATE SET authority_confirmed_at = excluded.authority_confirmed_at,
        authority_confirmed_by = excluded.authority_confirmed_by, updated_at = now()`.execute(trx);
    await audit(trx, actor, { action: q.confirmed ? 'rights.confirm' : 'rights.revoke', clientId: v.clientId, details: { contactId: q.contactId, legalEntityId: q.legalEntityId } });
  });
}

const AMOUNT = /^[0-9]{1,14}([.,][0-9]{1,2})?$/;

/** Sets (or with an empty text removes) the amount above which a subordinate's orders wait for approval. */
export async function setApprovalThreshold(db: Db, v: Viewer, q: { contactId: number; legalEntityId: number; amount: string }, actor: Actor): Promise<string | null> {
  await assertHead(db, v, actor, 'rights.approval-threshold');
  const m = await memberOf(db, v, q.contactId, q.legalEntityId);
  if (m.role === 'head') throw new TeamError('MAG_ERR_BAD_REQUEST', 'a head\'s orders need no approval', `${m.name} — руководитель: его заказы согласовывать не нужно.`);
  const text = q.amount.replace(/[\s\u00a0]/g, '');
  if (text !== '' && !AMOUNT.test(text)) {
    throw new TeamError('MAG_ERR_BAD_REQUEST', `'${q.amount}' is not an amount`, `«${q.amount}» — не сумма: укажите сумму в рублях, например 50000 или 12500,50; пустое поле — согласование не нужно.`);
  }
  const amount = text === '' ? null : text.replace(',', '.');
  await db.transaction().execute(async (trx) => {
    await sql`INSERT INTO contact_rights (contact_id, legal_entity_id, approval_above) VALUES (${q.contactId}, ${q.legalEntityId}, ${amount}::numeric)
      ON CONFLICT (contact_id, legal_entity_id) DO UPDATE SET approval_above = excluded.approval_above, updated_at = now()`.execute(trx);
    await audit(trx, actor, { action: 'rights.approval-threshold', clientId: v.clientId, details: { contactId: q.contactId, legalEntityId: q.legalEntityId, amount } });
  });
  return amount;
}

/** Invites a member without an account into the cabinet (an e-mail with a link to set the password). */
export async function inviteMember(db: Db, v: Viewer, q: { contactId: number; email: string; publicUrl: string }, actor: Actor): Promise<string> {
  await assertHead(db, v, actor, 'team.invite');
  const c = (await sql<{ code: string; account: boolean }>`
    SELECT c.code, a.contact_id IS NOT NULL AS account FROM contacts c LEFT JOIN cabinet_accounts a ON a.contact_id = c.id
    WHERE c.id = ${q.contactId} AND c.client_id = ${v.clientId} AND NOT c.deleted AND NOT c.placeholder`.execute(db)).rows[0];
  if (!c) throw new TeamError('MAG_ERR_NOT_FOUND', 'no such contact of your client', 'Сотрудник не найден среди сотрудников вашей компании.');
  let invited;
  try {
    invited = await inviteContact(db, { contactCode: c.code, ...(q.email.trim() ? { email: q.email } : {}), publicUrl: q.publicUrl });
  } catch (e) {
    if (e instanceof CabinetError) throw new TeamError('MAG_ERR_BAD_REQUEST', e.message, e.message);
    throw e;
  }
  await audit(db, actor, { action: 'team.invite', clientId: v.clientId, details: { contactId: q.contactId, email: invited.email } });
  return invited.email;
}
