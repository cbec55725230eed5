// Managers' sign-in to the workplace (/manager): an account per manager (the manager row itself comes
// from the CRM or a CSV flow), a password set through an e-mailed link or by an operator, sessions in
// their own cookie (shorter than a buyer's: a manager's session opens many clients), sign-in throttled
// like the cabinet's. `assertOwnClient` is the one check every manager action on a client goes through.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { CabinetError } from '../cabinet/errors.ts';
import { hashPassword, passwordProblem, verifyPassword } from '../cabinet/passwords.ts';
import { newSecret, sha256 } from '../cabinet/tokens.ts';
import { normalEmail, refuseWhileThrottled } from '../cabinet/accounts.ts';
import { audit, type Actor } from './audit.ts';
import { notify } from './notify.ts';
import { createSessionRow, deleteSessionRow, freshSql, purgeSessionRows, touchSessionRow, type SessionTable } from '../security/session-rows.ts';

type Db = Kysely<Database>;

export const MANAGER_COOKIE = 'mg_mgr';
/** A manager's session unused for this long ends (a workplace left open overnight does not stay signed in). */
export const MANAGER_SESSION_IDLE_HOURS = 12;
const INVITE_DAYS = 7;
const RESET_HOURS = 2;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export interface ManagerSession {
  idHash: string;
  csrf: string;
  manager: { id: number; code: string; name: string; email: string };
  ip: string | null;
  /** The expiry was pushed forward less than ten minutes ago. */
  fresh: boolean;
}

/** The actor of the audit log for a manager's request. */
export function managerActor(s: Pick<ManagerSession, 'manager'>, request?: { ip?: string; headers?: Record<string, unknown> }): Actor {
  return {
    kind: 'manager', id: s.manager.id, name: s.manager.name, ip: request?.ip ?? null,
    userAgent: typeof request?.headers?.['user-agent'] === 'string' ? request.headers['user-agent'] : null,
  };
}

const SESSIONS: SessionTable = { table: 'manager_sessions', owner: 'manager_id', idleHours: MANAGER_SESSION_IDLE_HOURS };

export const createManagerSession = (db: Db, managerId: number, from: { ip?: string | null; userAgent?: string | null }): Promise<string> =>
  createSessionRow(db, SESSIONS, managerId, from);

/** The live session of a cookie value: unknown, expired, a disabled account or a manager no flow keeps any more → undefined. */
export async function loadManagerSession(db: Db, id: string | undefined): Promise<ManagerSession | undefined> {
  if (!id || id.length > 100) return undefined;
  const r = await sql<{ id_hash: string; csrf: string; ip: string | null; fresh: boolean; manager_id: number; code: string; name: string; email: string }>`
    SELECT s.id_hash, s.csrf, s.ip, ${freshSql(SESSIONS)} AS fresh,
      m.id AS manager_id, m.code, m.name, a.email
    FROM manager_sessions s JOIN manager_accounts a ON a.manager_id = s.manager_id JOIN managers m ON m.id = s.manager_id
    WHERE s.id_hash = ${sha256(id)} AND s.expires_at > now() AND NOT a.disabled AND NOT m.placeholder AND m.active`.execute(db);
  const row = r.rows[0];
  if (!row) return undefined;
  return { idHash: row.id_hash, csrf: row.csrf, ip: row.ip, fresh: row.fresh, manager: { id: row.manager_id, code: row.code, name: row.name, email: row.email } };
}

export const touchManagerSession = (db: Db, s: ManagerSession): Promise<void> => touchSessionRow(db, SESSIONS, s);

export const deleteManagerSession = (db: Db, idHash: string): Promise<void> => deleteSessionRow(db, SESSIONS, idHash);

/** Removes expired manager sessions and old sign-in attempts (the workers, with the cabinet's). */
export const purgeManagerSessions = (db: Db): Promise<number> => purgeSessionRows(db, SESSIONS, 'manager_login_attempts');

async function managerByCode(db: Db, code: string): Promise<{ id: number; name: string; email: string | null; active: boolean }> {
  const m = await db.selectFrom('managers').select(['id', 'name', 'email', 'active']).where('code', '=', code).where('placeholder', '=', false).orderBy('id').executeTakeFirst();
  if (!m) throw new CabinetError(404, `Менеджер с кодом «${code}» не найден (менеджеры приходят из CRM или файла менеджеров).`);
  return m;
}

/** A manager the CRM or the managers file marks as gone gets no login (their sessions already stop). */
function assertActive(code: string, m: { name: string; active: boolean }): void {
  if (!m.active) throw new CabinetError(409, `Менеджер «${code}» (${m.name}) отмечен в CRM или файле менеджеров как неработающий: доступ не выдаётся.`);
}

