// What each console role may do, and the console's entries in the audit log. Rights are checked here (the
// plugin's route guard and any service call this), never in a template: a template only hides a button.
// Every change made in the console is written with who, their role, what, the object and the outcome,
// refusals included (a viewer who tries to apply a flow → 403 and an entry 'denied').
import type { Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { audit, type Actor } from '../backoffice/audit.ts';
import { CabinetError } from '../cabinet/errors.ts';
import { ROLE_LABEL, type ConsoleRole } from './users.ts';

type Db = Kysely<Database>;

const RANK: Readonly<Record<ConsoleRole, number>> = { viewer: 0, operator: 1, admin: 2 };

export function roleAllows(role: ConsoleRole, needed: ConsoleRole): boolean {
  return RANK[role] >= RANK[needed];
}

/** Who acts in the console: the user, their role, and the request's address and browser. */
export interface ConsoleActor extends Actor {
  kind: 'console';
  id: number;
  name: string;
  role: ConsoleRole;
}

export function consoleActor(user: { id: number; name: string; role: ConsoleRole }, request?: { ip?: string; headers?: Record<string, unknown> }): ConsoleActor {
  return {
    kind: 'console', id: user.id, name: user.name, role: user.role, ip: request?.ip ?? null,
    userAgent: typeof request?.headers?.['user-agent'] === 'string' ? request.headers['user-agent'] : null,
  };
}

export interface ConsoleAuditEntry {
  /** Dotted verb without the prefix: 'flow.apply', 'flow.pause', 'run.replay' … (written as 'console.flow.apply'). */
  action: string;
  /** What was acted on: { flow: 'x' }, { run: 12 } … */
  object?: Record<string, unknown>;
  outcome?: 'ok' | 'denied' | 'failed';
  details?: Record<string, unknown>;
}

export async function auditConsole(db: Db, actor: ConsoleActor, e: ConsoleAuditEntry): Promise<void> {
  await audit(db, actor, { action: `console.${e.action}`, outcome: e.outcome ?? 'ok', details: { role: actor.role, object: e.object ?? {}, ...e.details } });
}

/** Refuses (403, audited as 'denied') an actor whose role is below `needed`. */
export async function assertRole(db: Db, actor: ConsoleActor, needed: ConsoleRole, e: Pick<ConsoleAuditEntry, 'action' | 'object'>): Promise<void> {
  if (roleAllows(actor.role, needed)) return;
  await auditConsole(db, actor, { ...e, outcome: 'denied', details: { reason: `needs role ${needed}` } });
  throw new CabinetError(403, `Недостаточно прав: это действие доступно роли «${ROLE_LABEL[needed]}» и выше, ваша роль — «${ROLE_LABEL[actor.role]}». Попытка записана в журнал.`);
}
