// The load generator of the cabinet benchmark, in its own process (`node --import tsx
// ops/bench/cabinet-load.ts CONFIG_JSON`) so it does not share the server's event loop: N signed-in
// users, each on its own keep-alive connection with its own session cookie, each asking for its next
// catalog page when it has read the last one (closed loop, with a think time). Prints one JSON line.
import { RawConnection } from './api-load.ts';
import { rng } from './api-data.ts';

export interface CabinetLoadConfig {
  url: string;
  /** One session cookie per user (`mg_cab=…`). */
  cookies: string[];
  seconds: number;
  /** Catalog addresses to draw from (under /cabinet/catalog). */
  paths: string[];
  /**
   * A user's pause between receiving a page and asking for the next, drawn uniformly from 0.5× to
   * 1.5× this many ms (a buyer reads the page); 0: the next at once (the server saturated).
   */
  thinkMs: number;
}

export interface CabinetLoadResult {
  users: number;
  rps: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  requests: number;
  non2xx: number;
  errors: number;
}

export async function runUsers(c: CabinetLoadConfig): Promise<CabinetLoadResult> {
  const target = new URL(c.url);
  const r = rng(7);
  const times: number[] = [];
  let non2xx = 0;
  let errors = 0;
  const end = performance.now() + c.seconds * 1000;
  const raw = (cookie: string) => {
    const path = c.paths[Math.floor(r() * c.paths.length)]!;
    return Buffer.from(`GET ${path} HTTP/1.1\r\nhost: ${target.host}\r\ncookie: ${cookie}\r\naccept: text/html\r\n\r\n`);
  };
  await Promise.all(c.cookies.map((cookie) => new Promise<void>((resolve) => {
    const conn = new RawConnection(target.hostname, Number(target.port));
    const next = () => {
      if (performance.now() >= end) { conn.close(); resolve(); return; }
      const t0 = performance.now();
      conn.send(raw(cookie), (status) => {
        times.push(performance.now() - t0);
        if (status < 200 || status >= 300) non2xx++;
        if (c.thinkMs > 0) setTimeout(next, c.thinkMs * (0.5 + r()));
        else next();
      }, () => { errors++; conn.close(); resolve(); });
    };
    // Users arrive over the first think time, as buyers do: all twenty clicking in the same millisecond
    // made one burst of 20 pages on two cores (up to 350 ms for the last), 7 % of a 30 s run's pages and
    // so the whole p95 (measured: 283 ms p95 with p50 36 ms; one user alone: p95 45 ms).
    if (c.thinkMs > 0) setTimeout(next, r() * c.thinkMs);
    else next();
  })));
  times.sort((a, b) => a - b);
  const pct = (q: number) => (times.length ? Math.round(times[Math.min(times.length - 1, Math.ceil((q / 100) * times.length) - 1)]! * 10) / 10 : NaN);
  return { users: c.cookies.length, rps: Math.round((times.length / c.seconds) * 10) / 10, p50Ms: pct(50), p95Ms: pct(95), p99Ms: pct(99), maxMs: pct(100), requests: times.length, non2xx, errors };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runUsers(JSON.parse(process.argv[2]!) as CabinetLoadConfig).then((res) => {
    console.log(JSON.stringify(res));
  }, (e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
