// `magistral ingest` (its own embedded workers, as on a machine where nothing else runs) through a
// PostgreSQL outage in the middle of the merge: it says once every few seconds that the database does
// not answer, never prints a stack, and ends with the run's summary (exit 0) once the database is back.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { bigPricesPayload, csv, type TestPipeline } from '../helpers/pipeline.ts';
import { startPgCluster, type PgCluster } from '../helpers/pg-cluster.ts';
import { freePort, kill9, sleep, startRedis } from '../helpers/spawn.ts';
import { faultPipeline, H, pricesSum, report, ROWS, SEED_FLOW, waitForState } from './harness.ts';

interface Cli { child: ChildProcess; out: string; err: string; exit: Promise<number | null> }

function startCli(env: Record<string, string>, args: string[]): Cli {
  const child = spawn(process.execPath, [path.join(REPO_DIR, 'bin/magistral.js'), ...args], { cwd: REPO_DIR, env: { ...process.env, ...env, LOG_LEVEL: 'silent' } });
  const cli: Cli = { child, out: '', err: '', exit: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
  child.stdout!.on('data', (d: Buffer) => { cli.out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { cli.err += d.toString(); });
  return cli;
}

describe('magistral ingest through a PostgreSQL outage', () => {
  let pg: PgCluster;
  let redis: ChildProcess;
  let tp: TestPipeline;
  beforeAll(async () => {
    pg = await startPgCluster();
    const redisPort = await freePort();
    redis = await startRedis(redisPort);
    tp = await faultPipeline('ingest', { pgBase: pg.base, redisUrl: `redis://127.0.0.1:${redisPort}` });
    await tp.applyFlowFile('ops/flows/prices-csv.yaml');
    await tp.applyFlowYaml(SEED_FLOW);
  });
  afterAll(async () => {
    await pg?.start().catch(() => {});
    await tp?.close().catch((e: unknown) => console.error('fault suite clean-up:', e));
    await pg?.destroy();
    if (redis) await kill9(redis);
  });

  it('waits for the database, says so, and prints the summary when it is back', async () => {
    const seed = path.join(tp.dataDir, 'seed.csv');
    await writeFile(seed, csv(H, ['SEED;seed;1;RUB']));
    const s = startCli(tp.env, ['ingest', '--flow', 'seed', seed]);
    expect(await s.exit, s.err).toBe(0);

    const file = path.join(tp.dataDir, 'big.csv');
    await writeFile(file, bigPricesPayload(ROWS, 5));
    const cli = startCli(tp.env, ['ingest', '--flow', 'prices-csv', file]);
    const runId = 2;
    await waitForState(tp, runId, ['merging']);
    const stoppedAt = Date.now();
    await pg.stop('fast');
    // Down until the CLI has said twice what it waits for (a line every 5 s): an event, not a guessed time.
    const said = () => cli.err.split('\n').filter((l) => /the database does not answer/.test(l)).length;
    while (said() < 2 && cli.child.exitCode === null) await sleep(50);
    const downMs = Date.now() - stoppedAt;
    await pg.start();
    const code = await cli.exit;
    const got = await pricesSum(tp);
    const lines = cli.err.trim().split('\n');
    report('ingest through a postgres outage', { exit: code, downMs, msToSummary: Date.now() - stoppedAt, rows: got.rows, duplicated: got.duplicated, stderrLines: lines.length });
    console.log(cli.err);
    expect(code, cli.err).toBe(0);
    expect(cli.err).not.toMatch(/\n\s+at /);
    expect(said()).toBeGreaterThanOrEqual(2);
    expect(lines[0]).toMatch(new RegExp(`^magistral: waiting for run ${runId}: the database does not answer \\(`));
    expect(cli.out).toMatch(/done/);
    expect(got).toMatchObject({ rows: ROWS + 1, duplicated: 0 });
    expect((await tp.rt.pool.query('SELECT state FROM runs WHERE id = $1', [runId])).rows[0].state).toBe('done');
  });
});