function loginEmail(code: string, given: string | undefined, own: string | null): string {
  const email = normalEmail(given ?? own ?? '');
  if (!EMAIL.test(email)) throw new CabinetError(400, `У менеджера «${code}» нет адреса электронной почты: укажите его (--email).`);
  return email;
}

async function upsertAccount(db: Db, managerId: number, email: string, hash: string | null): Promise<void> {
  const taken = await db.selectFrom('manager_accounts').select('manager_id').where(sql`lower(email)`, '=', email).where('manager_id', '<>', managerId).executeTakeFirst();
  if (taken) throw new CabinetError(409, `Адрес ${email} уже занят другим менеджером.`);
  await db.insertInto('manager_accounts').values({ manager_id: managerId, email, password_hash: hash })
    .onConflict((oc) => oc.column('manager_id').doUpdateSet({
      email, ...(hash !== null ? { password_hash: hash } : {}), disabled: false, updated_at: sql<Date>`now()`,
    })).execute();
}

/** Sets a manager's password directly (operators' CLI, the demo); makes the account when there is none. */
export async function setManagerPassword(db: Db, code: string, password: string, email?: string): Promise<number> {
  const problem = passwordProblem(password);
  if (problem) throw new CabinetError(400, problem);
  const m = await managerByCode(db, code);
  assertActive(code, m);
  const mail = loginEmail(code, email, m.email);
  const hash = await hashPassword(password);
  await db.transaction().execute(async (trx) => {
    await upsertAccount(trx, m.id, mail, hash);
    await trx.deleteFrom('manager_sessions').where('manager_id', '=', m.id).execute();
  });
  return m.id;
}

/** Invites a manager: a link to set the first password, e-mailed through the outbox (and returned for the operator). */
export async function inviteManager(db: Db, input: { code: string; email?: string; publicUrl: string }): Promise<{ managerId: number; email: string; url: string }> {
  const m = await managerByCode(db, input.code);
  assertActive(input.code, m);
  const email = loginEmail(input.code, input.email, m.email);
  return db.transaction().execute(async (trx) => {
    await upsertAccount(trx, m.id, email, null);
    const token = newSecret();
    await sql`INSERT INTO manager_tokens (token_hash, manager_id, kind, expires_at)
      VALUES (${sha256(token)}, ${m.id}, 'invite', now() + make_interval(days => ${INVITE_DAYS}))`.execute(trx);
    const url = `${input.publicUrl.replace(/\/$/, '')}/manager/password/${token}`;
    await notify(trx, {
      kind: 'manager-invite', to: { email },
      subject: 'Доступ к рабочему месту менеджера',
      text: `Здравствуйте, ${m.name}!\n\nДля вас открыт доступ к рабочему месту менеджера B2B-портала. Чтобы задать пароль, откройте ссылку (она действует ${INVITE_DAYS} дней):\n${url}\n\nВход: ${email}\n`,
    });
    return { managerId: m.id, email, url };
  });
}

/** Asks for a reset link; answers the same whether or not the address is a manager's. */
export async function requestManagerReset(db: Db, email: string, publicUrl: string): Promise<void> {
  const e = normalEmail(email);
  if (!EMAIL.test(e)) throw new CabinetError(400, 'Введите адрес электронной почты.');
  await db.transaction().execute(async (trx) => {
    const a = await trx.selectFrom('manager_accounts').innerJoin('managers', 'managers.id', 'manager_accounts.manager_id')
      .select(['manager_accounts.manager_id', 'manager_accounts.email', 'managers.name'])
      .where(sql`lower(manager_accounts.email)`, '=', e).where('manager_accounts.disabled', '=', false).executeTakeFirst();
    if (!a) return;
    const token = newSecret();
    await sql`INSERT INTO manager_tokens (token_hash, manager_id, kind, expires_at)
      VALUES (${sha256(token)}, ${a.manager_id}, 'reset', now() + make_interval(hours => ${RESET_HOURS}))`.execute(trx);
    await notify(trx, {
      kind: 'manager-reset', to: { email: a.email }, subject: 'Восстановление пароля менеджера',
      text: `Здравствуйте, ${a.name}!\n\nЧтобы задать новый пароль, откройте ссылку (она действует ${RESET_HOURS} часа):\n${publicUrl.replace(/\/$/, '')}/manager/password/${token}\n`,
    });
  });
}

