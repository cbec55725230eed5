// The load generator of the portal API benchmark, run in its own process (`node --import tsx
// ops/bench/api-load.ts CONFIG_JSON`) so that it does not share a CPU budget with the server's event
// loop. Drives one route with autocannon and prints one JSON line with throughput and latency.
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

export async function drive(c: LoadConfig): Promise<LoadResult> {
  const r = rng(42);
  // Every response's latency is kept: exact percentiles (autocannon's summary has no p95).
  const times: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({
      url: c.url,
      connections: c.connections,
      duration: c.seconds,
      ...(c.rate ? { overallRate: c.rate } : {}),
      requests: [{ setupRequest: (req) => ({ ...req, ...makeRequest(c, r) }) }],
    }, (err, res) => (err ? reject(err as Error) : resolve(res)));
    instance.on('response', (_client, _status, _bytes, ms) => { times.push(ms); });
  });
  times.sort((a, b) => a - b);
  const pct = (q: number) => (times.length ? Math.round(times[Math.min(times.length - 1, Math.ceil((q / 100) * times.length) - 1)]! * 100) / 100 : NaN);
  return {
    route: c.route,
    rps: Math.round((times.length / c.seconds) * 10) / 10,
    p50Ms: pct(50),
    p95Ms: pct(95),
    p99Ms: pct(99),
    maxMs: pct(100),
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
