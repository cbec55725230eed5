// One pull of a Bitrix24 entity into an NDJSON payload. Lists are read in pages of 50 (`start`), 50
// pages to a `batch` request (2,500 entities per request the portal's bucket counts), ordered by ID so
// offsets stay put while entities change during the pull; rounds of batches after the first go
// `concurrency` at a time and are written in order.
//
// Incremental pulls filter `>=DATE_MODIFY` from the cursor: entities stamped with the cursor's very
// second are read again (changes made within that second after the last read are not lost), and those
// already read at that second (kept in the cursor) are dropped. Every `fullScanEveryHours` a pull reads
// everything instead and compares the keys with those the cursor knows: keys gone are written as
// deleted records. The cursor is kept by the core only once the run is done, so a failed pull or run
// starts again from the old one. Contact links and managers are read in full every time (see below).
import { createBitrix24Client, Bitrix24Error, type Bitrix24Client } from './client.ts';
import { sharedBucket } from './buckets.ts';
import { resolveBitrix24Options, type Bitrix24Options } from './options.ts';
import {
  COMPANY_SELECT, CONTACT_SELECT, REQUISITE_SELECT, USER_SELECT, companyRecord, contactRecord, deletedRecord, linkRecord, requisiteRecord, userRecord,
  type Rec, type RequisiteKind, type Row,
} from './records.ts';
import { memoryTokenStore, pgTokenStore, type TokenStore } from './token-store.ts';
import { PullError, type PullContext, type PullHandle, type PullResult } from '../../../src/port/index.ts';

const PAGE = 50;
const BATCH = 50;

export interface Bitrix24Cursor {
  v: 1;
  entity: string;
  /** The highest DATE_MODIFY read, as Bitrix24 wrote it, and the IDs read with exactly that stamp. */
  since?: string;
  sinceIds?: string[];
  /** When the last full read was made (ISO). */
  fullAt?: string;
  /** IDs known after the last accepted pull, as ranges (`1-5000,5002`): what a full scan compares with. */
  keys?: string;
}

// ---- key sets as ranges ----

