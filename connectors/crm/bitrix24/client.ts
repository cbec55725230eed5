// The Bitrix24 REST client: one method call or a batch of up to 50, authenticated by an incoming
// webhook URL (the secret is part of the URL) or by an OAuth application (access token refreshed with
// the stored refresh token, which Bitrix24 rotates on every refresh: the new one is persisted before
// it is used). Requests are paced by a client-side leaky bucket on the portal's own figures, so a pull
// runs just below the limit; QUERY_LIMIT_EXCEEDED and OPERATION_TIME_LIMIT answers are waited out and
// the very same request is sent again (a page is never skipped or read twice). Other errors become a
// Bitrix24Error (a PullError) with the remote's code and text; no message ever carries a secret.
import { PullError } from '../../../src/port/index.ts';
import { batchCommand, encodeParams } from './params.ts';
import { LeakyBucket, type BucketOptions } from './pacing.ts';
import { sleep } from '../../lib/index.ts';
import type { TokenStore, StoredToken } from './token-store.ts';

export interface Bitrix24Call { result: unknown; next?: number; total?: number }

export interface Bitrix24BatchResult {
  result: Record<string, unknown>;
  errors: Record<string, { error: string; description: string }>;
  next: Record<string, number>;
  total: Record<string, number>;
}

export interface Bitrix24Client {
  call(method: string, params?: Record<string, unknown>): Promise<Bitrix24Call>;
  /** up to 50 commands; per-command errors returned, not thrown (halt=0) */
  batch(cmds: Record<string, { method: string; params?: Record<string, unknown> }>): Promise<Bitrix24BatchResult>;
  /** Requests sent (retries included) and how many were answered with a limit error; for logs and the bench. */
  readonly stats: { requests: number; limited: number; retried: number };
}

export interface Bitrix24OAuthOptions {
  /** The portal's REST endpoint, e.g. `https://example.bitrix24.ru/rest/` (the token answer's `client_endpoint` replaces it). */
  restUrl: string;
  clientId: string;
  clientSecret: string;
  /** Bitrix24's OAuth server. @defaultValue 'https://oauth.bitrix.info/oauth/token/' */
  tokenUrl?: string;
  /** Where the refresh token (and the access token while it lives) is kept and rotated. */
  store: TokenStore;
  /** The refresh token to start from when the store holds none yet (the app's first installation). */
  initialRefreshToken?: string;
}

export interface Bitrix24ClientOptions {
  /** Incoming webhook: `https://<portal>/rest/<user>/<secret>/`. Exactly one of webhookUrl and oauth. */
  webhookUrl?: string;
  oauth?: Bitrix24OAuthOptions;
  /** Client-side pacing. @defaultValue `{ rate: 2, burst: 50 }` */
  bucket?: Partial<BucketOptions> | LeakyBucket;
  /** Limit answers, network errors and 5xx are retried this many times before the call fails. @defaultValue 10 */
  retries?: number;
  /** First backoff after a limit answer or a transient failure, doubled each time (up to 30 s). @defaultValue 500 */
  retryDelayMs?: number;
  /** One request's time limit. @defaultValue 60000 */
  timeoutMs?: number;
  /** Names the client in messages (never the URL: a webhook URL holds its secret). @defaultValue 'bitrix24' */
  label?: string;
  log?: { warn(obj: object, msg: string): void; debug?(obj: object, msg: string): void };
  signal?: AbortSignal;
}

const DEFAULT_TOKEN_URL = 'https://oauth.bitrix.info/oauth/token/';
const MAX_DELAY_MS = 30_000;
const MAX_TEXT = 300;
/** Answers that a wait cures: the same request is sent again. */
const LIMIT_CODES = new Set(['QUERY_LIMIT_EXCEEDED', 'OPERATION_TIME_LIMIT']);
/** Answers that mean the credentials are refused; retrying will not help. */
const AUTH_CODES = new Set(['expired_token', 'invalid_token', 'INVALID_CREDENTIALS', 'NO_AUTH_FOUND', 'WRONG_AUTH_TYPE', 'insufficient_scope',
  'invalid_grant', 'invalid_client', 'ACCESS_DENIED', 'authorization_error', 'PAYMENT_REQUIRED', 'user_access_error']);
