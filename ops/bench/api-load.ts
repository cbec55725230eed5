// The load generator of the portal API benchmark, run in its own process (`node --import tsx
// ops/bench/api-load.ts CONFIG_JSON`) so that it does not share a CPU budget with the server's event
// loop. Drives one route and prints one JSON line with throughput and latency.
//
// Two ways to drive: closed loop (autocannon, N connections each sending its next request when the
// last one is answered) measures what the route sustains; a fixed rate (`rate`) is an open loop at
// uniform intervals. autocannon's own `overallRate` is not used for that: it lets every connection
// send its whole per-second quota back to back at the start of each second, so "500 req/s" becomes
// a burst of 10 concurrent streams for a fraction of the second and then silence, and latencies
// measure the burst. The open loop sends request i at start + i/rate on a pool of keep-alive
// connections whatever is still in flight (a slow answer never delays the next request: no
// coordinated omission) and times each from the moment its turn came. How late the generator's
// timer was is reported beside (`sendLagP99Ms`): a late generator would flatter the server.
import net from 'node:net';
import autocannon from 'autocannon';
import { BRANDS, COLORS, clientCode, rng, sku } from './api-data.ts';

export interface LoadConfig {
  url: string;
  key: string;
  route: RouteName;
  seconds: number;
  connections: number;
  /** Requests per second over all connections (open loop); absent = as fast as the server answers. */
  rate?: number;
  products: number;
  clients: number;
  cities: number;
}

export type RouteName = 'price' | 'priceBatch' | 'catalog' | 'autocomplete';

export interface LoadResult {
  route: RouteName;
  rps: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Open loop only: how late the generator sent its requests, 99th percentile. */
  sendLagP99Ms?: number;
}

const PREFIXES = ['ка', 'каб', 'кабель', 'про', 'провод', 'авт', 'автомат', 'роз', 'розетка', 'лам', 'лампа', 'све', 'уд', 'gh', 'ghjd',
  'rf', 'rf,', 'leg', 'schn', 'iek', 'ekf', 'вык', 'гоф', 'клем', 'щит', 'сче', 'кон', 'диф', 'узо', 'вв', 'пвс', 'nym'];
const TOPS = ['cable', 'protection', 'wiring', 'light', 'install'];

type Req = { method: 'GET' | 'POST'; path: string; headers: Record<string, string>; body?: string };

/** One request of a route; `r` draws the SKU, client and filters. */
function makeRequest(c: LoadConfig, r: () => number): Req {
  const client = clientCode(Math.floor(r() * c.clients));
  const headers: Record<string, string> = { authorization: `Bearer ${c.key}`, 'x-client-id': client };
  switch (c.route) {
    case 'price':
      return { method: 'GET', path: `/api/v1/prices/${sku(Math.floor(r() * c.products))}`, headers };
    case 'priceBatch': {
      const skus = Array.from({ length: 100 }, () => sku(Math.floor(r() * c.products)));
      return { method: 'POST', path: '/api/v1/prices/batch', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ skus }) };
    }
    case 'catalog': {
      // Three filters (group, a property value, in stock) with facets, sorted by price.
      const q = new URLSearchParams({
        group: TOPS[Math.floor(r() * TOPS.length)]!,
        'prop.brand': BRANDS[Math.floor(r() * BRANDS.length)]!,
        inStock: 'true',
        facets: 'true',
        sort: r() < 0.5 ? 'price' : '-popularity',
        limit: '24',
      });
      if (r() < 0.3) q.set('prop.color', COLORS[Math.floor(r() * COLORS.length)]!);
      return { method: 'GET', path: `/api/v1/catalog/products?${q}`, headers };
    }
    case 'autocomplete':
      return { method: 'GET', path: `/api/v1/search/suggest?q=${encodeURIComponent(PREFIXES[Math.floor(r() * PREFIXES.length)]!)}`, headers };
  }
}

/** Sends one request of the route and returns its status and body: the benchmark checks the route answers before loading it. */
export async function probe(c: LoadConfig): Promise<{ status: number; body: string; path: string }> {
  const req = makeRequest(c, rng(1));
  const res = await fetch(c.url + req.path, { method: req.method, headers: req.headers, body: req.body });
  return { status: res.status, body: (await res.text()).slice(0, 2000), path: req.path };
}

function percentiles(c: LoadConfig, times: number[], seconds: number) {
  times.sort((a, b) => a - b);
  const pct = (q: number) => (times.length ? Math.round(times[Math.min(times.length - 1, Math.ceil((q / 100) * times.length) - 1)]! * 100) / 100 : NaN);
  return { route: c.route, rps: Math.round((times.length / seconds) * 10) / 10, p50Ms: pct(50), p95Ms: pct(95), p99Ms: pct(99), maxMs: pct(100) };
}

/**
 * One keep-alive HTTP/1.1 connection carrying one request at a time, on a raw socket: a lean client
 * (an http.Agent costs the generator more CPU than the server spends on the request, and on two
 * cores the generator's CPU is the server's). Answers must carry Content-Length (fastify's do).
 */
