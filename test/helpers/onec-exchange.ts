// 1C's side of the catalog exchange ("exchange with site", CommerceML) for tests against a listening
// server: one client with its session cookie and sessid, sending checkauth → init → file → import as 1C
// does. 1C reads the body, never the status: every answer is checked to be 200 in windows-1251.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import iconv from 'iconv-lite';
import { expect } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { checkFlow } from '../../src/pipeline/flows.ts';
import { REPO_DIR, type Flow } from '../../src/schemas/index.ts';
import { registry } from './registry.ts';

/** The exchange's credentials and the file_limit its init answers. */
export interface OneCSite { user: string; password: string; fileLimit: number }

export class OneCExchange {
  cookie = '';
  sessid = '';
  constructor(readonly url: string, readonly site: OneCSite) {}

  /** One request; `cookie: false` leaves the session's cookie out, `sessid` adds it to the query. */
  async raw(params: Record<string, string>, init: { body?: Buffer | ReadableStream<Uint8Array>; auth?: string; cookie?: boolean; sessid?: boolean } = {}): Promise<string[]> {
    const q = new URLSearchParams(params);
    if (init.sessid && this.sessid) q.set('sessid', this.sessid);
    const headers: Record<string, string> = {};
    if (init.auth) headers.authorization = init.auth;
    if (init.cookie !== false && this.cookie) headers.cookie = this.cookie;
    const res = await fetch(`${this.url}?${q}`, {
      method: init.body ? 'POST' : 'GET', headers, body: init.body, ...(init.body instanceof ReadableStream ? { duplex: 'half' } : {}),
    } as RequestInit);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=windows-1251');
    return iconv.decode(Buffer.from(await res.arrayBuffer()), 'win1251').split('\n');
  }

  /** checkauth with Basic credentials (the client's own by default); a success keeps the session's cookie and sessid. */
  async checkauth(user = this.site.user, password = this.site.password): Promise<string[]> {
    const r = await this.raw({ type: 'catalog', mode: 'checkauth' }, { auth: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
    if (r[0] === 'success') {
      this.cookie = `${r[1]}=${r[2]}`;
      this.sessid = r[3]!.replace(/^sessid=/, '');
    }
    return r;
  }

  async init(): Promise<string[]> {
    return this.raw({ type: 'catalog', mode: 'init' });
  }

  /** checkauth and init, both answered as 1C expects them (zip, the exchange's file limit). */
  async start(): Promise<this> {
    const auth = await this.checkauth();
    expect(auth[0], auth.join(' | ')).toBe('success');
    expect(await this.init()).toEqual(['zip=yes', `file_limit=${this.site.fileLimit}`]);
    return this;
  }

  /** One POST of a file's bytes (1C sends a file in several, of at most file_limit bytes each). */
  async chunk(name: string, data: Buffer): Promise<void> {
    const r = await this.raw({ type: 'catalog', mode: 'file', filename: name }, { body: data });
    expect(r[0], r.join(' | ')).toBe('success');
  }

  /** Sends a file as 1C does: POSTs of at most `limit` bytes (the file limit) with the same name. */
  async file(name: string, data: Buffer, limit = this.site.fileLimit): Promise<void> {
    for (const piece of pieces(data, limit)) await this.chunk(name, piece);
  }

  /** Repeats import until the answer is not `progress`, as 1C does; returns the last answer. */
  async importUntilDone(name: string, maxRequests = 50): Promise<string[]> {
    let last: string[] = [];
    for (let i = 0; i < maxRequests; i++) {
      last = await this.raw({ type: 'catalog', mode: 'import', filename: name });
      if (last[0] !== 'progress') return last;
    }
    throw new Error(`import of ${name} still in progress after ${maxRequests} requests: ${last.join(' | ')}`);
  }
}

/** A file cut as 1C cuts it for mode=file: pieces of at most `limit` bytes. */
export function pieces(data: Buffer, limit: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; at += limit) out.push(data.subarray(at, at + limit));
  return out;
}

/**
 * The example flows of ops/flows/onec.yaml on exchange `exchange`, names ending in `suffix`, with a test
 * `fileLimit` and extra source options; `noGuard` drops their guards. Each is checked as `flows apply` would.
 */
export async function exampleOnecFlows(exchange: string, suffix: string, o: { fileLimit: number; options?: Record<string, unknown>; noGuard?: boolean }): Promise<Flow[]> {
  const docs = parseAllDocuments(readFileSync(path.join(REPO_DIR, 'ops/flows/onec.yaml'), 'utf8'));
  const out: Flow[] = [];
  for (const d of Array.isArray(docs) ? docs : [docs]) {
    const f = d.toJS() as Flow;
    f.name = `${f.name}${suffix}`;
    if (o.noGuard) delete f.guard;
    f.source.options = { ...f.source.options, exchange, fileLimit: o.fileLimit, ...o.options };
    const r = await checkFlow(f, registry);
    expect(r.problems).toEqual([]);
    out.push(r.flow!);
  }
  return out;
}
