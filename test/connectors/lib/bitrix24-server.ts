// A Bitrix24-like REST server in this process, for tests and the bench (ops/bench/crm.ts): the
// portal's leaky bucket (default 2 requests/s, burst 50; past it HTTP 503 QUERY_LIMIT_EXCEEDED), an
// incoming webhook (`/rest/<user>/<secret>/<method>.json`) or OAuth access tokens (`auth=`), form or
// JSON bodies with PHP-style keys, list methods in pages of 50 (`start`, `next`, `total`, `order`,
// `filter` with `>`, `>=`, `<`, `<=`, `@` (in), `=`), and `batch` (halt=0, up to 50 commands, counted
// as one request; `$result[cmd][field]` in a command's parameters takes an earlier command's answer).
// Data lives in memory. Methods are a table (`server.methods`): add one with `server.methods.set('crm.deal.add', (params, ctx) => …)` and answer its result, or throw
// `new B24Fault(code, text, status)` for an error answer.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeParams } from '../../../connectors/crm/bitrix24/params.ts';

export type Row = Record<string, unknown>;

/** A valid 10-digit INN made from a number: nine digits, then the check digit (test data, the bench). */
export function makeInn(seed: number): string {
  const body = String(seed % 1e9).padStart(9, '0');
  const w = [2, 4, 10, 3, 5, 9, 4, 6, 8];
  let s = 0;
  for (let i = 0; i < 9; i++) s += Number(body[i]) * w[i]!;
  return body + String((s % 11) % 10);
}

/** A valid 13-digit OGRN made from a number: twelve digits, then (body mod 11) mod 10. */
export function makeOgrn(seed: number): string {
  const body = 102770000000n + BigInt(seed);
  return `${body}${(body % 11n) % 10n}`;
}

export class B24Fault extends Error {
  constructor(readonly code: string, readonly description: string, readonly status = 400) {
    super(`${code}: ${description}`);
  }
}

/** A method's answer: `result` plus, for lists, `next` and `total`. */
export interface MethodAnswer { result: unknown; next?: number; total?: number }
export type Method = (params: Record<string, unknown>, server: Bitrix24Server) => MethodAnswer;

export interface Bitrix24ServerOptions {
  /** Requests per second the bucket drains. @defaultValue 2 */
  rate?: number;
  /** Requests admitted at once from an empty bucket. @defaultValue 50 */
  burst?: number;
  /** Webhook user and secret. @defaultValue 1 / 'wh-s3cret-token' */
  user?: number;
  secret?: string;
  /** Page size of list methods. @defaultValue 50 */
  pageSize?: number;
}

/** A timestamp as Bitrix24 writes it: `2024-08-29T10:29:54+03:00`. */
export function b24Date(ms: number): string {
  const d = new Date(ms + 3 * 3600_000);
  return `${d.toISOString().slice(0, 19)}+03:00`;
}

