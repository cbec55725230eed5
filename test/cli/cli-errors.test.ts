// CLI friction (issue 17): a bad id is one line and exit 2, not a stack trace from the database driver;
// a reader that goes away (`magistral runs list | head -1`) ends the command quietly with exit 0.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { createTestDb, type TestDb } from '../helpers/db.ts';

interface Ran { out: string; err: string; code: number | null }

/** Runs the CLI; with `closeStdout` the read end of its stdout is closed at once, before it prints anything. */
async function cli(args: string[], env: Record<string, string>, closeStdout = false): Promise<Ran> {
  const child = spawn(process.execPath, [path.join(REPO_DIR, 'bin/magistral.js'), ...args], { cwd: REPO_DIR, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  if (closeStdout) child.stdout.destroy();
  else child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const [code] = await once(child, 'exit') as [number | null];
  return { out, err, code };
}

describe('CLI errors', () => {
  let db: TestDb;
  let env: Record<string, string>;
  beforeAll(async () => {
    db = await createTestDb('clierr');
    env = { DATABASE_URL: db.url, LOG_LEVEL: 'silent' };
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('refuses a run id that is not a number in one line, exit 2', async () => {
    for (const args of [['runs', 'show', 'abc'], ['runs', 'approve', '12x'], ['runs', 'reject', '0']]) {
      const r = await cli(args, env);
      expect(r.code, r.err).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toBe(`MAG_ERR_BAD_REQUEST: '${args[2]}' is not a run id: give the number \`magistral runs list\` shows\n`);
    }
  });

  it('ends quietly with exit 0 when the reader of its output is gone (EPIPE)', async () => {
    const r = await cli(['runs', 'list'], env, true);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  });
});
