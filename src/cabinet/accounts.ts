// Cabinet accounts of contacts: invitations (the first password is set through a link sent by
// e-mail), password resets, sign-in with rate limiting, and self-registration of a new wholesale buyer
// (a pending client a manager approves). Every e-mail is written to the outbox in the transaction of
// the change it announces (src/cabinet/mail.ts).
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { requisiteProblem } from '../portal/requisites.ts';
import { audit, type Actor } from '../backoffice/audit.ts';
import { CabinetError } from './errors.ts';
import { enqueueMail } from './mail.ts';
import { hashPassword, passwordProblem, verifyPassword } from './passwords.ts';
import { deleteContactSessions } from './sessions.ts';
import { newSecret, sha256 } from './tokens.ts';

type Db = Kysely<Database>;

const INVITE_DAYS = 7;
const RESET_HOURS = 2;
/** Failed sign-ins counted over this window: 5 for one e-mail, 30 from one address. */
const ATTEMPT_WINDOW_MIN = 15;
const MAX_FAILED_PER_EMAIL = 5;
const MAX_FAILED_PER_IP = 30;

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
export const normalEmail = (e: string): string => e.trim().toLowerCase();

export interface Invitation {
  contactId: number;
  email: string;
  /** The link to open (shown to the operator once; also e-mailed). */
  url: string;
}

async function issueToken(db: Db, contactId: number, kind: 'invite' | 'reset'): Promise<string> {
  const token = newSecret();
  const interval = kind === 'invite' ? sql`make_interval(days => ${INVITE_DAYS})` : sql`make_interval(hours => ${RESET_HOURS})`;
  await sql`INSERT INTO cabinet_tokens (token_hash, contact_id, kind, expires_at) VALUES (${sha256(token)}, ${contactId}, ${kind}, now() + ${interval})`.execute(db);
  return token;
}

/**
 * Invites a contact (by code) to the cabinet: makes its account with the contact's e-mail (or the one
 * given) and e-mails a link to set the first password. Again for an invited contact: a new link.
 */
export async function inviteContact(db: Db, opts: { contactCode: string; email?: string; publicUrl: string }): Promise<Invitation> {
  return db.transaction().execute(async (trx) => {
    const c = await trx.selectFrom('contacts').select(['id', 'name', 'email']).where('code', '=', opts.contactCode)
      .where('deleted', '=', false).where('placeholder', '=', false).orderBy('id').executeTakeFirst();
    if (!c) throw new CabinetError(404, `Контакт с кодом «${opts.contactCode}» не найден.`);
    const email = normalEmail(opts.email ?? c.email ?? '');
    if (!EMAIL.test(email)) throw new CabinetError(400, `У контакта «${opts.contactCode}» нет адреса электронной почты: укажите его.`, 'email');
    const taken = await trx.selectFrom('cabinet_accounts').select('contact_id').where(sql`lower(email)`, '=', email).where('contact_id', '<>', c.id).executeTakeFirst();
    if (taken) throw new CabinetError(409, `Адрес ${email} уже используется другим пользователем кабинета.`, 'email');
    await trx.insertInto('cabinet_accounts').values({ contact_id: c.id, email })
      .onConflict((oc) => oc.column('contact_id').doUpdateSet({ email, updated_at: sql<Date>`now()` })).execute();
    const token = await issueToken(trx, c.id, 'invite');
    const url = `${opts.publicUrl.replace(/\/$/, '')}/cabinet/password/${token}`;
    await enqueueMail(trx, {
      kind: 'invite', to: email, subject: 'Приглашение в личный кабинет',
      text: `Здравствуйте, ${c.name}!\n\nВам открыт доступ в личный кабинет оптового покупателя.\nЧтобы задать пароль, откройте ссылку (она действует ${INVITE_DAYS} дней):\n${url}\n\nВаш логин: ${email}\n`,
    });
    return { contactId: c.id, email, url };
  });
}