function dateMs(v: unknown): number | undefined {
  if (typeof v !== 'string' || !v) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

/** Compares a field's value with a filter value: dates as instants, digits as numbers, else as text. */
function cmp(a: unknown, b: unknown): number {
  const ta = dateMs(a);
  const tb = dateMs(b);
  if (ta !== undefined && tb !== undefined && /\d{4}-\d\d-\d\d/.test(String(a)) && /\d{4}-\d\d-\d\d/.test(String(b))) return ta - tb;
  if (/^-?\d+$/.test(String(a)) && /^-?\d+$/.test(String(b))) return Number(a) - Number(b);
  return String(a).localeCompare(String(b));
}

/** A filter compiled once per list call: `@` (in) lists become sets, so a filter of 50 IDs stays cheap on 100,000 rows. */
function compileFilter(filter: Record<string, unknown>): (row: Row) => boolean {
  const tests = Object.entries(filter).map(([raw, want]) => {
    const m = /^(>=|<=|>|<|@|=|!)?(.+)$/.exec(raw)!;
    const op = m[1] ?? '=';
    const field = m[2]!;
    if (op === '@') {
      const set = new Set(Object.values(want && typeof want === 'object' ? want : { 0: want }).map(String));
      return (row: Row) => set.has(String(row[field]));
    }
    return (row: Row) => {
      const v = row[field];
      if (v === undefined || v === null || v === '') return false;
      const c = cmp(v, want);
      return op === '>' ? c > 0 : op === '>=' ? c >= 0 : op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '!' ? c !== 0 : c === 0;
    };
  });
  return (row) => tests.every((t) => t(row));
}

export class Bitrix24Server {
  readonly rate: number;
  readonly burst: number;
  readonly user: number;
  readonly secret: string;
  readonly pageSize: number;
  /** Entity tables by name (`company`, `contact`, `requisite`, `bankdetail`, `user`), rows by ID. */
  readonly tables = new Map<string, Map<string, Row>>();
  /** Company ID → contact IDs linked to it (many to many). */
  readonly links = new Map<string, Set<string>>();
  readonly methods = new Map<string, Method>();
  /** OAuth access tokens accepted with `auth=`. */
  readonly accessTokens = new Set<string>();
  /** Answers given before any method runs, one per HTTP request: errors, outages. */
  readonly script: Array<{ status: number; error: string; description: string }> = [];
  /** Counted per HTTP request. */
  readonly stats = { requests: 0, limited: 0, served: 0, commands: 0, firstAt: 0, lastAt: 0 };
  /** Every HTTP request: method and decoded parameters (tests assert pages asked for). */
  readonly log: Array<{ method: string; params: Record<string, unknown> }> = [];
  keepLog = true;
  private level = 0;
  private at = performance.now();
  private server?: Server;
  private cache = new Map<string, Row[]>();
  private indexes = new Map<string, Map<string, Row[]>>();
  private version = 0;
  private nextId = 1;
  url = '';

  constructor(opts: Bitrix24ServerOptions = {}) {
    this.rate = opts.rate ?? 2;
    this.burst = opts.burst ?? 50;
    this.user = opts.user ?? 1;
    this.secret = opts.secret ?? 'wh-s3cret-token';
    this.pageSize = opts.pageSize ?? 50;
    for (const t of ['company', 'contact', 'requisite', 'bankdetail', 'user']) this.tables.set(t, new Map());
    this.methods.set('crm.company.list', (p) => this.list('company', p));
    this.methods.set('crm.contact.list', (p) => this.list('contact', p));
    this.methods.set('crm.requisite.list', (p) => this.list('requisite', p));
    this.methods.set('crm.requisite.bankdetail.list', (p) => this.list('bankdetail', p));
    this.methods.set('crm.company.contact.items.get', (p) => {
      const id = String(p.id ?? p.ID ?? '');
      if (!this.tables.get('company')!.has(id)) throw new B24Fault('ERROR_NOT_FOUND', 'Not found', 400);
      return { result: [...(this.links.get(id) ?? [])].map((c, i) => ({ CONTACT_ID: Number(c), SORT: (i + 1) * 10, ROLE_ID: 0, IS_PRIMARY: i === 0 ? 'Y' : 'N' })) };
    });
    // user.get: filter fields at the top level or in FILTER, `sort`/`order` by one field, pages of 50.
    this.methods.set('user.get', (p) => {
      const { FILTER, filter, sort, order, start, ...top } = p as Record<string, unknown>;
      const f: Record<string, unknown> = { ...(FILTER as object), ...(filter as object), ...top };
      if (f.ID !== undefined && typeof f.ID === 'object') {
        f['@ID'] = f.ID;
        delete f.ID;
      }
      return this.list('user', { filter: f, order: { [String(sort ?? 'ID')]: String(order ?? 'ASC') }, start });
    });
  }

  /** The webhook URL a flow is given (its secret inside). */
  get webhookUrl(): string {
    return `${this.url}/rest/${this.user}/${this.secret}/`;
  }

  // ---- data ----

  /** Adds or replaces a row (ID given or assigned), stamping DATE_MODIFY unless given; answers the ID. */
  put(table: string, row: Row): string {
    const id = String(row.ID ?? this.nextId++);
    if (Number(id) >= this.nextId) this.nextId = Number(id) + 1;
    let t = this.tables.get(table);
    // A table of its own for whatever a test adds (deals, product rows): made on first use.
    if (!t) this.tables.set(table, (t = new Map()));
    t.set(id, { ...row, ID: id, DATE_MODIFY: row.DATE_MODIFY ?? b24Date(Date.now()) });
    this.changed();
    return id;
  }

  remove(table: string, id: string): void {
    this.tables.get(table)!.delete(String(id));
    if (table === 'company') this.links.delete(String(id));
    this.changed();
  }

  link(companyId: string, contactId: string): void {
    let s = this.links.get(String(companyId));
    if (!s) this.links.set(String(companyId), (s = new Set()));
    s.add(String(contactId));
  }

  changed(): void {
    this.version++;
    this.cache.clear();
    this.indexes.clear();
  }

  /** Rows of a table by one field's value, built on first use (an `@field` filter of 50 IDs then reads 50 rows, not the table). */
  private index(table: string, field: string): Map<string, Row[]> {
    const key = `${table}.${field}`;
    let ix = this.indexes.get(key);
    if (!ix) {
      ix = new Map();
      for (const r of this.tables.get(table)!.values()) {
        const v = String(r[field]);
        const list = ix.get(v);
        if (list) list.push(r);
        else ix.set(v, [r]);
      }
      this.indexes.set(key, ix);
    }
    return ix;
  }

  /**
   * N companies, each with `contacts` contacts linked to it, `requisites` requisites (legal entity,
   * valid INN) with one bank detail each, assigned to one of `managers` users. DATE_MODIFY spread
   * over the last days, one second apart per company, so incremental filters have something to cut.
   */
  seed(n: number, opts: { contacts?: number; requisites?: number; managers?: number; since?: number } = {}): void {
    const contacts = opts.contacts ?? 3;
    const requisites = opts.requisites ?? 1;
    const managers = opts.managers ?? 5;
    const since = opts.since ?? Date.parse('2026-01-01T00:00:00Z');
    const users = this.tables.get('user')!;
    for (let u = 1; u <= managers; u++) {
      users.set(String(u), {
        ID: String(u), ACTIVE: true, NAME: `Менеджер${u}`, LAST_NAME: `Фамилия${u}`, SECOND_NAME: '', EMAIL: `manager${u}@example.ru`,
        WORK_PHONE: `+7495000${String(u).padStart(4, '0')}`, PERSONAL_MOBILE: '', PERSONAL_PHOTO: `https://cdn.example.ru/u${u}.jpg`,
      });
    }
    const companies = this.tables.get('company')!;
    const contactT = this.tables.get('contact')!;
    const reqT = this.tables.get('requisite')!;
    const bankT = this.tables.get('bankdetail')!;
    let cid = contactT.size + 1;
    let rid = reqT.size + 1;
    const base = companies.size;
    for (let i = 1; i <= n; i++) {
      const id = String(base + i);
      const modified = b24Date(since + i * 1000);
      companies.set(id, {
        ID: id, TITLE: `Компания ${id}`, COMPANY_TYPE: 'CUSTOMER', ASSIGNED_BY_ID: String(((i - 1) % managers) + 1),
        PHONE: [{ ID: id, VALUE_TYPE: 'WORK', VALUE: `+7900${id.padStart(7, '0')}`, TYPE_ID: 'PHONE' }],
        EMAIL: [{ ID: id, VALUE_TYPE: 'WORK', VALUE: `info${id}@example.ru`, TYPE_ID: 'EMAIL' }],
        DATE_CREATE: modified, DATE_MODIFY: modified,
      });
      for (let c = 0; c < contacts; c++, cid++) {
        const k = String(cid);
        contactT.set(k, {
          ID: k, NAME: `Имя${k}`, LAST_NAME: `Фамилия${k}`, SECOND_NAME: '', POST: 'Закупщик', COMPANY_ID: id, ASSIGNED_BY_ID: '1',
          PHONE: [{ ID: k, VALUE_TYPE: 'WORK', VALUE: `+7901${k.padStart(7, '0')}`, TYPE_ID: 'PHONE' }],
          EMAIL: [{ ID: k, VALUE_TYPE: 'WORK', VALUE: `c${k}@example.ru`, TYPE_ID: 'EMAIL' }],
          DATE_MODIFY: modified,
        });
        this.link(id, k);
      }
      for (let r = 0; r < requisites; r++, rid++) {
        const k = String(rid);
        reqT.set(k, {
          ID: k, ENTITY_TYPE_ID: '4', ENTITY_ID: id, PRESET_ID: '1', NAME: 'Организация', ACTIVE: 'Y',
          RQ_COMPANY_NAME: `ООО «Компания ${id}»`, RQ_COMPANY_FULL_NAME: `Общество с ограниченной ответственностью «Компания ${id}»`,
          RQ_INN: makeInn(Number(k) * 7919), RQ_KPP: '770101001', RQ_OGRN: makeOgrn(Number(k)), DATE_MODIFY: modified,
        });
        bankT.set(k, {
          ID: k, ENTITY_ID: k, COUNTRY_ID: '1', NAME: 'Основной счёт', RQ_BANK_NAME: 'ПАО Сбербанк', RQ_BIK: '044525225',
          RQ_ACC_NUM: `40702810${k.padStart(12, '0')}`, RQ_COR_ACC_NUM: '30101810400000000225', DATE_MODIFY: modified,
        });
      }
    }
    this.nextId = Math.max(this.nextId, base + n + 1, cid, rid);
    this.changed();
  }

  // ---- list methods ----

  private sorted(table: string, filter: Record<string, unknown>, order: Record<string, unknown>): Row[] {
    const key = `${table}\n${JSON.stringify(filter)}\n${JSON.stringify(order)}`;
    let rows = this.cache.get(key);
    if (!rows) {
      const test = compileFilter(filter);
      const inList = Object.entries(filter).find(([k, v]) => k.startsWith('@') && v && typeof v === 'object');
      if (inList) {
        const ix = this.index(table, inList[0].slice(1));
        rows = [...new Set(Object.values(inList[1] as object).map(String))].flatMap((v) => ix.get(v) ?? []).filter(test);
      } else rows = [...this.tables.get(table)!.values()].filter(test);
      const by = Object.entries(order);
      rows.sort((a, b) => {
        for (const [f, dir] of by.length ? by : [['ID', 'ASC'] as [string, unknown]]) {
          const c = cmp(a[f] ?? '', b[f] ?? '');
          if (c) return String(dir).toUpperCase() === 'DESC' ? -c : c;
        }
        return 0;
      });
      this.cache.set(key, rows);
    }
    return rows;
  }

  list(table: string, p: Record<string, unknown>): MethodAnswer {
    const filter = (p.filter ?? p.FILTER ?? {}) as Record<string, unknown>;
    const order = (p.order ?? p.ORDER ?? {}) as Record<string, unknown>;
    const select = p.select ?? p.SELECT;
    const fields = select && typeof select === 'object' ? Object.values(select).map(String) : undefined;
    const rows = this.sorted(table, filter, order);
    const start = Number(p.start ?? 0);
    if (start === -1) {
      // `start=-1`: no count, the first page only (Bitrix24's fast keyset mode).
      return { result: rows.slice(0, this.pageSize).map((r) => pick(r, fields)) };
    }
    const page = rows.slice(start, start + this.pageSize).map((r) => pick(r, fields));
    const out: MethodAnswer = { result: page, total: rows.length };
    if (start + this.pageSize < rows.length) out.next = start + this.pageSize;
    return out;
  }

  // ---- HTTP ----

  /** Drains the bucket and admits one request or refuses it (the portal's side of the limit). */
  private admit(): boolean {
    const t = performance.now();
    this.level = Math.max(0, this.level - ((t - this.at) / 1000) * this.rate);
    this.at = t;
    // A hair of tolerance: the client's clock and ours differ by the request's flight time.
    if (this.level + 1 > this.burst + 1e-6) return false;
    this.level += 1;
    return true;
  }

  /** Empties the bucket (between test cases). */
  resetBucket(): void {
    this.level = 0;
    this.at = performance.now();
  }

  private run(method: string, params: Record<string, unknown>): MethodAnswer {
    const m = this.methods.get(method);
    if (!m) throw new B24Fault('ERROR_METHOD_NOT_FOUND', 'Method not found!', 404);
    this.stats.commands++;
    return m(params, this);
  }

  private batch(params: Record<string, unknown>): MethodAnswer {
    const cmd = (params.cmd ?? {}) as Record<string, unknown>;
    const names = Object.keys(cmd);
    if (names.length > 50) throw new B24Fault('ERROR_BATCH_LENGTH_EXCEEDED', 'Max batch length exceeded', 400);
    const halt = String(params.halt ?? '0') !== '0';
    const result: Record<string, unknown> = {};
    const errors: Record<string, unknown> = {};
    const next: Record<string, number> = {};
    const total: Record<string, number> = {};
    for (const n of names) {
      const text = String(cmd[n]);
      const q = text.indexOf('?');
      const method = q < 0 ? text : text.slice(0, q);
      if (method === 'batch') throw new B24Fault('ERROR_BATCH_METHOD_NOT_ALLOWED', 'Method is not allowed for batch usage', 400);
      try {
        const a = this.run(method, withResults(decodeParams(q < 0 ? '' : text.slice(q + 1)), result));
        result[n] = a.result;
        if (a.next !== undefined) next[n] = a.next;
        if (a.total !== undefined) total[n] = a.total;
      } catch (e) {
        if (!(e instanceof B24Fault)) throw e;
        errors[n] = { error: e.code, error_description: e.description };
        if (halt) break;
      }
    }
    // PHP writes an empty map as a list: keep that quirk, clients must read both.
    const phpMap = (o: Record<string, unknown>): unknown => (Object.keys(o).length ? o : []);
    return { result: { result: phpMap(result), result_error: phpMap(errors), result_total: phpMap(total), result_next: phpMap(next), result_time: [] } };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/rest\/(?:(\d+)\/([^/]+)\/)?([\w.]+?)(?:\.json)?$/.exec(url.pathname);
    const send = (status: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    this.stats.requests++;
    const now = performance.now();
    if (!this.stats.firstAt) this.stats.firstAt = now;
    this.stats.lastAt = now;
    if (!this.admit()) {
      this.stats.limited++;
      send(503, { error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' });
      return;
    }
    if (!m) {
      send(404, { error: 'ERROR_METHOD_NOT_FOUND', error_description: 'Method not found!' });
      return;
    }
    const body = Buffer.concat(chunks).toString('utf8');
    const type = req.headers['content-type'] ?? '';
    let params: Record<string, unknown>;
    try {
      params = { ...decodeParams(url.search.slice(1)), ...(type.includes('json') ? (JSON.parse(body || '{}') as Record<string, unknown>) : decodeParams(body)) };
    } catch {
      send(400, { error: 'INVALID_REQUEST', error_description: 'Body is not readable' });
      return;
    }
    const method = m[3]!;
    if (this.keepLog) this.log.push({ method, params });
    const scripted = this.script.shift();
    if (scripted) {
      send(scripted.status, { error: scripted.error, error_description: scripted.description });
      return;
    }
    if (m[1] !== undefined) {
      if (Number(m[1]) !== this.user || m[2] !== this.secret) {
        send(401, { error: 'INVALID_CREDENTIALS', error_description: 'Invalid request credentials' });
        return;
      }
    } else if (!this.accessTokens.has(String(params.auth ?? ''))) {
      send(401, params.auth ? { error: 'expired_token', error_description: 'The access token provided has expired.' } : { error: 'NO_AUTH_FOUND', error_description: 'Wrong authorization data' });
      return;
    }
    delete params.auth;
    try {
      const a = method === 'batch' ? this.batch(params) : this.run(method, params);
      this.stats.served++;
      send(200, { ...a, time: { start: Date.now() / 1000, finish: Date.now() / 1000, duration: 0, processing: 0 } });
    } catch (e) {
      if (e instanceof B24Fault) send(e.status, { error: e.code, error_description: e.description });
      else send(500, { error: 'INTERNAL_SERVER_ERROR', error_description: (e as Error).message });
    }
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        res.writeHead(500);
        res.end(String(e));
      });
    });
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server!.close(() => r()));
    this.server = undefined;
  }
}

/**
 * A batch command's parameters with `$result[cmd]` and `$result[cmd][field]…` put in from the answers of
 * the earlier commands, as Bitrix24's batch does (after it has decoded the command's query).
 */
function withResults(params: Record<string, unknown>, results: Record<string, unknown>): Record<string, unknown> {
  const put = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const m = /^\$result((?:\[[^\]]+\])+)$/.exec(v);
      if (!m) return v;
      let x: unknown = results;
      for (const k of m[1]!.slice(1, -1).split('][')) x = x && typeof x === 'object' ? (x as Record<string, unknown>)[k] : undefined;
      return x ?? '';
    }
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, put(x)]));
    return v;
  };
  return put(params) as Record<string, unknown>;
}

function pick(r: Row, fields: string[] | undefined): Row {
  if (!fields || !fields.length || fields.includes('*')) return r;
  const out: Row = {};
  for (const f of fields) if (f in r) out[f] = r[f];
  return out;
}
