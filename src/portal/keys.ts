// API keys of portal frontends: a random 32-byte key shown once at creation; only its sha256 is
// stored, so a leaked database does not leak working keys. Keys are scoped, revocable, rate-limited.
import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { MagistralError } from '../errors/index.ts';

export const KEY_PREFIX = 'mgk_';
export const KNOWN_SCOPES = ['catalog:read', 'prices:read', 'stock:read', 'orders:read', 'orders:write', 'clients:read'] as const;
export const DEFAULT_RATE_PER_MIN = 600;

type Db = Kysely<Database>;

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export interface CreateKeyInput {
  name: string;
  scopes: string[];
  /** Code of the client the key is bound to (a client's own app); absent: a trusted frontend. */
  clientCode?: string;
  ratePerMin?: number;
}

export interface ApiKeyView {
  id: number;
  name: string;
  prefix: string;
  scopes: string[];
  client: string | null;
  ratePerMin: number;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  createdAt: Date;
}

export async function createApiKey(db: Db, input: CreateKeyInput): Promise<{ id: number; key: string; prefix: string }> {
  const unknown = input.scopes.filter((s) => !(KNOWN_SCOPES as readonly string[]).includes(s));
  if (!input.scopes.length || unknown.length) {
    throw new MagistralError('MAG_ERR_BAD_REQUEST', unknown.length
      ? `unknown scope(s) ${unknown.join(', ')}; known: ${KNOWN_SCOPES.join(', ')}`
      : `a key needs at least one scope; known: ${KNOWN_SCOPES.join(', ')}`);
  }
  if (input.ratePerMin !== undefined && (!Number.isInteger(input.ratePerMin) || input.ratePerMin <= 0)) {
    throw new MagistralError('MAG_ERR_BAD_REQUEST', `rate must be a positive whole number of requests per minute, got ${input.ratePerMin}`);
  }
  let clientId: number | null = null;
  if (input.clientCode !== undefined) {
    const c = await db.selectFrom('clients').select('id').where('code', '=', input.clientCode).where('placeholder', '=', false).orderBy('id').executeTakeFirst();
    if (!c) throw new MagistralError('MAG_ERR_NOT_FOUND', `no client with code '${input.clientCode}'`);
    clientId = c.id;
  }
  const key = KEY_PREFIX + randomBytes(32).toString('base64url');
  const prefix = key.slice(0, KEY_PREFIX.length + 6);
  const row = await db.insertInto('api_keys').values({
    name: input.name, key_hash: hashKey(key), prefix, scopes: [...new Set(input.scopes)], client_id: clientId,
    rate_per_min: input.ratePerMin ?? DEFAULT_RATE_PER_MIN,
  }).returning('id').executeTakeFirstOrThrow();
  return { id: row.id, key, prefix };
}

export async function listApiKeys(db: Db): Promise<ApiKeyView[]> {
  const rows = await db.selectFrom('api_keys').leftJoin('clients', 'clients.id', 'api_keys.client_id')
    .select(['api_keys.id', 'api_keys.name', 'api_keys.prefix', 'api_keys.scopes', 'clients.code as client', 'api_keys.rate_per_min',
      'api_keys.revoked_at', 'api_keys.last_used_at', 'api_keys.created_at'])
    .orderBy('api_keys.id').execute();
  return rows.map((r) => ({
    id: r.id, name: r.name, prefix: r.prefix, scopes: r.scopes, client: r.client, ratePerMin: r.rate_per_min,
    revokedAt: r.revoked_at, lastUsedAt: r.last_used_at, createdAt: r.created_at,
  }));
}

/** Revokes a key for good; false when there is no such key or it was revoked already. */
export async function revokeApiKey(db: Db, id: number): Promise<boolean> {
  const r = await db.updateTable('api_keys').set({ revoked_at: new Date() }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export interface ActiveKey {
  id: number;
  scopes: string[];
  clientId: number | null;
  ratePerMin: number;
}

/** The active key a presented secret belongs to, or undefined (unknown or revoked). */
export async function findActiveKey(db: Db, key: string): Promise<ActiveKey | undefined> {
  if (!key.startsWith(KEY_PREFIX)) return undefined;
  const r = await db.selectFrom('api_keys').select(['id', 'scopes', 'client_id', 'rate_per_min'])
    .where('key_hash', '=', hashKey(key)).where('revoked_at', 'is', null).executeTakeFirst();
  return r && { id: r.id, scopes: r.scopes, clientId: r.client_id, ratePerMin: r.rate_per_min };
}
