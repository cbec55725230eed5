// The reconciliation act asked of a 1C base through its HTTP service (connectors/onec/README.md describes
// the 1C side): one GET per attempt with Basic auth, the answer read as a stream up to the size limit and
// checked to be a PDF by its bytes (1C's web server answers its own HTML error pages as 200 now and then,
// whatever Content-Type it sets). What a retry may cure is a RetryableError, the rest a MagistralError
// whose code tells the core what to say to the buyer; the password never reaches a message.
import { MagistralError, RetryableError, type ActAnswer, type ActRequest, type DocumentRequestContext } from '../../../src/port/index.ts';
import { resolveOptions, type OnecHttpOptions } from './options.ts';

const MAX_ERROR_TEXT = 300;

/** The URL of one request: the requisites always, the 1C ids when the portal knows them. */
export function actUrl(o: OnecHttpOptions, req: ActRequest, system: string): string {
  const q = new URLSearchParams();
  if (req.legalEntity.inn) q.set('inn', req.legalEntity.inn);
  if (req.legalEntity.kpp) q.set('kpp', req.legalEntity.kpp);
  const counterparty = req.legalEntity.externalIds[system];
  if (counterparty) q.set('counterparty', counterparty);
  if (req.agreement) {
    // 1C finds an agreement by its reference when the portal has it, else by the code both sides share.
    const ref = req.agreement.externalIds[system];
    q.set('agreement', ref ?? req.agreement.code);
    q.set('agreementCode', req.agreement.code);
  }
  q.set('from', req.from);
  q.set('to', req.to);
  q.set('request', String(req.id));
  return `${o.url}/reconciliation-act?${q.toString()}`;
}

function clip(s: string): string {
  const t = s.trim().replace(/\s+/g, ' ');
  return t.length > MAX_ERROR_TEXT ? `${t.slice(0, MAX_ERROR_TEXT)}…` : t;
}

/** A PDF by its bytes: the `%PDF-` header within the first KiB (the format allows junk before it). */
export function looksLikePdf(b: Buffer): boolean {
  return b.subarray(0, 1024).includes('%PDF-');
}

/** Reads a body up to `max` bytes; past it the request is aborted and the answer refused. */
async function readLimited(body: ReadableStream<Uint8Array>, max: number, abort: () => void, where: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > max) {
      abort();
      throw new MagistralError('MAG_ERR_PAYLOAD_TOO_LARGE', `${where}: the act is larger than ${max} bytes (maxMegabytes); the answer was cut off`);
    }
    parts.push(Buffer.from(chunk));
  }
  return Buffer.concat(parts, size);
}

export async function requestAct(req: ActRequest, ctx: DocumentRequestContext): Promise<ActAnswer> {
  const o = resolveOptions(ctx.options);
  const where = `onec.http ${ctx.flow}: act request ${req.id}`;
  const headers: Record<string, string> = { accept: 'application/pdf' };
  if (o.user) {
    const password = o.passwordEnv ? ctx.env[o.passwordEnv] : '';
    if (password === undefined) throw new MagistralError('MAG_ERR_UNAUTHORIZED', `${where}: environment variable ${o.passwordEnv} not set (passwordEnv of the flow)`);
    headers.authorization = `Basic ${Buffer.from(`${o.user}:${password}`, 'utf8').toString('base64')}`;
  }
  const url = actUrl(o, req, ctx.system);
  const max = Math.floor(o.maxMegabytes * 1024 * 1024);
  const timeout = AbortSignal.timeout(o.timeoutSeconds * 1000);
  const own = new AbortController();
  const signal = AbortSignal.any([timeout, own.signal, ...(ctx.signal ? [ctx.signal] : [])]);
  let res: Response;
  try {
    // A redirect would carry the credentials elsewhere: 1C's own service never needs one.
    res = await fetch(url, { headers, signal, redirect: 'manual' });
  } catch (e) {
    ctx.signal?.throwIfAborted();
    if (timeout.aborted) throw new RetryableError(`${where}: no answer within ${o.timeoutSeconds} s`);
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new RetryableError(`${where}: network error: ${cause?.code ?? cause?.message ?? (e as Error).message}`, { cause: e });
  }
  const text = async (): Promise<string> => {
    try {
      return clip(new TextDecoder().decode(await readLimited(res.body ?? new ReadableStream(), 64 * 1024, () => own.abort(), where)));
    } catch {
      return '';
    }
  };
  const status = res.status;
  if (status === 202) {
    await res.body?.cancel().catch(() => {});
    throw new RetryableError(`${where}: HTTP 202 — 1C is still building the act`);
  }
  if (status === 401 || status === 403) {
    const detail = await text();
    throw new MagistralError('MAG_ERR_UNAUTHORIZED', `${where}: HTTP ${status} — 1C refused the credentials (user '${o.user ?? ''}'${o.passwordEnv ? `, password from ${o.passwordEnv}` : ''})${detail ? `; ${detail}` : ''}`);
  }
  if (status === 404) {
    const detail = await text();
    throw new MagistralError('MAG_ERR_NOT_FOUND', `${where}: HTTP 404 — 1C does not know the counterparty or agreement (INN ${req.legalEntity.inn ?? '—'}, KPP ${req.legalEntity.kpp ?? '—'})${detail ? `; ${detail}` : ''}`);
  }
  if (status === 408 || status === 429 || status >= 500) {
    const detail = await text();
    throw new RetryableError(`${where}: HTTP ${status}${detail ? ` — ${detail}` : ''}`);
  }
  if (status !== 200) {
    const detail = await text();
    throw new MagistralError('MAG_ERR_SEND_REFUSED', `${where}: HTTP ${status}${detail ? ` — ${detail}` : ''}`);
  }
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > max) {
    own.abort();
    throw new MagistralError('MAG_ERR_PAYLOAD_TOO_LARGE', `${where}: the act is ${declared} bytes, larger than ${max} (maxMegabytes); not read`);
  }
  let content: Buffer;
  try {
    content = await readLimited(res.body ?? new ReadableStream(), max, () => own.abort(), where);
  } catch (e) {
    if (e instanceof MagistralError) throw e;
    ctx.signal?.throwIfAborted();
    if (timeout.aborted) throw new RetryableError(`${where}: the act did not arrive within ${o.timeoutSeconds} s`);
    throw new RetryableError(`${where}: the answer broke off: ${(e as Error).message}`, { cause: e });
  }
  if (!looksLikePdf(content)) {
    const type = res.headers.get('content-type') ?? 'none';
    throw new MagistralError('MAG_ERR_SEND_REFUSED', `${where}: the answer is not a PDF (Content-Type ${type}, starts with ${JSON.stringify(content.subarray(0, 60).toString('latin1'))})`);
  }
  // Number and date of the act as 1C wrote them, when its service tells (headers, percent-encoded UTF-8).
  const number = decodeHeader(res.headers.get('x-act-number'));
  const date = res.headers.get('x-act-date') ?? undefined;
  return { content, contentType: 'application/pdf', number, date: date && /^\d{4}-\d{2}-\d{2}$/.test(date) ? date : undefined };
}

function decodeHeader(v: string | null): string | undefined {
  if (!v) return undefined;
  try {
    return decodeURIComponent(v).slice(0, 100) || undefined;
  } catch {
    return v.slice(0, 100);
  }
}

export { resolveOptions };
