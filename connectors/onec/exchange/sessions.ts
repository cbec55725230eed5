// Sessions of the 1C exchange: checkauth (HTTP Basic against the flow's credentials, constant time)
// hands out a cookie and a sessid; later requests bring either. Stored in PostgreSQL as hashes, with
// a sliding expiry; an expired session that never closed abandons its snapshot group (removes nothing).
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { sql, type Selectable } from 'kysely';
import type { ConnectorPort, StoredFlow } from '../../../src/port/index.ts';
import { onecTables, type OnecSessionsTable } from './tables.ts';
import { exchangeOf, type ExchangeSettings } from './options.ts';

export const COOKIE_NAME = 'magistral_onec';
export const CONNECTOR_KIND = 'onec.commerceml';

export type ExchangeSession = Selectable<OnecSessionsTable>;

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** The snapshot group of a session's runs. */
export const sessionGroup = (id: string): string => `onec:${id}`;

/** Flows serving an exchange: connector onec.commerceml with `options.exchange` = name, by name. */
export async function exchangeFlows(port: ConnectorPort, exchange: string): Promise<StoredFlow[]> {
  return (await port.flows(CONNECTOR_KIND)).filter((f) => exchangeOf(f.definition) === exchange);
}

export type AuthResult = { ok: true; user: string } | { ok: false; reason: string };

/**
 * Checks `Authorization: Basic …` against the credentials the exchange names (stored with `magistral
 * secrets set`, else the server's environment). Both parts are always checked (no early exit on the
 * login), and a credential set nowhere never matches anything.
 */
export async function checkBasic(header: string | undefined, s: ExchangeSettings, secrets: ConnectorPort['secrets']): Promise<AuthResult> {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return { ok: false, reason: 'no HTTP Basic credentials' };
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return { ok: false, reason: 'malformed HTTP Basic credentials' };
  const user = decoded.slice(0, i);
  const password = decoded.slice(i + 1);
  const [userOk, passwordOk] = await Promise.all([secrets.check(s.userEnv, user), secrets.check(s.passwordEnv, password)]);
  if (userOk === 'unset' || passwordOk === 'unset') {
    return { ok: false, reason: `${userOk === 'unset' ? s.userEnv : s.passwordEnv} is set neither in the server's environment nor with \`magistral secrets set\`: the exchange refuses every login` };
  }
  return userOk === 'ok' && passwordOk === 'ok' ? { ok: true, user } : { ok: false, reason: `wrong login or password for user '${user.slice(0, 64)}'` };
}

export interface NewSession {
  session: ExchangeSession;
  token: string;
  sessid: string;
}

export async function createSession(port: ConnectorPort, s: ExchangeSettings, user: string, remoteAddr: string | undefined): Promise<NewSession> {
  const id = randomBytes(8).toString('hex');
  const token = randomBytes(32).toString('base64url');
  const sessid = randomBytes(16).toString('hex');
  const day = new Date().toISOString().slice(0, 10);
  // Under the inbox: the received files are the payloads of the session's runs (replays read them).
  const dir = path.resolve(port.inboxDir, 'onec', s.exchange, day, id);
  const session = await onecTables(port).insertInto('onec_sessions').values({
    id, exchange: s.exchange, token_hash: sha256(token), sessid_hash: sha256(sessid), user_name: user, remote_addr: remoteAddr ?? null,
    dir, zip: s.zip, file_limit: s.fileLimit, expires_at: new Date(Date.now() + s.sessionTtlSeconds * 1000),
  }).returningAll().executeTakeFirstOrThrow();
  return { session, token, sessid };
}

function cookieValue(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === COOKIE_NAME) return part.slice(i + 1).trim();
  }
  return undefined;
}

export type SessionLookup = { session: ExchangeSession } | { reason: string };

/** The live session a request belongs to (by cookie, else `sessid`), its expiry pushed forward. */
export async function findSession(port: ConnectorPort, exchange: string, s: ExchangeSettings, cookieHeader: string | undefined, sessid: string | undefined): Promise<SessionLookup> {
  const token = cookieValue(cookieHeader);
  if (!token && !sessid) return { reason: 'no session cookie or sessid' };
  let q = onecTables(port).selectFrom('onec_sessions').selectAll().where('exchange', '=', exchange);
  q = token ? q.where('token_hash', '=', sha256(token)) : q.where('sessid_hash', '=', sha256(sessid!));
  const session = await q.executeTakeFirst();
  if (!session) return { reason: 'unknown session' };
  if (session.abandoned_at || session.expires_at.getTime() < Date.now()) return { reason: `session ${session.id} expired` };
  const updated = await onecTables(port).updateTable('onec_sessions')
    .set({ last_seen_at: new Date(), expires_at: new Date(Date.now() + s.sessionTtlSeconds * 1000) })
    .where('id', '=', session.id).returningAll().executeTakeFirstOrThrow();
  return { session: updated };
}

/** Ends sessions past their expiry that were never closed: their snapshot groups remove nothing. */
export async function expireSessions(port: ConnectorPort): Promise<number> {
  const stale = await onecTables(port).updateTable('onec_sessions').set({ abandoned_at: new Date() })
    .where('expires_at', '<', new Date()).where('closed_at', 'is', null).where('abandoned_at', 'is', null)
    .returning('id').execute();
  for (const s of stale) {
    // Reads that followed a file still arriving (imports.ts followUpload): given up, their runs fail.
    const arriving = await onecTables(port).selectFrom('onec_files').select(['id', 'generation', 'name']).where('session_id', '=', s.id).where('state', '=', 'receiving').execute();
    for (const f of arriving) await port.growth.abandon([`onec:${s.id}:${f.id}:${f.generation}`], `${f.name}: the exchange session expired before the file was imported; nothing of it was loaded`);
    await port.snapshots.abandon(sessionGroup(s.id));
  }
  if (stale.length) port.log.info({ sessions: stale.map((s) => s.id) }, '1C exchange sessions expired unclosed; nothing removed');
  return stale.length;
}

/** Merges `patch` into the session's type-specific state (`data`). */
export async function saveSessionData(port: ConnectorPort, id: string, patch: Record<string, unknown>): Promise<void> {
  await onecTables(port).updateTable('onec_sessions').set({ data: sql`data || ${JSON.stringify(patch)}::jsonb` as unknown as string }).where('id', '=', id).execute();
}
