// HTTP side of the onec.odata connector: page URLs with 1C's Cyrillic names percent-encoded, Basic
// auth, a timeout per request, retries with backoff on network errors, 429 and 5xx, and 1C's
// `odata.error` answers turned into messages an operator can act on. Credentials never reach a message.
import { parseLossless, sleep } from '../../lib/index.ts';
import type { ODataOptions } from './options.ts';
import { PullError, type PullContext } from '../../../src/port/index.ts';

const MAX_RETRY_DELAY_MS = 60_000;
const MAX_ERROR_TEXT = 500;

/**
 * Percent-encodes a resource path as UTF-8 (Cyrillic names, spaces in a `Condition='…'`) while keeping
 * the characters OData gives meaning to (`/ ( ) = ' ,`) and any `%XX` already present.
 */
export function encodeResource(resource: string): string {
  return resource.replace(/%[0-9A-Fa-f]{2}|[^A-Za-z0-9\-._~!$&'()*+,;=:@/]/gu, (m) => (m.length === 3 && m[0] === '%' ? m : encodeURIComponent(m)));
}

/** The URL of one page: `$format=json`, the flow's query options, `$top`/`$skip`. */
export function pageUrl(o: ODataOptions, skip: number): string {
  const q: Array<[string, string]> = [['$format', 'json']];
  if (o.select) q.push(['$select', o.select.join(',')]);
  if (o.filter) q.push(['$filter', o.filter]);
  if (o.expand) q.push(['$expand', o.expand.join(',')]);
  if (o.orderBy) q.push(['$orderby', o.orderBy]);
  q.push(['$top', String(o.pageSize)], ['$skip', String(skip)]);
  return `${o.url}/${encodeResource(o.resource)}?${q.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}`;
}

/** `1C error 9: Не найден объект …` from an `odata.error` JSON body or an `<m:error>` XML one. */
export function describeODataError(body: string): string | undefined {
  try {
    const e = (JSON.parse(body) as Record<string, unknown>)['odata.error'] as { code?: unknown; message?: { value?: unknown } | string } | undefined;
    if (e && typeof e === 'object') {
      const text = typeof e.message === 'string' ? e.message : e.message?.value;
      return `1C error${e.code !== undefined && e.code !== '' ? ` ${String(e.code)}` : ''}: ${clip(String(text ?? '').trim())}`;
    }
  } catch {
    // not JSON: try the XML form below
  }
  const code = /<(?:\w+:)?code>([^<]*)<\/(?:\w+:)?code>/.exec(body)?.[1];
  const text = /<(?:\w+:)?message[^>]*>([^<]*)<\/(?:\w+:)?message>/.exec(body)?.[1];
  if (code !== undefined || text !== undefined) return `1C error ${code ?? '?'}: ${clip((text ?? '').trim())}`;
  return undefined;
}

function clip(s: string): string {
  return s.length > MAX_ERROR_TEXT ? `${s.slice(0, MAX_ERROR_TEXT)}…` : s;
}

/** What a failed attempt left: whether another attempt may help, and what to tell the operator. */
interface Failure { retry: boolean; status?: number; detail: string; auth?: boolean }

export class ODataClient {
  private readonly authorization?: string;
  private readonly authSource: string;

  constructor(private readonly o: ODataOptions, private readonly ctx: PullContext) {
    if (o.userEnv && o.passwordEnv) {
      const user = ctx.env[o.userEnv];
      const password = ctx.env[o.passwordEnv];
      const missing = [user === undefined ? o.userEnv : '', password === undefined ? o.passwordEnv : ''].filter(Boolean);
      if (missing.length) {
        throw new PullError('MAG_ERR_PULL_AUTH', `onec.odata ${o.resource}: environment variable${missing.length > 1 ? 's' : ''} ${missing.join(' and ')} not set (userEnv/passwordEnv of the flow)`);
      }
      this.authorization = `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
      this.authSource = `user '${user}' from ${o.userEnv}/${o.passwordEnv}`;
    } else {
      this.authSource = 'no credentials (set userEnv and passwordEnv)';
    }
  }

  /** Reads one page: the entries of its `value` list. Retries what may pass on a second try. */
  async page(skip: number): Promise<Array<Record<string, unknown>>> {
    const url = pageUrl(this.o, skip);
    const where = `onec.odata ${this.o.resource}${skip ? ` (page at $skip=${skip})` : ''}`;
    for (let attempt = 0; ; attempt++) {
      const r = await this.attempt(url);
      if (!('retry' in r)) return r.entries;
      if (r.auth) throw new PullError('MAG_ERR_PULL_AUTH', `${where}: HTTP ${r.status} — 1C refused the credentials (${this.authSource})${r.detail ? `; ${r.detail}` : ''}`, r.status);
      if (!r.retry || attempt >= this.o.retries) {
        const tries = attempt > 0 ? ` (after ${attempt + 1} attempts)` : '';
        const what = r.status !== undefined ? `HTTP ${r.status}${r.detail ? ` — ${r.detail}` : ''}` : r.detail;
        throw new PullError('MAG_ERR_PULL_FAILED', `${where}: ${what}${tries}`, r.status);
      }
      const delay = Math.min(this.o.retryDelayMs * 2 ** attempt, MAX_RETRY_DELAY_MS);
      this.ctx.log.warn({ flow: this.ctx.flow, resource: this.o.resource, skip, status: r.status, err: r.detail, attempt: attempt + 1, delayMs: delay }, 'onec.odata request failed; retrying');
      await sleep(delay, this.ctx.signal);
    }
  }

  private async attempt(url: string): Promise<{ entries: Array<Record<string, unknown>> } | Failure> {
    const timeout = AbortSignal.timeout(this.o.timeoutMs);
    const signal = this.ctx.signal ? AbortSignal.any([timeout, this.ctx.signal]) : timeout;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.authorization) headers.authorization = this.authorization;
    let status: number;
    let body: string;
    try {
      const res = await fetch(url, { headers, signal });
      status = res.status;
      body = await res.text();
    } catch (e) {
      this.ctx.signal?.throwIfAborted();
      if (timeout.aborted) return { retry: true, detail: `no answer within ${this.o.timeoutMs} ms` };
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      return { retry: true, detail: `network error: ${cause?.code ?? cause?.message ?? (e as Error).message}` };
    }
    if (status === 401 || status === 403) return { retry: false, auth: true, status, detail: describeODataError(body) ?? '' };
    if (status < 200 || status >= 300) {
      const detail = describeODataError(body) ?? (body.trim() ? clip(body.trim().replace(/\s+/g, ' ')) : '');
      return { retry: status === 429 || status >= 500, status, detail };
    }
    let doc: unknown;
    try {
      doc = parseLossless(body);
    } catch {
      return { retry: false, status, detail: `the answer is not JSON (starts with ${JSON.stringify(body.slice(0, 80))})` };
    }
    const value = (doc as { value?: unknown } | null)?.value;
    if (!Array.isArray(value) || value.some((v) => !v || typeof v !== 'object' || Array.isArray(v))) {
      return { retry: false, status, detail: `the answer has no "value" list of entries` };
    }
    return { entries: value as Array<Record<string, unknown>> };
  }
}