/** What a valid, unused token is for, or undefined. */
export async function tokenInfo(db: Db, token: string): Promise<{ kind: 'invite' | 'reset'; contactId: number; email: string; name: string } | undefined> {
  if (!token || token.length > 100) return undefined;
  const r = await sql<{ kind: 'invite' | 'reset'; contact_id: number; email: string; name: string }>`
    SELECT t.kind, t.contact_id, a.email, c.name FROM cabinet_tokens t
    JOIN cabinet_accounts a ON a.contact_id = t.contact_id JOIN contacts c ON c.id = t.contact_id
    WHERE t.token_hash = ${sha256(token)} AND t.used_at IS NULL AND t.expires_at > now() AND NOT a.disabled`.execute(db);
  const row = r.rows[0];
  return row && { kind: row.kind, contactId: row.contact_id, email: row.email, name: row.name };
}

/** Sets the password through an invitation or reset link (used once; every other session of the contact ends). */
export async function setPasswordWithToken(db: Db, token: string, password: string): Promise<number> {
  const problem = passwordProblem(password);
  if (problem) throw new CabinetError(400, problem, 'password');
  const hash = await hashPassword(password);
  const contactId = await db.transaction().execute(async (trx) => {
    const r = await sql<{ contact_id: number }>`
      UPDATE cabinet_tokens SET used_at = now() WHERE token_hash = ${sha256(token)} AND used_at IS NULL AND expires_at > now()
      RETURNING contact_id`.execute(trx);
    const row = r.rows[0];
    if (!row) throw new CabinetError(410, 'Ссылка устарела или уже использована. Запросите новую на странице восстановления пароля.');
    await trx.updateTable('cabinet_accounts').set({ password_hash: hash, updated_at: sql<Date>`now()` }).where('contact_id', '=', row.contact_id).execute();
    // Other links of the contact stop working: the password they were for has been set.
    await trx.updateTable('cabinet_tokens').set({ used_at: sql<Date>`now()` }).where('contact_id', '=', row.contact_id).where('used_at', 'is', null).execute();
    return row.contact_id;
  });
  await deleteContactSessions(db, contactId);
  return contactId;
}

/** Sets a password directly (the demo and operators' CLI); makes the account when there is none. */
export async function setPassword(db: Db, contactCode: string, password: string, email?: string): Promise<number> {
  const c = await db.selectFrom('contacts').select(['id', 'email']).where('code', '=', contactCode).where('deleted', '=', false).orderBy('id').executeTakeFirst();
  if (!c) throw new CabinetError(404, `Контакт с кодом «${contactCode}» не найден.`);
  const mail = normalEmail(email ?? c.email ?? '');
  if (!EMAIL.test(mail)) throw new CabinetError(400, `У контакта «${contactCode}» нет адреса электронной почты.`);
  const hash = await hashPassword(password);
  await db.insertInto('cabinet_accounts').values({ contact_id: c.id, email: mail, password_hash: hash })
    .onConflict((oc) => oc.column('contact_id').doUpdateSet({ email: mail, password_hash: hash, updated_at: sql<Date>`now()` })).execute();
  return c.id;
}

/**
 * Asks for a reset link. Answers the same whether or not the address has an account (nobody learns
 * who is a customer); the link is e-mailed only to an existing, enabled account.
 */
export async function requestPasswordReset(db: Db, email: string, publicUrl: string): Promise<void> {
  const e = normalEmail(email);
  if (!EMAIL.test(e)) throw new CabinetError(400, 'Введите адрес электронной почты.', 'email');
  await db.transaction().execute(async (trx) => {
    const a = await trx.selectFrom('cabinet_accounts').innerJoin('contacts', 'contacts.id', 'cabinet_accounts.contact_id')
      .select(['cabinet_accounts.contact_id', 'cabinet_accounts.email', 'contacts.name'])
      .where(sql`lower(cabinet_accounts.email)`, '=', e).where('cabinet_accounts.disabled', '=', false).executeTakeFirst();
    if (!a) return;
    const token = await issueToken(trx, a.contact_id, 'reset');
    const url = `${publicUrl.replace(/\/$/, '')}/cabinet/password/${token}`;
    await enqueueMail(trx, {
      kind: 'reset', to: a.email, subject: 'Восстановление пароля',
      text: `Здравствуйте, ${a.name}!\n\nЧтобы задать новый пароль, откройте ссылку (она действует ${RESET_HOURS} часа):\n${url}\n\nЕсли вы не запрашивали восстановление, просто проигнорируйте это письмо.\n`,
    });
  });
}

