// The demo's published secrets (README, `npm start`): usable on the machine that runs the demo, never
// from the network. `magistral start` refuses to listen on a non-loopback address while any is in use
// (issue 17: with the default 0.0.0.0, `POST /admin/api/keys` with the README's token answered 201
// from another address).
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.ts';
import { verifyPassword } from '../cabinet/passwords.ts';

/** Environment defaults ops/start.sh exports (demo mode only); the variable each is read from. */
export const DEMO_ENV_SECRETS: Readonly<Record<string, string>> = {
  MAGISTRAL_ADMIN_TOKEN: 'magistral-demo-admin-token',
  ONEC_PASSWORD: 'magistral-demo-1c',
  SAP_IDOC_PASSWORD: 'magistral-demo-sap',
};

/** The cabinet and workplace passwords `magistral demo` sets unless MAGISTRAL_DEMO_*_PASSWORD is given. */
export const DEMO_CABINET_PASSWORD = 'demo-cabinet-1';
export const DEMO_MANAGER_PASSWORD = 'demo-manager-1';
/** The console user `magistral demo` makes (role admin) and its password unless MAGISTRAL_DEMO_CONSOLE_PASSWORD is given. */
export const DEMO_CONSOLE_USER = 'demo';
export const DEMO_CONSOLE_PASSWORD = 'demo-console-1';
/** The demo contacts and managers that get them. */
export const DEMO_CABINET_CONTACTS = ['P1', 'P2', 'P3'] as const;
export const DEMO_MANAGERS = ['M1', 'M2'] as const;

/** 127.0.0.0/8, ::1 and localhost: addresses no other machine reaches. */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * What of the demo's secrets is in use, each as the thing to change: environment variables holding a
 * demo value (under any name: a flow's `passwordEnv` may name another variable), and demo accounts
 * whose password is still the published one (checked by hash: 6 scrypt checks, ~0.1 s).
 */
export async function demoSecretsInUse(env: NodeJS.ProcessEnv, db: Kysely<Database>): Promise<string[]> {
  const published = new Set(Object.values(DEMO_ENV_SECRETS));
  const found = Object.keys(env).filter((name) => published.has(env[name] ?? '')).sort();
  const contacts = await db.selectFrom('cabinet_accounts as a').innerJoin('contacts as c', 'c.id', 'a.contact_id')
    .select(['c.code', 'a.password_hash']).where('c.code', 'in', [...DEMO_CABINET_CONTACTS]).where('a.disabled', '=', false).execute();
  for (const c of contacts) {
    if (await verifyPassword(DEMO_CABINET_PASSWORD, c.password_hash)) found.push(`the cabinet password of contact ${c.code} (magistral cabinet password ${c.code} --password …; MAGISTRAL_DEMO_CABINET_PASSWORD for the demo)`);
  }
  const managers = await db.selectFrom('manager_accounts as a').innerJoin('managers as m', 'm.id', 'a.manager_id')
    .select(['m.code', 'a.password_hash']).where('m.code', 'in', [...DEMO_MANAGERS]).where('a.disabled', '=', false).execute();
  for (const m of managers) {
    if (await verifyPassword(DEMO_MANAGER_PASSWORD, m.password_hash)) found.push(`the workplace password of manager ${m.code} (magistral managers password ${m.code} --password …; MAGISTRAL_DEMO_MANAGER_PASSWORD for the demo)`);
  }
  const consoleUser = await db.selectFrom('console_users').select('password_hash').where('name', '=', DEMO_CONSOLE_USER).where('disabled', '=', false).executeTakeFirst();
  if (consoleUser && await verifyPassword(DEMO_CONSOLE_PASSWORD, consoleUser.password_hash)) {
    found.push(`the console password of user ${DEMO_CONSOLE_USER} (magistral users disable ${DEMO_CONSOLE_USER}, then add your own; MAGISTRAL_DEMO_CONSOLE_PASSWORD for the demo)`);
  }
  return found;
}

/** The one line `magistral start` stops with, or undefined when it may listen on `host`. */
export async function refuseDemoSecretsOnNetwork(host: string, env: NodeJS.ProcessEnv, db: Kysely<Database>): Promise<string | undefined> {
  if (isLoopback(host)) return undefined;
  const inUse = await demoSecretsInUse(env, db);
  if (inUse.length === 0) return undefined;
  return `magistral: refusing to listen on ${host} while demo secrets are in use: set your own ${inUse.join(', ')}; or unset HOST to serve 127.0.0.1 only`;
}
