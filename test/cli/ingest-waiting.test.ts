// `magistral ingest` says what it waits for (issue 17, item 5): behind a held run it names that run
// and how to release it, every few seconds and in the timeout's message; it used to wait in silence
// and end with "run N is still staged after … ms".
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { createTestPipeline, csv, type TestPipeline } from '../helpers/pipeline.ts';

const H = 'sku;price_type;price;currency';

function runCli(env: Record<string, string>, args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [path.join(REPO_DIR, 'bin/magistral.js'), ...args], { cwd: REPO_DIR, env: { ...process.env, ...env, LOG_LEVEL: 'silent' } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out, err })));
}

describe('ingest behind a held run', () => {
  let tp: TestPipeline;
  beforeAll(async () => {
    tp = await createTestPipeline('ingestwait');
    await tp.applyFlowFile('ops/flows/prices-csv.yaml');
  });
  afterAll(async () => { await tp?.close(); });

  it('names the held run it waits for, every few seconds and when it gives up', async () => {
    const rows = (v: number) => Array.from({ length: 10 }, (_, i) => `P${i};retail;${v + i};RUB`);
    expect((await tp.ingest('prices-csv', csv(H, rows(1)))).state).toBe('done');
    // Every price changed: more than the flow's guard (50 %) allows.
    const held = await tp.ingest('prices-csv', csv(H, rows(100)));
    expect(held.state).toBe('held');

    const file = path.join(tp.dataDir, 'next.csv');
    await writeFile(file, csv(H, rows(1)));
    const r = await runCli(tp.env, ['ingest', '--flow', 'prices-csv', '--timeout', '8', file]);
    const lines = r.err.trim().split('\n');
    expect(r.code).toBe(1);
    // At least one progress line before the end, naming the held run and what releases it.
    const progress = lines.filter((l) => l.startsWith('magistral: run '));
    expect(progress.length, r.err).toBeGreaterThanOrEqual(1);
    expect(progress[0]).toMatch(new RegExp(`waiting for run ${held.id} of flow prices-csv, held for a person \\(would change .*\\): magistral runs approve ${held.id}`));
    expect(lines.at(-1)).toMatch(new RegExp(`^MAG_ERR_RUN_STATE: run \\d+ is staged, waiting for run ${held.id} of flow prices-csv, held`));
    expect(r.err).not.toMatch(/\n\s+at /);
  });
});
