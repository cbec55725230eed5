// What both ways of sending orders to SAP share: HTTP Basic credentials named by the flow's options, one
// request with a timeout, and the split of failures into those worth retrying and those that are not.
import { MagistralError, RetryableError } from '../../../src/port/index.ts';

export interface Credentials {
  userEnv?: string;
  passwordEnv?: string;
}

/** `Basic …` from the environment variables the flow names; a refusal naming the variables (never their values) when unset. */
export function basicAuth(o: Credentials, env: Readonly<Record<string, string | undefined>>, what: string): string | undefined {
  if (!o.userEnv && !o.passwordEnv) return undefined;
  const user = o.userEnv ? env[o.userEnv] : undefined;
  const password = o.passwordEnv ? env[o.passwordEnv] : undefined;
  const missing = [user === undefined ? o.userEnv ?? 'userEnv' : '', password === undefined ? o.passwordEnv ?? 'passwordEnv' : ''].filter(Boolean);
  if (missing.length) {
    throw new MagistralError('MAG_ERR_SEND_REFUSED', `${what}: environment variable${missing.length > 1 ? 's' : ''} ${missing.join(' and ')} not set (userEnv/passwordEnv of the flow)`);
  }
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: string;
}

/**
 * One request. A network error or no answer within `timeoutMs` is retryable: the request may or may not
 * have reached SAP, which is why every send is made safe to repeat (ARCKEY, lookup before create).
 */
export async function request(url: string, init: RequestInit & { timeoutMs: number; signal?: AbortSignal }, what: string): Promise<HttpAnswer> {
  const timeout = AbortSignal.timeout(init.timeoutMs);
  const signal = init.signal ? AbortSignal.any([timeout, init.signal]) : timeout;
  try {
    const res = await fetch(url, { ...init, signal });
    return { status: res.status, headers: res.headers, body: await res.text() };
  } catch (e) {
    init.signal?.throwIfAborted();
    if (timeout.aborted) throw new RetryableError(`${what}: no answer within ${init.timeoutMs} ms`);
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new RetryableError(`${what}: network error: ${cause?.code ?? cause?.message ?? (e as Error).message}`, { cause: e });
  }
}

/** A non-2xx answer as the error the queue reacts to: 408, 425, 429 and 5xx are retried, the rest is SAP's refusal. */
export function failure(a: HttpAnswer, what: string, detail: string): MagistralError {
  const text = `${what}: HTTP ${a.status}${detail ? ` — ${detail}` : ''}`;
  if (a.status === 408 || a.status === 425 || a.status === 429 || a.status >= 500) return new RetryableError(text);
  if (a.status === 401 || a.status === 403) return new MagistralError('MAG_ERR_SEND_REFUSED', `${text} (SAP refused the credentials of the flow's userEnv/passwordEnv, or the user lacks the authorization)`);
  return new MagistralError('MAG_ERR_SEND_REFUSED', text);
}

/** A short, single-line excerpt of an answer body for messages. */
export function clip(s: string, max = 300): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max)}…` : one;
}