export function encodeKeys(ids: Iterable<string>): string {
  const nums = [...new Set([...ids].map(Number).filter((n) => Number.isSafeInteger(n)))].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < nums.length;) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === nums[j]! + 1) j++;
    parts.push(i === j ? String(nums[i]) : `${nums[i]}-${nums[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

export function decodeKeys(s: string | undefined): Set<string> {
  const out = new Set<string>();
  if (!s) return out;
  for (const p of s.split(',')) {
    const [a, b] = p.split('-').map(Number);
    for (let n = a!; n <= (b ?? a)!; n++) out.add(String(n));
  }
  return out;
}

// ---- reading lists ----

interface ListSpec { method: string; params: Record<string, unknown> }

/** Answers a batch's pages, failing on a command's error (a page the pull cannot do without). */
async function batchPages(client: Bitrix24Client, label: string, cmds: Record<string, ListSpec>): Promise<{ pages: Record<string, Row[]>; total: Record<string, number>; next: Record<string, number> }> {
  const r = await client.batch(cmds);
  for (const [name, e] of Object.entries(r.errors)) {
    if (e.error === 'QUERY_LIMIT_EXCEEDED' || e.error === 'OPERATION_TIME_LIMIT') {
      // One command ran into a limit inside the batch: that page alone again, the client waits it out.
      const one = await client.call(cmds[name]!.method, cmds[name]!.params);
      r.result[name] = one.result;
      if (one.total !== undefined) r.total[name] = one.total;
      if (one.next !== undefined) r.next[name] = one.next;
      continue;
    }
    const spec = cmds[name]!;
    const at = spec.params.start !== undefined ? ` (page at start=${String(spec.params.start)})` : '';
    throw new Bitrix24Error('MAG_ERR_PULL_FAILED', `${label}: ${spec.method}${at} failed inside a batch: ${e.error}${e.description ? ` — ${e.description}` : ''}`, e.error, e.description);
  }
  const pages: Record<string, Row[]> = {};
  for (const name of Object.keys(cmds)) {
    const v = r.result[name];
    pages[name] = Array.isArray(v) ? (v as Row[]) : v && typeof v === 'object' ? Object.values(v as Record<string, Row>) : [];
  }
  return { pages, total: r.total, next: r.next };
}

/**
 * Every page of a list, in order: a first batch of 50 pages (which also tells the total), then the
 * rest in batches, `concurrency` batches at a time.
 */
async function* listAll(client: Bitrix24Client, label: string, spec: ListSpec, concurrency: number): AsyncGenerator<Row[], void, undefined> {
  const round = async (from: number): Promise<{ rows: Row[][]; total: number }> => {
    const cmds: Record<string, ListSpec> = {};
    for (let k = 0; k < BATCH; k++) cmds[`p${k}`] = { method: spec.method, params: { ...spec.params, start: from + k * PAGE } };
    const r = await batchPages(client, label, cmds);
    const totals = Object.values(r.total);
    return { rows: Object.keys(cmds).map((n) => r.pages[n]!), total: totals.length ? Math.max(...totals) : 0 };
  };
  const first = await round(0);
  let total = first.total;
  for (const p of first.rows) if (p.length) yield p;
  let from = PAGE * BATCH;
  while (from < total) {
    const starts: number[] = [];
    for (let i = 0; i < concurrency && from + i * PAGE * BATCH < total; i++) starts.push(from + i * PAGE * BATCH);
    const results = await Promise.all(starts.map((s) => round(s)));
    for (const r of results) {
      total = Math.max(total, r.total);
      for (const p of r.rows) if (p.length) yield p;
    }
    from += starts.length * PAGE * BATCH;
  }
}

/** The rows of pages regrouped in chunks of `size` (the last one shorter): commands are planned per chunk, not per page. */
async function* chunks(pages: AsyncIterable<Row[]>, size: number): AsyncGenerator<Row[], void, undefined> {
  let buf: Row[] = [];
  for await (const p of pages) {
    buf.push(...p);
    while (buf.length >= size) {
      yield buf.slice(0, size);
      buf = buf.slice(size);
    }
  }
  if (buf.length) yield buf;
}

/** A list filtered by a set of IDs (at most 50 per command), every page. */
async function listByIds(client: Bitrix24Client, label: string, method: string, field: string, ids: string[], params: Record<string, unknown>): Promise<Row[]> {
  const out: Row[] = [];
  const cmds: Record<string, ListSpec> = {};
  for (let i = 0; i < ids.length; i += PAGE) {
    cmds[`i${i / PAGE}`] = { method, params: { ...params, filter: { ...(params.filter as object), [`@${field}`]: ids.slice(i, i + PAGE) }, start: 0 } };
  }
  const names = Object.keys(cmds);
  for (let i = 0; i < names.length; i += BATCH) {
    const part = Object.fromEntries(names.slice(i, i + BATCH).map((n) => [n, cmds[n]!]));
    const r = await batchPages(client, label, part);
    for (const n of Object.keys(part)) {
      out.push(...r.pages[n]!);
      // More than one page for these IDs (many bank details on one requisite): the rest one by one.
      for (let next = r.next[n]; next !== undefined;) {
        const more = await client.call(method, { ...part[n]!.params, start: next });
        out.push(...(more.result as Row[]));
        next = more.next;
      }
    }
  }
  return out;
}

// ---- the pull ----

/** What making a client needs of its caller: a pull's context, or an events drain's or an order send's. */
export type Bitrix24ClientContext = Pick<PullContext, 'flow' | 'env' | 'log' | 'signal' | 'sql'>;

/**
 * The client of a flow's connection options (webhook URL, portal + webhook secret, or OAuth), paced by
 * the portal's shared bucket. Exported for the events drain and the deals connector, which talk to the
 * same portal and must share its bucket.
 */
export function bitrix24ClientFor(o: Bitrix24Options, ctx: Bitrix24ClientContext): { client: Bitrix24Client; label: string } {
  const env = (name: string, what: string): string => {
    const v = ctx.env[name];
    if (v === undefined || v === '') throw new PullError('MAG_ERR_PULL_AUTH', `bitrix24 ${ctx.flow}: environment variable ${name} not set (${what} of the flow)`);
    return v;
  };
  const common = {
    retries: o.retries, retryDelayMs: o.retryDelayMs, timeoutMs: o.timeoutMs, log: ctx.log, signal: ctx.signal,
  };
  if (o.oauth) {
    const clientId = env(o.oauth.clientIdEnv, 'oauth.clientIdEnv');
    const key = `${o.portal}|${clientId}`;
    const store: TokenStore = ctx.sql ? pgTokenStore(ctx.sql, key, clientId) : memoryTokenStore();
    const label = `bitrix24 ${new URL(o.portal!).host}`;
    return {
      label,
      client: createBitrix24Client({
        ...common, label, bucket: sharedBucket(o.portal!, o.rate, o.burst),
        oauth: {
          restUrl: `${o.portal}/rest/`, clientId, clientSecret: env(o.oauth.clientSecretEnv, 'oauth.clientSecretEnv'), tokenUrl: o.oauth.tokenUrl, store,
          initialRefreshToken: o.oauth.refreshTokenEnv ? ctx.env[o.oauth.refreshTokenEnv] : undefined,
        },
      }),
    };
  }
  let url: string;
  if (o.webhookUrlEnv) url = env(o.webhookUrlEnv, 'webhookUrlEnv');
  else url = `${o.portal}/rest/${o.webhookUser}/${env(o.webhookSecretEnv!, 'webhookSecretEnv')}/`;
  let origin: string;
  try {
    origin = new URL(url).origin;
  } catch {
    throw new PullError('MAG_ERR_PULL_AUTH', `bitrix24 ${ctx.flow}: ${o.webhookUrlEnv ?? 'the webhook URL'} is not a URL (expected https://<portal>/rest/<user>/<secret>/)`);
  }
  const label = `bitrix24 ${new URL(origin).host}`;
  return { label, client: createBitrix24Client({ ...common, label, webhookUrl: url, bucket: sharedBucket(origin, o.rate, o.burst) }) };
}

