// Console users (/console): a name, a role and a scrypt-hashed password, managed from the shell
// (`magistral users add|list|disable`). Roles rank viewer < operator < admin: a viewer reads everything,
// an operator also acts on flows and runs, an admin also manages users. Disabling a user ends their
// sessions at once. Sign-in is throttled per name and per source like the cabinet's and managers'.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { CabinetError } from '../cabinet/errors.ts';
import { hashPassword, passwordProblem, verifyPassword } from '../cabinet/passwords.ts';
import { refuseWhileThrottled } from '../cabinet/accounts.ts';
import { MagistralError } from '../errors/index.ts';

type Db = Kysely<Database>;

export const CONSOLE_ROLES = ['viewer', 'operator', 'admin'] as const;
export type ConsoleRole = (typeof CONSOLE_ROLES)[number];

/** The role's name as the pages say it. */
export const ROLE_LABEL: Readonly<Record<ConsoleRole, string>> = { viewer: 'наблюдатель', operator: 'оператор', admin: 'администратор' };

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export interface ConsoleUser {
  id: number;
  name: string;
  role: ConsoleRole;
  disabled: boolean;
  createdAt: Date;
  lastLoginAt: Date | null;
}

/** Why a user name is refused, or null. */
export function consoleNameProblem(name: string): string | null {
  return NAME.test(name.trim()) ? null : `'${name}' is not a user name: 1-64 of A-Z a-z 0-9 . _ @ -, starting with a letter or digit`;
}

export function isConsoleRole(v: unknown): v is ConsoleRole {
  return typeof v === 'string' && (CONSOLE_ROLES as readonly string[]).includes(v);
}

/**
 * Makes a console user (a disabled one of the same name is enabled again with the new role and password).
 * An active user of the name is refused, unless `replace` (the demo resets its own user each time).
 */
export async function addConsoleUser(db: Db, input: { name: string; role: string; password: string; replace?: boolean }): Promise<ConsoleUser> {
  const name = input.name.trim();
  const bad = consoleNameProblem(name);
  if (bad) throw new MagistralError('MAG_ERR_BAD_REQUEST', bad);
  if (!isConsoleRole(input.role)) throw new MagistralError('MAG_ERR_BAD_REQUEST', `'${input.role}' is not a role: give ${CONSOLE_ROLES.join(', ')}`);
  const problem = passwordProblem(input.password);
  if (problem) throw new MagistralError('MAG_ERR_BAD_REQUEST', `the password is refused: ${problem}`);
  const hash = await hashPassword(input.password);
  return db.transaction().execute(async (trx) => {
    const existing = await trx.selectFrom('console_users').select(['id', 'disabled']).where(sql`lower(name)`, '=', name.toLowerCase()).executeTakeFirst();
    if (existing && !existing.disabled && !input.replace) throw new MagistralError('MAG_ERR_CONFLICT', `console user ${name} exists: disable it first (magistral users disable ${name}) to give it a new role or password`);
    if (!existing) return toUser(await trx.insertInto('console_users').values({ name, role: input.role as ConsoleRole, password_hash: hash }).returningAll().executeTakeFirstOrThrow());
    const row = await trx.updateTable('console_users').set({ role: input.role as ConsoleRole, password_hash: hash, disabled: false, updated_at: sql<Date>`now()` })
      .where('id', '=', existing.id).returningAll().executeTakeFirstOrThrow();
    // A new password ends the sessions opened with the old one.
    await trx.deleteFrom('console_sessions').where('user_id', '=', row.id).execute();
    return toUser(row);
  });
}

function toUser(r: { id: number; name: string; role: ConsoleRole; disabled: boolean; created_at: Date; last_login_at: Date | null }): ConsoleUser {
  return { id: r.id, name: r.name, role: r.role, disabled: r.disabled, createdAt: r.created_at, lastLoginAt: r.last_login_at };
}

export async function listConsoleUsers(db: Db): Promise<ConsoleUser[]> {
  return (await db.selectFrom('console_users').selectAll().orderBy('name').execute()).map(toUser);
}

/** Disables a user and ends every session of theirs in the same transaction. */
export async function disableConsoleUser(db: Db, name: string): Promise<{ sessionsEnded: number }> {
  return db.transaction().execute(async (trx) => {
    const u = await trx.updateTable('console_users').set({ disabled: true, updated_at: sql<Date>`now()` })
      .where(sql`lower(name)`, '=', name.trim().toLowerCase()).returning('id').executeTakeFirst();
    if (!u) throw new MagistralError('MAG_ERR_NOT_FOUND', `no console user ${name}: see magistral users list`);
    const r = await trx.deleteFrom('console_sessions').where('user_id', '=', u.id).executeTakeFirst();
    return { sessionsEnded: Number(r.numDeletedRows) };
  });
}

/** Checks a name and password (401/429 in Russian for the sign-in page); every attempt is recorded. */
export async function signInConsoleUser(db: Db, input: { name: string; password: string; ip: string }): Promise<number> {
  const name = input.name.trim().toLowerCase();
  await refuseWhileThrottled(db, 'console_login_attempts', name, input.ip);
  const u = await db.selectFrom('console_users').select(['id', 'password_hash', 'disabled']).where(sql`lower(name)`, '=', name).executeTakeFirst();
  const ok = await verifyPassword(input.password, u?.password_hash ?? null) && u !== undefined && !u.disabled;
  await db.insertInto('console_login_attempts').values({ email: name.slice(0, 200), ip: input.ip, ok }).execute();
  if (!ok || !u) throw new CabinetError(401, 'Неверное имя пользователя или пароль.');
  await db.updateTable('console_users').set({ last_login_at: sql<Date>`now()` }).where('id', '=', u.id).execute();
  return u.id;
}