export class RawConnection {
  private readonly socket: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  private pending?: { done: (status: number) => void; fail: (e: Error) => void };

  constructor(host: string, port: number) {
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on('data', (d: Buffer) => this.onData(d));
    this.socket.on('error', (e) => { this.pending?.fail(e); this.pending = undefined; });
  }

  send(raw: Buffer, done: (status: number) => void, fail: (e: Error) => void): void {
    this.pending = { done, fail };
    this.socket.write(raw);
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.buf.subarray(0, end).toString('latin1');
    const len = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!len) { this.pending?.fail(new Error(`answer without content-length: ${head.slice(0, 200)}`)); this.pending = undefined; return; }
    const total = end + 4 + Number(len[1]);
    if (this.buf.length < total) return;
    this.buf = this.buf.subarray(total);
    const p = this.pending;
    this.pending = undefined;
    p?.done(Number(head.slice(9, 12)));
  }

  close(): void { this.socket.destroy(); }
}

/**
 * Open loop at `c.rate` requests per second, uniform intervals, on up to `c.connections` raw
 * keep-alive connections. A request is timed from the moment its turn came, so one that waited for
 * a free connection counts its wait.
 */
async function paced(c: LoadConfig): Promise<LoadResult> {
  const r = rng(42);
  const rate = c.rate!;
  const target = new URL(c.url);
  const port = Number(target.port || 80);
  const all: RawConnection[] = [];
  const idle: RawConnection[] = [];
  const waiting: Array<{ raw: Buffer; due: number }> = [];
  const times: number[] = [];
  const lags: number[] = [];
  let non2xx = 0;
  let errors = 0;
  let inFlight = 0;
  const total = Math.floor(rate * c.seconds);
  // Requests are built before the clock starts: building them is the generator's cost, not the server's.
  const raws = Array.from({ length: Math.min(total, 20_000) }, () => {
    const q = makeRequest(c, r);
    const headers = { host: target.host, ...q.headers, ...(q.body ? { 'content-length': String(Buffer.byteLength(q.body)) } : {}) };
    return Buffer.from(`${q.method} ${q.path} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n${q.body ?? ''}`);
  });
  const dispatch = (conn: RawConnection, raw: Buffer, due: number) => {
    conn.send(raw, (status) => {
      times.push(performance.now() - due);
      if (status < 200 || status >= 300) non2xx++;
      inFlight--;
      const next = waiting.shift();
      if (next) dispatch(conn, next.raw, next.due);
      else idle.push(conn);
    }, () => { errors++; inFlight--; });
  };
  const fire = (raw: Buffer, due: number) => {
    inFlight++;
    let conn = idle.pop();
    if (!conn && all.length < c.connections) {
      conn = new RawConnection(target.hostname, port);
      all.push(conn);
    }
    if (conn) dispatch(conn, raw, due);
    else waiting.push({ raw, due });
  };
  const start = performance.now() + 20;
  await new Promise<void>((resolve) => {
    let sent = 0;
    const at = (i: number) => start + (i * 1000) / rate;
    const step = () => {
      // Send every request whose moment has come; a late timer sends several at once.
      const now = performance.now();
      while (sent < total && at(sent) <= now) {
        lags.push(now - at(sent));
        fire(raws[sent % raws.length]!, now);
        sent++;
      }
      if (sent < total) setTimeout(step, Math.max(0, at(sent) - performance.now()));
      else {
        const wait = () => (inFlight === 0 ? resolve() : void setTimeout(wait, 5));
        wait();
      }
    };
    setTimeout(step, 20);
  });
  for (const conn of all) conn.close();
  lags.sort((a, b) => a - b);
  const sendLagP99Ms = Math.round((lags[Math.max(0, Math.ceil(0.99 * lags.length) - 1)] ?? 0) * 100) / 100;
  return { ...percentiles(c, times, c.seconds), requests: times.length + errors, non2xx, errors, timeouts: 0, sendLagP99Ms };
}

export async function drive(c: LoadConfig): Promise<LoadResult> {
  if (c.rate) return paced(c);
  const r = rng(42);
  // Every response's latency is kept: exact percentiles (autocannon's summary has no p95).
  const times: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({
      url: c.url,
      connections: c.connections,
      duration: c.seconds,
      requests: [{ setupRequest: (req) => ({ ...req, ...makeRequest(c, r) }) }],
    }, (err, res) => (err ? reject(err as Error) : resolve(res)));
    instance.on('response', (_client, _status, _bytes, ms) => { times.push(ms); });
  });
  return {
    ...percentiles(c, times, c.seconds),
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const cfg = JSON.parse(process.argv[2]!) as LoadConfig;
  drive(cfg).then((res) => { process.stdout.write(JSON.stringify(res) + '\n'); }, (e: unknown) => { console.error(e); process.exit(1); });
}