/** A refreshed access token is taken as expired this long before Bitrix24 says. */
const TOKEN_MARGIN_MS = 60_000;

/** A Bitrix24 answer that failed the call: the remote's own code and text, and the HTTP status. */
export class Bitrix24Error extends PullError {
  constructor(code: 'MAG_ERR_PULL_FAILED' | 'MAG_ERR_PULL_AUTH', message: string, readonly remoteCode: string | undefined, readonly remoteMessage: string | undefined, status?: number) {
    super(code, message, status);
    this.name = 'Bitrix24Error';
  }
}

interface Answer { status: number; body: Record<string, unknown> | undefined; text: string }

function clip(s: string): string {
  const t = s.trim().replace(/\s+/g, ' ');
  return t.length > MAX_TEXT ? `${t.slice(0, MAX_TEXT)}…` : t;
}

/** Normalises Bitrix24's PHP lists: an empty map arrives as `[]`, a map with numeric keys may too. */
function asMap<T>(v: unknown): Record<string, T> {
  if (!v || typeof v !== 'object') return {};
  if (Array.isArray(v)) return Object.fromEntries(v.map((x, i) => [String(i), x as T]));
  return v as Record<string, T>;
}

export function createBitrix24Client(opts: Bitrix24ClientOptions): Bitrix24Client {
  if (!!opts.webhookUrl === !!opts.oauth) throw new Error('createBitrix24Client: give exactly one of webhookUrl and oauth');
  const label = opts.label ?? 'bitrix24';
  const bucket = opts.bucket instanceof LeakyBucket ? opts.bucket : new LeakyBucket({ rate: opts.bucket?.rate ?? 2, burst: opts.bucket?.burst ?? 50 });
  const retries = opts.retries ?? 10;
  const retryDelayMs = opts.retryDelayMs ?? 500;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const stats = { requests: 0, limited: 0, retried: 0 };
  const secrets = new Set<string>();
  let webhookBase: string | undefined;
  if (opts.webhookUrl) {
    webhookBase = opts.webhookUrl.endsWith('/') ? opts.webhookUrl : `${opts.webhookUrl}/`;
    // `/rest/<user>/<secret>/`: the secret is the last path segment.
    const seg = new URL(webhookBase).pathname.split('/').filter(Boolean);
    if (seg.length) secrets.add(seg[seg.length - 1]!);
  }
  if (opts.oauth) secrets.add(opts.oauth.clientSecret);
  /** Whatever text leaves this module passes through here. */
  const redact = (s: string): string => {
    let out = s;
    for (const x of secrets) if (x && x.length >= 4) out = out.split(x).join('***');
    return out;
  };

  // ---- OAuth ----
  let token: StoredToken | undefined;
  let refreshing: Promise<StoredToken> | undefined;

  async function refresh(stale: string | undefined): Promise<StoredToken> {
    const o = opts.oauth!;
    return o.store.rotate(async (current) => {
      // Another pull (or process) refreshed since we read: its fresh access token serves us too.
      if (current?.accessToken && current.accessToken !== stale && (current.expiresAt ?? 0) > Date.now()) return undefined;
      const refreshToken = current?.refreshToken ?? o.initialRefreshToken;
      if (!refreshToken) {
        throw new Bitrix24Error('MAG_ERR_PULL_AUTH', `${label}: no OAuth refresh token stored for application ${o.clientId}; install the application and give its refresh token once (refreshTokenEnv)`, 'NO_REFRESH_TOKEN', undefined);
      }
      secrets.add(refreshToken);
      const q = encodeParams({ grant_type: 'refresh_token', client_id: o.clientId, client_secret: o.clientSecret, refresh_token: refreshToken });
      let res: Response;
      try {
        res = await fetch(`${o.tokenUrl ?? DEFAULT_TOKEN_URL}?${q}`, { headers: { accept: 'application/json' }, signal: requestSignal() });
      } catch (e) {
        opts.signal?.throwIfAborted();
        throw new Bitrix24Error('MAG_ERR_PULL_FAILED', `${label}: the OAuth server did not answer (${networkCause(e)})`, undefined, undefined);
      }
      const text = await res.text();
      const body = parseJson(text);
      if (!res.ok || typeof body?.access_token !== 'string' || typeof body.refresh_token !== 'string') {
        const code = typeof body?.error === 'string' ? body.error : undefined;
        const desc = typeof body?.error_description === 'string' ? body.error_description : undefined;
        const why = code ? `${code}${desc ? ` — ${desc}` : ''}` : clip(text) || 'no answer text';
        throw new Bitrix24Error(res.status >= 500 ? 'MAG_ERR_PULL_FAILED' : 'MAG_ERR_PULL_AUTH',
          redact(`${label}: the OAuth server refused to refresh the token of application ${o.clientId}: ${why} (HTTP ${res.status})`), code, desc, res.status);
      }
      const seconds = Number(body.expires_in);
      return {
        refreshToken: body.refresh_token,
        accessToken: body.access_token,
        expiresAt: Date.now() + (Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 3600_000) - TOKEN_MARGIN_MS,
        restUrl: typeof body.client_endpoint === 'string' && body.client_endpoint ? body.client_endpoint : current?.restUrl,
      };
    });
  }

  async function accessToken(force: boolean): Promise<StoredToken> {
    if (!force && token?.accessToken && (token.expiresAt ?? 0) > Date.now()) return token;
    if (!force && !token) {
      const stored = await opts.oauth!.store.load();
      if (stored?.accessToken && (stored.expiresAt ?? 0) > Date.now()) {
        token = stored;
        return token;
      }
    }
    // One refresh at a time: a second one would spend the refresh token the first just rotated.
    refreshing ??= refresh(token?.accessToken).finally(() => {
      refreshing = undefined;
    });
    token = await refreshing;
    secrets.add(token.accessToken!);
    secrets.add(token.refreshToken);
    return token;
  }

  function requestSignal(): AbortSignal {
    const t = AbortSignal.timeout(timeoutMs);
    return opts.signal ? AbortSignal.any([t, opts.signal]) : t;
  }

  async function send(method: string, params: Record<string, unknown>, forceToken: boolean): Promise<Answer | { network: string }> {
    let url: string;
    let body = params;
    if (webhookBase) url = `${webhookBase}${method}.json`;
    else {
      const t = await accessToken(forceToken);
      const base = t.restUrl ?? opts.oauth!.restUrl;
      url = `${base.endsWith('/') ? base : `${base}/`}${method}.json`;
      body = { ...params, auth: t.accessToken };
    }
    const settle = await bucket.take(opts.signal);
    stats.requests++;
    const signal = requestSignal();
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: encodeParams(body),
        signal,
      });
      const text = await res.text();
      return { status: res.status, body: parseJson(text), text };
    } catch (e) {
      opts.signal?.throwIfAborted();
      if (signal.aborted) return { network: `no answer within ${timeoutMs} ms` };
      return { network: `network error: ${networkCause(e)}` };
    } finally {
      settle();
    }
  }

  async function request(method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    let refreshed = false;
    let force = false;
    for (let attempt = 0; ; attempt++) {
      const a = await send(method, params, force);
      force = false;
      let retry: { why: string; code?: string; status?: number } | undefined;
      if ('network' in a) retry = { why: a.network };
      else {
        const code = typeof a.body?.error === 'string' ? a.body.error : undefined;
        const desc = typeof a.body?.error_description === 'string' ? a.body.error_description : undefined;
        if (!code && a.status >= 200 && a.status < 300 && a.body && 'result' in a.body) return a.body;
        if (code && LIMIT_CODES.has(code)) {
          stats.limited++;
          if (code === 'QUERY_LIMIT_EXCEEDED') bucket.fill();
          retry = { why: `${code}${desc ? ` — ${desc}` : ''} (HTTP ${a.status})`, code, status: a.status };
        } else if (code && opts.oauth && !refreshed && (code === 'expired_token' || code === 'invalid_token')) {
          // The access token died before its time: one fresh token, the same request again.
          refreshed = true;
          force = true;
          attempt--;
          continue;
        } else if (code && AUTH_CODES.has(code) || (!code && (a.status === 401 || a.status === 403))) {
          const how = webhookBase ? 'the incoming webhook' : `OAuth application ${opts.oauth!.clientId}`;
          throw new Bitrix24Error('MAG_ERR_PULL_AUTH', redact(`${label} ${method}: Bitrix24 refused ${how}: ${code ?? `HTTP ${a.status}`}${desc ? ` — ${desc}` : ''} (HTTP ${a.status})`), code, desc, a.status);
        } else if (a.status >= 500 || a.status === 429) {
          retry = { why: `${code ?? 'HTTP error'}${desc ? ` — ${desc}` : code ? '' : `: ${clip(a.text)}`} (HTTP ${a.status})`, code, status: a.status };
        } else {
          const what = code ? `${code}${desc ? ` — ${desc}` : ''}` : a.body ? 'the answer has no "result"' : `the answer is not JSON (${JSON.stringify(clip(a.text).slice(0, 80))})`;
          throw new Bitrix24Error('MAG_ERR_PULL_FAILED', redact(`${label} ${method}: ${what} (HTTP ${a.status})`), code, desc, a.status);
        }
      }
      if (attempt >= retries) {
        const pace = `paced at ${bucket.opts.rate} req/s, burst ${bucket.opts.burst}`;
        throw new Bitrix24Error('MAG_ERR_PULL_FAILED', redact(`${label} ${method}: ${retry.why}, still after ${attempt + 1} attempts (${pace}); nothing of this pull is kept, the next pull starts again from the kept cursor`), retry.code, undefined, retry.status);
      }
      const delay = Math.min(retryDelayMs * 2 ** attempt, MAX_DELAY_MS);
      stats.retried++;
      opts.log?.warn({ method, attempt: attempt + 1, delayMs: delay, err: redact(retry.why) }, 'bitrix24 request not served; waiting to send it again');
      await sleep(delay, opts.signal);
    }
  }

  return {
    stats,
    async call(method, params = {}) {
      const body = await request(method, params);
      const out: Bitrix24Call = { result: body.result };
      if (body.next !== undefined) out.next = Number(body.next);
      if (body.total !== undefined) out.total = Number(body.total);
      return out;
    },
    async batch(cmds) {
      const names = Object.keys(cmds);
      if (names.length > 50) throw new Error(`${label}: a batch holds at most 50 commands, not ${names.length}`);
      if (!names.length) return { result: {}, errors: {}, next: {}, total: {} };
      const cmd: Record<string, string> = {};
      for (const n of names) cmd[n] = batchCommand(cmds[n]!.method, cmds[n]!.params);
      const body = await request('batch', { halt: 0, cmd });
      const r = (body.result ?? {}) as Record<string, unknown>;
      const errors: Bitrix24BatchResult['errors'] = {};
      for (const [k, e] of Object.entries(asMap<unknown>(r.result_error))) {
        const x = (e ?? {}) as { error?: unknown; error_description?: unknown };
        errors[k] = { error: String(x.error ?? 'ERROR'), description: String(x.error_description ?? '') };
      }
      const num = (v: unknown): Record<string, number> => Object.fromEntries(Object.entries(asMap<unknown>(v)).map(([k, x]) => [k, Number(x)]));
      return { result: asMap<unknown>(r.result), errors, next: num(r.result_next), total: num(r.result_total) };
    },
  };
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function networkCause(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e as Error).message;
}
