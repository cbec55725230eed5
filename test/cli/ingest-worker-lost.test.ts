// `magistral ingest` whose only worker dies while it waits: the CLI finishes the run with workers of
// its own, or (with --no-embedded-workers) says so in one line and exits 4, within a bounded time.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bigPricesPayload, createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { kill9, sleep, startWorkerProcess } from '../helpers/spawn.ts';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { EXIT_NO_WORKERS } from '../../src/cli/wait-run.ts';

const N = 150_000;


interface Cli { child: ChildProcess; out: string; err: string; exit: Promise<number | null> }

function startCli(env: Record<string, string>, args: string[]): Cli {
  const child = spawn(process.execPath, [path.join(REPO_DIR, 'bin/magistral.js'), ...args], { cwd: REPO_DIR, env: { ...process.env, ...env, LOG_LEVEL: 'silent' } });
  const cli: Cli = { child, out: '', err: '', exit: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
  child.stdout.on('data', (d: Buffer) => { cli.out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { cli.err += d.toString(); });
  return cli;
}

async function stateOf(tp: TestPipeline): Promise<string | undefined> {
  return (await tp.rt.pool.query<{ state: string }>('SELECT state FROM runs ORDER BY id DESC LIMIT 1')).rows[0]?.state;
}

/** Resolves with the exit code, or fails the test when the CLI is still waiting after `ms`. */
async function exitWithin(cli: Cli, ms: number): Promise<number | null> {
  const timer = sleep(ms).then(() => 'timeout' as const);
  const r = await Promise.race([cli.exit, timer]);
  if (r === 'timeout') {
    cli.child.kill('SIGKILL');
    throw new Error(`CLI still waiting after ${ms} ms; stdout: ${cli.out} stderr: ${cli.err}`);
  }
  return r;
}

describe('ingest when its only worker dies mid-wait', () => {
  const children: ChildProcess[] = [];
  let tp: TestPipeline | undefined;
  afterEach(async () => {
    for (const c of children.splice(0)) await kill9(c);
    await tp?.close();
    tp = undefined;
  });

  for (const embedded of [true, false]) {
    it(embedded ? 'finishes the run with its own workers' : 'with --no-embedded-workers, says so in one line and exits 4', async () => {
      tp = await createTestPipeline(embedded ? 'lostemb' : 'lostnoemb', { workers: false });
      await tp.applyFlowFile('ops/flows/prices-csv.yaml');
      const file = path.join(tp.dataDir, 'prices.csv');
      await writeFile(file, bigPricesPayload(N));
      const worker = await startWorkerProcess(tp.env);
      children.push(worker);

      const cli = startCli(tp.env, ['ingest', '--flow', 'prices-csv', ...(embedded ? [] : ['--no-embedded-workers']), file]);
      children.push(cli.child);
      // The CLI saw a worker and is waiting: the worker has the run in hand.
      for (let s = await stateOf(tp); s !== 'extracting'; s = await stateOf(tp)) {
        expect(cli.child.exitCode).toBeNull();
        await sleep(20);
      }
      await sleep(300);
      await kill9(worker);
      expect(['received', 'extracting']).toContain(await stateOf(tp));

      const code = await exitWithin(cli, 60_000);
      if (embedded) {
        expect(code).toBe(0);
        expect(cli.out).toMatch(/^run \d+ of flow prices-csv: done/);
        expect(cli.out).toContain(`read      ${N}`);
        expect(cli.err).toContain('no worker left on the queues');
        expect(await stateOf(tp)).toBe('done');
      } else {
        expect(code).toBe(EXIT_NO_WORKERS);
        expect(cli.out).toBe('');
        const lines = cli.err.trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/^MAG_ERR_NO_WORKERS: run \d+ is \w+ and no worker of this installation is connected/);
        // Nothing was lost: the run stays open for the next workers.
        expect(['received', 'extracting']).toContain(await stateOf(tp));
      }
    }, 180_000); // spawning the CLI and a worker is slow on a loaded machine; the bound under test is exitWithin's
  }
});