/**
 * Refuses a sign-in (429, the minutes to wait in Russian) while too many attempts failed in the last
 * ATTEMPT_WINDOW_MIN minutes for the address or from the source; the cabinet's and the managers' sign-in
 * share it, each with its own attempts table.
 */
export async function refuseWhileThrottled(db: Db, table: 'cabinet_login_attempts' | 'manager_login_attempts' | 'console_login_attempts', email: string, ip: string, hint = ''): Promise<void> {
  const counts = await sql<{ by_email: number; by_ip: number; wait_min: number | null }>`
    SELECT count(*) FILTER (WHERE lower(email) = ${email} AND NOT ok)::int AS by_email,
      count(*) FILTER (WHERE ip = ${ip} AND NOT ok)::int AS by_ip,
      ceil(extract(epoch FROM (min(at) + make_interval(mins => ${ATTEMPT_WINDOW_MIN}) - now())) / 60)::int AS wait_min
    FROM ${sql.table(table)}
    WHERE at > now() - make_interval(mins => ${ATTEMPT_WINDOW_MIN}) AND (lower(email) = ${email} OR ip = ${ip})`.execute(db);
  const c = counts.rows[0]!;
  if (c.by_email >= MAX_FAILED_PER_EMAIL || c.by_ip >= MAX_FAILED_PER_IP) {
    throw new CabinetError(429, `Слишком много неудачных попыток входа. Попробуйте снова через ${Math.max(1, c.wait_min ?? ATTEMPT_WINDOW_MIN)} мин.${hint}`);
  }
}

/**
 * Checks an e-mail and password. Refused while too many attempts failed recently for the address or
 * from the client's IP (429 with the minutes to wait), recorded either way.
 */
export async function signInWithPassword(db: Db, input: { email: string; password: string; ip: string }): Promise<number> {
  const email = normalEmail(input.email);
  await refuseWhileThrottled(db, 'cabinet_login_attempts', email, input.ip, ' или восстановите пароль.');
  const a = await db.selectFrom('cabinet_accounts').select(['contact_id', 'password_hash', 'disabled'])
    .where(sql`lower(email)`, '=', email).executeTakeFirst();
  const ok = await verifyPassword(input.password, a?.password_hash ?? null) && a !== undefined && !a.disabled;
  await db.insertInto('cabinet_login_attempts').values({ email, ip: input.ip, ok }).execute();
  if (!ok || !a) throw new CabinetError(401, 'Неверный адрес электронной почты или пароль.');
  await db.updateTable('cabinet_accounts').set({ last_login_at: sql<Date>`now()` }).where('contact_id', '=', a.contact_id).execute();
  return a.contact_id;
}

export interface SignupInput {
  company: string;
  inn: string;
  kpp?: string;
  contactName: string;
  email: string;
  phone?: string;
  password: string;
  cityId: number | null;
}

/**
 * A new wholesale buyer registers: a pending client with its legal entity and contact (the contact
 * heads it) and an account with the chosen password. It can sign in at once and sees base prices; it
 * cannot order until a manager approves the sign-up. The client's manager(s) get an e-mail.
 */