export async function managerTokenInfo(db: Db, token: string): Promise<{ managerId: number; email: string; name: string; kind: 'invite' | 'reset' } | undefined> {
  if (!token || token.length > 100) return undefined;
  const r = await sql<{ manager_id: number; email: string; name: string; kind: 'invite' | 'reset' }>`
    SELECT t.manager_id, a.email, m.name, t.kind FROM manager_tokens t
    JOIN manager_accounts a ON a.manager_id = t.manager_id JOIN managers m ON m.id = t.manager_id
    WHERE t.token_hash = ${sha256(token)} AND t.used_at IS NULL AND t.expires_at > now() AND NOT a.disabled`.execute(db);
  const row = r.rows[0];
  return row && { managerId: row.manager_id, email: row.email, name: row.name, kind: row.kind };
}

/** Sets the password through a link (used once; the manager's other sessions end). */
export async function setManagerPasswordWithToken(db: Db, token: string, password: string): Promise<number> {
  const problem = passwordProblem(password);
  if (problem) throw new CabinetError(400, problem, 'password');
  const hash = await hashPassword(password);
  return db.transaction().execute(async (trx) => {
    const r = await sql<{ manager_id: number }>`
      UPDATE manager_tokens SET used_at = now() WHERE token_hash = ${sha256(token)} AND used_at IS NULL AND expires_at > now()
      RETURNING manager_id`.execute(trx);
    const row = r.rows[0];
    if (!row) throw new CabinetError(410, 'Ссылка устарела или уже использована. Запросите новую.');
    await trx.updateTable('manager_accounts').set({ password_hash: hash, updated_at: sql<Date>`now()` }).where('manager_id', '=', row.manager_id).execute();
    await trx.updateTable('manager_tokens').set({ used_at: sql<Date>`now()` }).where('manager_id', '=', row.manager_id).where('used_at', 'is', null).execute();
    await trx.deleteFrom('manager_sessions').where('manager_id', '=', row.manager_id).execute();
    return row.manager_id;
  });
}

/** Checks a manager's e-mail and password; throttled per address and per source like the cabinet's sign-in. */
export async function signInManager(db: Db, input: { email: string; password: string; ip: string }): Promise<number> {
  const email = normalEmail(input.email);
  await refuseWhileThrottled(db, 'manager_login_attempts', email, input.ip);
  const a = await db.selectFrom('manager_accounts').innerJoin('managers', 'managers.id', 'manager_accounts.manager_id')
    .select(['manager_accounts.manager_id', 'manager_accounts.password_hash', 'manager_accounts.disabled', 'managers.placeholder', 'managers.active'])
    .where(sql`lower(manager_accounts.email)`, '=', email).executeTakeFirst();
  const ok = await verifyPassword(input.password, a?.password_hash ?? null) && a !== undefined && !a.disabled && !a.placeholder && a.active;
  await db.insertInto('manager_login_attempts').values({ email, ip: input.ip, ok }).execute();
  if (!ok || !a) throw new CabinetError(401, 'Неверный адрес электронной почты или пароль.');
  await db.updateTable('manager_accounts').set({ last_login_at: sql<Date>`now()` }).where('manager_id', '=', a.manager_id).execute();
  return a.manager_id;
}

/** Disables a manager's account (their sessions end at once). */
export async function disableManager(db: Db, code: string): Promise<void> {
  const m = await managerByCode(db, code);
  await db.transaction().execute(async (trx) => {
    const r = await trx.updateTable('manager_accounts').set({ disabled: true, updated_at: sql<Date>`now()` }).where('manager_id', '=', m.id).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) throw new CabinetError(404, `У менеджера «${code}» нет учётной записи.`);
    await trx.deleteFrom('manager_sessions').where('manager_id', '=', m.id).execute();
  });
}

/**
 * The client is this manager's own (clients.manager_id): otherwise 404 for a client that does not exist
 * and 403 for another manager's client, the refusal written to the audit log with what was tried.
 */
export async function assertOwnClient(db: Db, actor: Actor & { kind: 'manager' }, clientId: number, action: string): Promise<{ id: number; code: string; name: string }> {
  const c = Number.isSafeInteger(clientId) && clientId > 0
    ? await db.selectFrom('clients').select(['id', 'code', 'name', 'manager_id', 'placeholder']).where('id', '=', clientId).executeTakeFirst()
    : undefined;
  if (!c || c.placeholder) throw new CabinetError(404, 'Клиент не найден.');
  if (c.manager_id === null || String(c.manager_id) !== String(actor.id)) {
    await audit(db, actor, { action, outcome: 'denied', clientId: c.id, details: { reason: 'not the manager of this client' } });
    throw new CabinetError(403, `Клиент «${c.name}» закреплён за другим менеджером: действие не выполнено.`);
  }
  return { id: Number(c.id), code: c.code, name: c.name };
}
