// `npm start` on a used database (issue 17): prices changed through the demo's own prices-csv flow and
// approved, then the demo loaded again — its prices run is held by the guard. `demo` used to exit 1 with
// no word (start.sh stopped silently), and the next start waited 5 minutes behind the held run. Now each
// start ends, exit 0, saying in one line which run is held and the command that moves it.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveRun, waitForRun } from '../../src/pipeline/runs.ts';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';

const children = new Set<ChildProcess>();

/** `magistral demo` on the test's database; stopped after `limitMs` (the old code waited 5 minutes). */
async function demo(env: Record<string, string>, limitMs = 150_000): Promise<{ out: string; code: number | null }> {
  const child = spawn(process.execPath, [path.join(REPO_DIR, 'bin/magistral.js'), 'demo'], { cwd: REPO_DIR, env: { ...process.env, ...env, LOG_LEVEL: 'silent' }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  const [code] = await once(child, 'exit') as [number | null];
  clearTimeout(timer);
  children.delete(child);
  return { out, code };
}

describe('magistral demo on a used database', () => {
  let tp: TestPipeline;
  beforeAll(async () => {
    tp = await createTestPipeline('demorestart');
  }, 60_000);
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await tp?.close();
  });

  it('second and third starts end at once, naming the held run and the command that moves it', async () => {
    const first = await demo(tp.env);
    expect(first.code, first.out).toBe(0);

    // An operator pushes changed prices through the demo's flow (as the README suggests) and approves them.
    const [header, ...rows] = readFileSync(path.join(REPO_DIR, 'ops/demo/prices.csv'), 'utf8').trim().split('\n');
    const changed = [header, ...rows.map((r) => r.replace(/;(\d+)(,\d+)?;RUB$/, (_m, n: string) => `;${Number(n) + 1};RUB`))].join('\n');
    const mine = await tp.ingest('prices-csv', changed, 'my-prices.csv');
    expect(mine.state).toBe('held');
    await approveRun(tp.rt, mine.id);
    expect((await waitForRun(tp.rt.db, mine.id, { timeoutMs: 60_000 })).state).toBe('done');

    // Second start: the demo's own prices run is held by the guard; demo says so and ends well.
    const second = await demo(tp.env);
    const held = /^demo: run (\d+) of flow prices-csv is held: approve it .*\(magistral runs approve (\d+)\) or reject it .*\(magistral runs reject (\d+)\)$/m.exec(second.out);
    expect(held, second.out).not.toBeNull();
    expect(new Set([held![1], held![2], held![3]]).size).toBe(1);
    expect(second.code).toBe(0);
    expect(second.out).toMatch(/portal API key \(demo, all scopes\): mgk_/);

    // Third start: the held run is still there; nothing new is queued behind it, and the line says which.
    const third = await demo(tp.env);
    expect(third.out).toMatch(new RegExp(`^demo: ops/demo/prices\\.csv not loaded again: run ${held![1]} of flow prices-csv is held \\(would change .*\\); approve it \\(magistral runs approve ${held![1]}\\) or reject it \\(magistral runs reject ${held![1]}\\), then start again$`, 'm'));
    expect(third.code).toBe(0);
    const open = await tp.rt.pool.query(`SELECT r.id FROM runs r JOIN flows f ON f.id = r.flow_id WHERE f.name = 'prices-csv' AND r.state NOT IN ('done', 'failed', 'rejected', 'held')`);
    expect(open.rows).toEqual([]);
  }, 600_000);
});