export async function registerBuyer(db: Db, input: SignupInput): Promise<{ signupId: number; contactId: number; clientId: number }> {
  const company = input.company.trim();
  const name = input.contactName.trim();
  const inn = input.inn.replace(/\s/g, '');
  const kpp = (input.kpp ?? '').replace(/\s/g, '');
  const email = normalEmail(input.email);
  if (company.length < 2) throw new CabinetError(400, 'Укажите название компании.', 'company');
  const innProblem = requisiteProblem('inn', inn);
  if (innProblem) throw new CabinetError(400, `ИНН ${inn || '(пусто)'} не подходит: ${innProblemRu(innProblem)}.`, 'inn');
  if (kpp && requisiteProblem('kpp', kpp)) throw new CabinetError(400, 'КПП должен состоять из 9 знаков.', 'kpp');
  if (name.length < 2) throw new CabinetError(400, 'Укажите имя контактного лица.', 'contactName');
  if (!EMAIL.test(email)) throw new CabinetError(400, 'Укажите адрес электронной почты.', 'email');
  const problem = passwordProblem(input.password);
  if (problem) throw new CabinetError(400, problem, 'password');
  const hash = await hashPassword(input.password);

  return db.transaction().execute(async (trx) => {
    const taken = await trx.selectFrom('cabinet_accounts').select('contact_id').where(sql`lower(email)`, '=', email).executeTakeFirst();
    if (taken) throw new CabinetError(409, `Адрес ${email} уже зарегистрирован. Войдите или восстановите пароль.`, 'email');
    const pendingSame = await trx.selectFrom('cabinet_signups').select('id').where('inn', '=', inn).where('status', '=', 'pending').executeTakeFirst();
    if (pendingSame) throw new CabinetError(409, `Заявка на регистрацию с ИНН ${inn} уже ждёт проверки менеджером.`, 'inn');
    // The sign-up's own id names the client (WEB-<id>): taken first, so the codes and the sign-up agree.
    const id = Number((await sql<{ id: string }>`SELECT nextval(pg_get_serial_sequence('cabinet_signups', 'id')) AS id`.execute(trx)).rows[0]!.id);
    const code = `WEB-${id}`;
    const client = await trx.insertInto('clients').values({ code, name: company, city_id: input.cityId, email, phone: input.phone ?? null, pending: true })
      .returning('id').executeTakeFirstOrThrow();
    const le = await trx.insertInto('legal_entities').values({ code: `${code}-LE`, client_id: client.id, name: company, inn, kpp: kpp || null })
      .returning('id').executeTakeFirstOrThrow();
    const contact = await trx.insertInto('contacts').values({ code: `${code}-P`, client_id: client.id, name, email, phone: input.phone ?? null })
      .returning('id').executeTakeFirstOrThrow();
    // flow 0 / run 0: a link made by the portal, which no flow's snapshot owns (scope: flow).
    await trx.insertInto('contact_legal_entities').values({ legal_entity_id: le.id, contact_id: contact.id, role: 'head', flow_id: 0, run_id: 0 }).execute();
    await trx.insertInto('cabinet_accounts').values({ contact_id: contact.id, email, password_hash: hash }).execute();
    const s = await trx.insertInto('cabinet_signups').values({
      id, client_id: client.id, legal_entity_id: le.id, contact_id: contact.id, company, inn, kpp: kpp || null, contact_name: name, email,
      phone: input.phone ?? null, city_id: input.cityId,
    }).returning('id').executeTakeFirstOrThrow();
    const managers = await trx.selectFrom('managers').select('email').where('email', 'is not', null).where('placeholder', '=', false).execute();
    for (const m of managers) {
      await enqueueMail(trx, {
        kind: 'signup', to: m.email!, replyTo: email, subject: `Новая заявка на регистрацию: ${company} (ИНН ${inn})`,
        text: `Новый оптовый покупатель зарегистрировался в кабинете и ждёт проверки.\n\nКомпания: ${company}\nИНН: ${inn}${kpp ? `\nКПП: ${kpp}` : ''}\nКонтакт: ${name}\nE-mail: ${email}${input.phone ? `\nТелефон: ${input.phone}` : ''}\nЗаявка № ${s.id}\n`,
      });
    }
    return { signupId: s.id, contactId: contact.id, clientId: client.id };
  });
}

function innProblemRu(p: string): string {
  if (/check digit/i.test(p)) return 'не сходится контрольная цифра';
  if (/digits/i.test(p)) return 'ИНН состоит из 10 (организация) или 12 (ИП) цифр';
  return p;
}

