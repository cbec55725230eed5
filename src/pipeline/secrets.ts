// Credentials senders present (a 1C login and password, an SAP endpoint's Basic credentials), looked up by
// the name of the environment variable a flow's options name: a value stored with `magistral secrets set`
// (a scrypt hash in stored_secrets, migration 0029) wins, so an administrator sets or rotates it while the
// server runs; otherwise the server's own environment. The stored value is never kept in clear or shown.
import { createHash, timingSafeEqual } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { hashPassword, verifyPassword } from '../cabinet/passwords.ts';
import { MagistralError } from '../errors/index.ts';
import { ENV_NAME_PATTERN, sameSecret } from '../../connectors/lib/index.ts';

type Db = Kysely<Database>;

/** The name of an environment variable, as flows' options name them. */
export const SECRET_NAME = new RegExp(ENV_NAME_PATTERN);

/** 'ok' or 'wrong'; 'unset': neither stored nor in the environment (nothing can match). */
export type SecretCheck = 'ok' | 'wrong' | 'unset';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * A scrypt check costs ~60 ms: an endpoint checking Basic credentials on every request (SAP IDoc) would
 * pay it per request. The last value that matched a stored hash is remembered (its sha256, with the hash
 * it matched): the same credentials again cost one indexed lookup; a rotated secret has another hash.
 */
const verified = new Map<string, { hash: string; given: Buffer }>();

export async function checkSecret(db: Db, env: Readonly<Record<string, string | undefined>>, name: string, given: string): Promise<SecretCheck> {
  const row = await db.selectFrom('stored_secrets').select('hash').where('name', '=', name).executeTakeFirst();
  if (row) {
    const d = digest(given);
    const hit = verified.get(name);
    if (hit && hit.hash === row.hash && timingSafeEqual(hit.given, d)) return 'ok';
    if (!(await verifyPassword(given, row.hash))) return 'wrong';
    verified.set(name, { hash: row.hash, given: d });
    return 'ok';
  }
  const expected = env[name];
  if (!expected) return 'unset';
  return sameSecret(given, expected) ? 'ok' : 'wrong';
}

export async function setSecret(db: Db, name: string, value: string, by: string): Promise<void> {
  if (!SECRET_NAME.test(name)) throw new MagistralError('MAG_ERR_BAD_REQUEST', `secret name ${JSON.stringify(name.slice(0, 60))}: letters, digits and _ only, as an environment variable's name`);
  if (!value) throw new MagistralError('MAG_ERR_BAD_REQUEST', `secret ${name}: the value is empty`);
  if (value.length > 1000) throw new MagistralError('MAG_ERR_BAD_REQUEST', `secret ${name}: the value is longer than 1000 characters`);
  const hash = await hashPassword(value);
  await sql`INSERT INTO stored_secrets (name, hash, set_by) VALUES (${name}, ${hash}, ${by})
    ON CONFLICT (name) DO UPDATE SET hash = excluded.hash, set_at = now(), set_by = excluded.set_by`.execute(db);
}

export async function unsetSecret(db: Db, name: string): Promise<boolean> {
  const r = await db.deleteFrom('stored_secrets').where('name', '=', name).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export interface StoredSecretInfo {
  name: string;
  setAt: Date;
  setBy: string | null;
}

export async function listSecrets(db: Db): Promise<StoredSecretInfo[]> {
  const rows = await db.selectFrom('stored_secrets').select(['name', 'set_at', 'set_by']).orderBy('name').execute();
  return rows.map((r) => ({ name: r.name, setAt: r.set_at, setBy: r.set_by }));
}

/** Where each credential a flow's options name comes from, for `flows show` (the CLI cannot see the server's environment). */
export async function credentialSources(db: Db, options: Record<string, unknown>): Promise<string[]> {
  const named = Object.entries(options).filter(([k, v]) => /Env$/.test(k) && typeof v === 'string') as Array<[string, string]>;
  if (!named.length) return [];
  const stored = new Map((await listSecrets(db)).map((s) => [s.name, s]));
  return named.map(([option, name]) => {
    const s = stored.get(name);
    return s
      ? `${option} → ${name}: stored in the database (set ${s.setAt.toISOString()}${s.setBy ? ` by ${s.setBy}` : ''}); it wins over the server's environment`
      : `${option} → ${name}: read from the server's environment (not stored; \`magistral secrets set ${name}\` sets it without a restart)`;
  });
}