function previousCursor(c: unknown, entity: string): Bitrix24Cursor | undefined {
  const x = c as Partial<Bitrix24Cursor> | undefined;
  return x && x.v === 1 && x.entity === entity ? (x as Bitrix24Cursor) : undefined;
}

const KIND: Record<string, string> = { companies: 'bitrix24.company', contacts: 'bitrix24.contact', requisites: 'bitrix24.requisite' };

async function* readEntity(o: Bitrix24Options, ctx: PullContext): AsyncGenerator<string, PullResult, undefined> {
  const { client, label } = bitrix24ClientFor(o, ctx);
  const started = Date.now();
  const prev = previousCursor(ctx.cursor, o.entity);
  let records = 0;
  let out = '';
  const emit = (r: Rec): void => {
    out += `${JSON.stringify(r)}\n`;
    records++;
  };
  const flush = function* (): Generator<string> {
    if (out.length > 1 << 16) {
      yield out;
      out = '';
    }
  };

  if (o.entity === 'managers') {
    // Managers are few and carry no modification stamp: all of them, every pull (inactive ones too:
    // a client may still be assigned to a manager who has left).
    for await (const page of listAll(client, label, { method: 'user.get', params: { sort: 'ID', order: 'ASC', FILTER: {} } }, o.concurrency)) {
      for (const u of page) emit(userRecord(pickFields(u, USER_SELECT)));
      yield* flush();
    }
    if (out) yield out;
    ctx.log.info({ flow: ctx.flow, entity: o.entity, records, requests: client.stats.requests, ms: Date.now() - started }, 'bitrix24 pull read');
    return { records, cursor: { v: 1, entity: o.entity, fullAt: new Date().toISOString() } satisfies Bitrix24Cursor, changed: true };
  }

  if (o.entity === 'contactLinks') {
    // Links are read in full every time and the flow is a snapshot: a link removed in Bitrix24 (which
    // need not stamp the company as modified) is removed here too. Cost: one request per 49 companies.
    const linksOf = async (part: string[]): Promise<Rec[]> => {
      const cmds: Record<string, ListSpec> = { rq: { method: 'crm.requisite.list', params: { filter: { ENTITY_TYPE_ID: 4, '@ENTITY_ID': part }, select: ['ID', 'ENTITY_ID', 'PRESET_ID'], order: { ID: 'ASC' }, start: 0 } } };
      part.forEach((id, k) => { cmds[`c${k}`] = { method: 'crm.company.contact.items.get', params: { id } }; });
      const r = await batchPages(client, label, cmds);
      const reqs = [...r.pages.rq!];
      for (let next = r.next.rq; next !== undefined;) {
        const more = await client.call('crm.requisite.list', { ...cmds.rq!.params, start: next });
        reqs.push(...(more.result as Row[]));
        next = more.next;
      }
      const byCompany = new Map<string, string[]>();
      for (const q of reqs) {
        if (!presetKind(o, q.PRESET_ID)) continue;
        const list = byCompany.get(String(q.ENTITY_ID)) ?? [];
        list.push(String(q.ID));
        byCompany.set(String(q.ENTITY_ID), list);
      }
      const recs: Rec[] = [];
      part.forEach((company, k) => {
        const reqIds = byCompany.get(company);
        if (!reqIds) return; // a company without requisites has no legal entity to act for
        for (const l of r.pages[`c${k}`]!) {
          for (const q of reqIds) recs.push(linkRecord(company, String(l.CONTACT_ID), q, l.IS_PRIMARY === 'Y' || l.IS_PRIMARY === true));
        }
      });
      return recs;
    };
    // 49 companies' link commands and one requisite list make a batch; `concurrency` batches in flight.
    const companies = listAll(client, label, { method: 'crm.company.list', params: { order: { ID: 'ASC' }, select: ['ID'] } }, o.concurrency);
    let window: string[][] = [];
    const drain = async (): Promise<void> => {
      for (const recs of await Promise.all(window.map(linksOf))) for (const r of recs) emit(r);
      window = [];
    };
    for await (const chunk of chunks(companies, BATCH - 1)) {
      window.push(chunk.map((c) => String(c.ID)));
      if (window.length >= o.concurrency) {
        await drain();
        yield* flush();
      }
    }
    await drain();
    if (out) yield out;
    ctx.log.info({ flow: ctx.flow, entity: o.entity, records, requests: client.stats.requests, ms: Date.now() - started }, 'bitrix24 pull read');
    return { records, cursor: { v: 1, entity: o.entity, fullAt: new Date().toISOString() } satisfies Bitrix24Cursor, changed: true };
  }

  // companies, contacts, requisites: incremental by DATE_MODIFY, a full key scan now and then.
  const kind = KIND[o.entity]!;
  const fullDue = !prev || !prev.fullAt || o.fullScanEveryHours === 0 || Date.now() - Date.parse(prev.fullAt) >= o.fullScanEveryHours * 3600_000;
  const known = decodeKeys(prev?.keys);
  const seen = new Set<string>();
  const skip = new Set(!fullDue && prev?.since ? prev.sinceIds ?? [] : []);
  let since = prev?.since;
  let sinceMs = since ? Date.parse(since) : -Infinity;
  let sinceIds = new Set(prev?.sinceIds ?? []);
  const filter: Record<string, unknown> = o.entity === 'requisites' ? { ENTITY_TYPE_ID: 4 } : {};
  if (!fullDue && prev?.since) filter['>=DATE_MODIFY'] = prev.since;
  const method = o.entity === 'companies' ? 'crm.company.list' : o.entity === 'contacts' ? 'crm.contact.list' : 'crm.requisite.list';
  const select = o.entity === 'companies' ? COMPANY_SELECT : o.entity === 'contacts' ? CONTACT_SELECT : REQUISITE_SELECT;

  // Requisites in chunks of a batch's worth of pages, so their bank details take one batch per chunk.
  const pages = listAll(client, label, { method, params: { order: { ID: 'ASC' }, filter, select } }, o.concurrency);
  for await (const page of o.entity === 'requisites' ? chunks(pages, PAGE * BATCH) : pages) {
    let banks: Map<string, Row> | undefined;
    if (o.entity === 'requisites') {
      // Bank details hang off requisites: one command per page of requisites, the first detail kept.
      const ids = page.filter((q) => presetKind(o, q.PRESET_ID)).map((q) => String(q.ID));
      banks = new Map();
      if (ids.length) {
        for (const b of await listByIds(client, label, 'crm.requisite.bankdetail.list', 'ENTITY_ID', ids, { order: { ID: 'ASC' } })) {
          if (!banks.has(String(b.ENTITY_ID))) banks.set(String(b.ENTITY_ID), b);
        }
      }
    }
    for (const row of page) {
      const id = String(row.ID);
      const modified = typeof row.DATE_MODIFY === 'string' ? row.DATE_MODIFY : undefined;
      const ms = modified ? Date.parse(modified) : NaN;
      if (!Number.isNaN(ms)) {
        if (ms > sinceMs) {
          sinceMs = ms;
          since = modified;
          sinceIds = new Set([id]);
        } else if (ms === sinceMs) sinceIds.add(id);
      }
      if (skip.has(id) && ms === Date.parse(prev!.since!)) continue;
      if (seen.has(id)) continue; // an entity read twice (offsets shifted by an insertion): once is enough
      if (o.entity === 'companies') emit(companyRecord(row));
      else if (o.entity === 'contacts') emit(contactRecord(row));
      else {
        const k = presetKind(o, row.PRESET_ID);
        if (!k) {
          // Never a legal entity here, so never one to mark deleted either: not a key of the cursor.
          ctx.log.debug({ flow: ctx.flow, requisite: id, preset: row.PRESET_ID }, 'bitrix24 requisite of another preset skipped');
          continue;
        }
        emit(requisiteRecord(row, k, banks!.get(id)));
      }
      seen.add(id);
    }
    yield* flush();
  }
  let deleted = 0;
  if (fullDue && prev) {
    for (const id of known) {
      if (seen.has(id)) continue;
      emit(deletedRecord(kind, id));
      deleted++;
    }
  }
  if (out) yield out;
  ctx.log.info({ flow: ctx.flow, entity: o.entity, full: fullDue, records, deleted, requests: client.stats.requests, limited: client.stats.limited, ms: Date.now() - started }, 'bitrix24 pull read');
  const keys = fullDue ? seen : new Set([...known, ...seen]);
  const cursor: Bitrix24Cursor = {
    v: 1, entity: o.entity, since, sinceIds: [...sinceIds].sort(), fullAt: fullDue ? new Date().toISOString() : prev?.fullAt, keys: encodeKeys(keys),
  };
  if (!records && prev && !fullDue) return { records, cursor: ctx.cursor, changed: false };
  return { records, cursor, changed: records > 0 || fullDue };
}

function presetKind(o: Bitrix24Options, preset: unknown): RequisiteKind | undefined {
  const p = String(preset ?? '');
  if (o.presets.legalEntity.includes(p)) return 'legal';
  if (o.presets.soleProprietor.includes(p)) return 'sole';
  return undefined;
}

function pickFields(r: Row, fields: string[]): Row {
  const out: Row = {};
  for (const f of fields) if (f in r) out[f] = r[f];
  return out;
}

/** Payload file name: the entity, readable in run listings. */
export function bitrix24PayloadFileName(o: Pick<Bitrix24Options, 'entity'>): string {
  return `bitrix24-${o.entity}.ndjson`;
}

export function pullBitrix24(ctx: PullContext): PullHandle {
  const o = resolveBitrix24Options(ctx.options);
  return { fileName: bitrix24PayloadFileName(o), body: readEntity(o, ctx) };
}
