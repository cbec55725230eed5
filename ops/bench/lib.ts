// Shared pieces of the benchmarks: child processes, psql, ports, worker processes with RSS sampling.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = path.join(REPO, 'bin/magistral.js');
/** The V8 flags bin/magistral.js's shebang gives a process (a spawned `node BIN` does not read the shebang). */
export const BIN_NODE_FLAGS = readFileSync(BIN, 'utf8').split('\n', 1)[0]!.split(/\s+/).filter((a) => a.startsWith('--'));

// ------------------------------------------------------------------------------------------ helpers

const t0 = Date.now();
export function progress(msg: string): void {
  process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(1).padStart(7)} s] ${msg}\n`);
}

export interface Exec { code: number | null; stdout: string; stderr: string; ms: number }

export function exec(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Exec> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - started }));
  });
}

export async function mustExec(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<Exec> {
  const r = await exec(cmd, args, env);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.code}:\n${r.stderr}${r.stdout}`);
  return r;
}

/** Runs psql against a database with ON_ERROR_STOP; `script` is passed on stdin-free `-c`/`-f` args. */
export function psql(url: string, args: string[]): Promise<Exec> {
  return mustExec('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, ...args]);
}

export async function query<T extends pg.QueryResultRow = Record<string, unknown>>(c: pg.Client, text: string, values?: unknown[]): Promise<T[]> {
  return (await c.query<T>(text, values)).rows;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Runs a TypeScript script of the repo in its own Node process (a load generator, a measured child) and
 * answers the JSON object on the last line of its stdout; its stderr (progress) goes to ours.
 */
export function runJsonScript<T>(script: string, args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, script), ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('error', reject);
    p.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`${script} exited with ${code}: ${out}`));
      else resolve(JSON.parse(line) as T);
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const sqlLit = (s: string) => `'${s.replace(/'/g, "''")}'`;

// --------------------------------------------------------------------------------- worker & sampling

export interface WorkerProc {
  pid: number;
  maxRssKb: number;
  stop(): Promise<number>;
}

export function procStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Starts `magistral start --workers-only` in its own process; resolves once it says it is up. */
export async function startWorker(env: NodeJS.ProcessEnv, logFile: string): Promise<WorkerProc> {
  // BENCH_WORKER_NODE_FLAGS: extra V8/Node flags for the worker (e.g. GC settings measured side by side).
  const extra = (process.env.BENCH_WORKER_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const p = spawn(process.execPath, [...(process.env.BENCH_WORKER_PROF ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.BENCH_WORKER_PROF] : []), ...BIN_NODE_FLAGS, ...extra, BIN, 'start', '--workers-only'], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  // ops/bench/data is git-ignored: a fresh clone has no such folder (bench:console died on it).
  mkdirSync(path.dirname(logFile), { recursive: true });
  const log = createWriteStream(logFile);
  p.stderr.pipe(log);
  let exited = false;
  const exit = new Promise<void>((resolve) => p.on('exit', () => { exited = true; resolve(); }));
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`worker did not start in 60 s (log: ${logFile})`)), 60_000);
    p.stdout.on('data', (d: Buffer) => {
      log.write(d);
      if (seen.length < 100_000) seen += d.toString();
      if (seen.includes('Magistral is up')) { clearTimeout(timer); resolve(); }
    });
    p.on('exit', (code) => { clearTimeout(timer); reject(new Error(`worker exited with ${code} (log: ${logFile})`)); });
  });
  const pid = p.pid!;
  const w: WorkerProc = {
    pid,
    maxRssKb: 0,
    async stop() {
      clearInterval(sampler);
      const hwm = procStatusKb(pid, 'VmHWM');
      w.maxRssKb = Math.max(w.maxRssKb, procStatusKb(pid, 'VmRSS'));
      if (!exited) {
        p.kill('SIGTERM');
        await Promise.race([exit, sleep(20_000)]);
        if (!exited) {
          p.kill('SIGKILL');
          await exit;
        }
      }
      log.end();
      return hwm;
    },
  };
  const sampler = setInterval(() => { w.maxRssKb = Math.max(w.maxRssKb, procStatusKb(pid, 'VmRSS')); }, 200);
  sampler.unref();
  return w;
}

// ------------------------------------------------------------------------------------------------ API

export interface ApiProc { pid: number; port: number; stop(): Promise<void> }

/** Starts `magistral start --api-only` on a free loopback port in its own process; resolves once it says it is up. */
export async function startApi(env: NodeJS.ProcessEnv, logFile: string): Promise<ApiProc> {
  const port = await freePort();
  const p = spawn(process.execPath, [...(process.env.BENCH_API_PROF ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.BENCH_API_PROF] : []), ...BIN_NODE_FLAGS, ...(process.env.BENCH_API_NODE_FLAGS ?? '').split(' ').filter(Boolean), BIN, 'start', '--api-only'], { cwd: REPO, env: { ...env, PORT: String(port), HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  // ops/bench/data is git-ignored: a fresh clone has no such folder (bench:console died on it).
  mkdirSync(path.dirname(logFile), { recursive: true });
  const log = createWriteStream(logFile);
  p.stderr.pipe(log);
  let exited = false;
  const exit = new Promise<void>((resolve) => p.on('exit', () => { exited = true; resolve(); }));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`API did not start in 60 s (log: ${logFile})`)), 60_000);
    p.stdout.on('data', (d: Buffer) => {
      log.write(d);
      if (d.toString().includes('Magistral is up')) { clearTimeout(timer); resolve(); }
    });
    p.on('exit', (code) => { clearTimeout(timer); reject(new Error(`API exited with ${code} (log: ${logFile})`)); });
  });
  return {
    pid: p.pid!,
    port,
    async stop() {
      if (!exited) {
        p.kill('SIGTERM');
        await Promise.race([exit, sleep(20_000)]);
        if (!exited) p.kill('SIGKILL');
      }
      log.end();
    },
  };
}

/**
 * A process's command name and the fields of /proc/PID/stat after it (state first, so utime and stime,
 * the 14th and 15th fields of the line, are [11] and [12]; cutime and cstime [13] and [14]). Undefined once
 * the process is gone.
 */
function procStat(pid: number | string): { comm: string; f: string[] } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    return { comm: stat.slice(stat.indexOf('(') + 1, close), f: stat.slice(close + 2).split(' ') };
  } catch {
    return undefined;
  }
}

const TICKS = 100;

/** CPU time (user + system) a process has used so far, in seconds (Linux /proc; 0 once it is gone). */
export function procCpuSeconds(pid: number): number {
  const s = procStat(pid);
  return s ? (Number(s.f[11]) + Number(s.f[12])) / TICKS : 0;
}

/**
 * CPU time all of PostgreSQL's processes have used so far, in seconds: every live `postgres` process plus
 * what the postmaster has collected from children that exited (cutime + cstime), so a backend that ends
 * mid-measurement is still counted. Only meaningful as a difference of two readings.
 */
export function postgresCpuSeconds(): number {
  let total = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = procStat(name);
    if (s?.comm !== 'postgres') continue;
    total += (Number(s.f[11]) + Number(s.f[12])) / TICKS;
    // The postmaster is the postgres process whose parent is not a postgres process.
    if (procStat(s.f[1]!)?.comm !== 'postgres') total += (Number(s.f[13]) + Number(s.f[14])) / TICKS;
  }
  return total;
}

/** The machine's busy and total CPU seconds so far, over all cores (/proc/stat); a difference gives utilisation. */
export function machineCpuSeconds(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = f[3]! + f[4]!;
  return { busy: (total - idle) / TICKS, total: total / TICKS };
}
