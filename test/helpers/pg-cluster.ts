// A PostgreSQL cluster of the test's own (initdb into a temp dir, a free port, trust auth) that a fault
// test may stop, restart and kill without touching the machine's server. PostgreSQL refuses to run as
// root: as root, initdb and pg_ctl run as the `postgres` OS user (runuser), which owns the data dir.
import { execFile } from 'node:child_process';
import { access, chown, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './spawn.ts';

const run = promisify(execFile);

export interface PgCluster {
  port: number;
  /** `postgres://127.0.0.1:PORT` — a base for createTestDb / TEST_PG_BASE. */
  base: string;
  /** `pg_ctl restart -m MODE` (fast: sessions terminated, a clean shutdown; immediate: a crash). */
  restart(mode?: 'fast' | 'immediate'): Promise<void>;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  /** The server log (for a failing test's message). */
  log(): Promise<string>;
  destroy(): Promise<void>;
}

async function osUser(name: string): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const uid = Number((await run('id', ['-u', name])).stdout.trim());
    const gid = Number((await run('id', ['-g', name])).stdout.trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/**
 * Where initdb and pg_ctl are: $PG_BIN, else Debian's newest /usr/lib/postgresql/N/bin (not on PATH
 * there), else PATH.
 */
async function pgBin(name: string): Promise<string> {
  if (process.env.PG_BIN) return path.join(process.env.PG_BIN, name);
  const versions = await readdir('/usr/lib/postgresql').catch(() => [] as string[]);
  for (const v of versions.filter((x) => /^\d+$/.test(x)).sort((a, b) => Number(b) - Number(a))) {
    const p = path.join('/usr/lib/postgresql', v, 'bin', name);
    if (await access(p).then(() => true, () => false)) return p;
  }
  return name;
}

export async function startPgCluster(): Promise<PgCluster> {
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? await osUser('postgres') : undefined;
  if (asRoot && !owner) throw new Error('running as root needs the `postgres` OS user to run a private PostgreSQL cluster');
  const dir = await mkdtemp(path.join(tmpdir(), 'magistral-pg-'));
  if (owner) await chown(dir, owner.uid, owner.gid);
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  const as = (cmd: string, args: string[]) => (owner ? run('runuser', ['-u', 'postgres', '--', cmd, ...args]) : run(cmd, args));
  const port = await freePort();
  // fsync off: the cluster lives for one test run and is never recovered from a machine crash; a
  // PostgreSQL crash (-m immediate) still replays its WAL, which is what a test may want to see.
  const serverOpts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=100`;
  const [initdb, pgCtl] = [await pgBin('initdb'), await pgBin('pg_ctl')];
  await as(initdb, ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  const ctl = (args: string[]) => as(pgCtl, ['-D', data, '-l', logFile, '-o', serverOpts, '-w', '-t', '60', ...args]);
  await ctl(['start']);
  return {
    port,
    base: `postgres://postgres@127.0.0.1:${port}`,
    async restart(mode = 'fast') {
      await ctl(['restart', '-m', mode]);
    },
    async stop(mode = 'fast') {
      await ctl(['stop', '-m', mode]);
    },
    async start() {
      await ctl(['start']);
    },
    log: () => readFile(logFile, 'utf8').catch(() => ''),
    async destroy() {
      await ctl(['stop', '-m', 'immediate']).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}