/**
 * A manager's decision on a sign-up: approval lets the client order; the contact is told by e-mail. From
 * the workplace (`manager`): an approved client becomes that manager's, and the decision is audited in
 * the same transaction.
 */
export async function decideSignup(db: Db, id: number, decision: { approve: boolean; by: string; reason?: string; manager?: Actor & { kind: 'manager' } }): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const s = await trx.selectFrom('cabinet_signups').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
    if (!s) throw new CabinetError(404, `Заявка № ${id} не найдена.`);
    if (s.status !== 'pending') throw new CabinetError(409, `Заявка № ${id} уже рассмотрена (${s.status === 'approved' ? 'одобрена' : 'отклонена'}).`);
    await trx.updateTable('cabinet_signups').set({
      status: decision.approve ? 'approved' : 'rejected', decided_at: sql<Date>`now()`, decided_by: decision.by, reason: decision.reason ?? null,
    }).where('id', '=', id).execute();
    if (s.client_id !== null) {
      if (decision.approve) {
        await trx.updateTable('clients').set({
          pending: false, updated_at: sql<Date>`now()`, ...(decision.manager ? { manager_id: Number(decision.manager.id) } : {}),
        }).where('id', '=', s.client_id).execute();
      }
      else await trx.updateTable('clients').set({ blocked: true, updated_at: sql<Date>`now()` }).where('id', '=', s.client_id).execute();
    }
    if (decision.manager) {
      await audit(trx, decision.manager, {
        action: decision.approve ? 'signup.approve' : 'signup.reject', clientId: s.client_id === null ? null : Number(s.client_id),
        details: { signupId: id, company: s.company, inn: s.inn, ...(decision.reason ? { reason: decision.reason } : {}) },
      });
    }
    await enqueueMail(trx, decision.approve
      ? { kind: 'signup-approved', to: s.email, subject: 'Регистрация подтверждена', text: `Здравствуйте, ${s.contact_name}!\n\nВаша компания «${s.company}» подтверждена. Теперь вам доступны ваши цены и оформление заказов.\n` }
      : { kind: 'signup-rejected', to: s.email, subject: 'Регистрация отклонена', text: `Здравствуйте, ${s.contact_name}!\n\nК сожалению, заявка компании «${s.company}» отклонена.${decision.reason ? `\nПричина: ${decision.reason}` : ''}\n` });
  });
}

export async function listSignups(db: Db, status: 'pending' | 'approved' | 'rejected' = 'pending') {
  return db.selectFrom('cabinet_signups').selectAll().where('status', '=', status).orderBy('created_at').execute();
}

/** Why account settings are refused while a manager works as the client (the page and the service say it). */
export const IMPERSONATION_ACCOUNT_REFUSAL = 'Вы работаете как клиент: пароль, адрес электронной почты и настройки уведомлений контакта может изменить только он сам. Попросите контакт сделать это в своём кабинете.';

/** Changes a signed-in contact's password (the current one is asked again); its other sessions end. */
export async function changePassword(db: Db, contactId: number, current: string, next: string, keepSessionHash: string): Promise<void> {
  // A manager working as the client acts for the contact, but the contact's login is the contact's own.
  const s = await db.selectFrom('cabinet_sessions').select('impersonation_id').where('id_hash', '=', keepSessionHash).executeTakeFirst();
  if (s?.impersonation_id != null) throw new CabinetError(403, IMPERSONATION_ACCOUNT_REFUSAL);
  const a = await db.selectFrom('cabinet_accounts').select('password_hash').where('contact_id', '=', contactId).executeTakeFirst();
  if (!a || !(await verifyPassword(current, a.password_hash))) throw new CabinetError(400, 'Текущий пароль введён неверно.', 'current');
  const problem = passwordProblem(next);
  if (problem) throw new CabinetError(400, problem, 'password');
  await db.updateTable('cabinet_accounts').set({ password_hash: await hashPassword(next), updated_at: sql<Date>`now()` }).where('contact_id', '=', contactId).execute();
  await db.deleteFrom('cabinet_sessions').where('contact_id', '=', contactId).where('id_hash', '<>', keepSessionHash).execute();
}
