// Safe by default (issue 17): the server listens on loopback unless HOST is set, refuses a network
// address while a demo secret is in use, and no configuration error shows a secret's value.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { setPassword } from '../../src/cabinet/accounts.ts';
import { DEMO_CABINET_PASSWORD, DEMO_CONSOLE_PASSWORD, DEMO_CONSOLE_USER, demoSecretsInUse, isLoopback } from '../../src/cli/demo-secrets.ts';
import { addConsoleUser, disableConsoleUser } from '../../src/console/users.ts';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { freePort } from '../helpers/spawn.ts';

const CLI = path.join(REPO_DIR, 'bin/magistral.js');
const children = new Set<ChildProcess>();

/** Runs the CLI to its end (or until `until` appears on stdout, then stops it): output and exit code. */
async function cli(args: string[], env: Record<string, string>, until?: string): Promise<{ out: string; err: string; code: number | null }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_DIR, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (until && out.includes(until)) child.kill('SIGTERM');
  });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const [code] = await once(child, 'exit') as [number | null];
  return { out, err, code };
}

describe('configuration errors never show a secret', () => {
  it('names a too-short admin token and its rule without its value', () => {
    const secret = 'nc-admin-secret';
    let message = '';
    try {
      loadConfig({ MAGISTRAL_ADMIN_TOKEN: secret });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('MAGISTRAL_ADMIN_TOKEN must have at least 16 characters');
    expect(message).not.toContain(secret);
  });

  it('masks the password of a connection URL it refuses', () => {
    let message = '';
    try {
      loadConfig({ DATABASE_URL: 'mysql://app:hunter2-db-secret@db.local/shop', REDIS_URL: 'http://:hunter3-redis@r.local' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('DATABASE_URL="mysql://app:***@db.local/shop"');
    expect(message).toContain('REDIS_URL=');
    expect(message).not.toMatch(/hunter2|hunter3/);
  });
});

describe('listening address', () => {
  it('is loopback unless HOST is set', () => {
    expect(loadConfig({}).HOST).toBe('127.0.0.1');
    expect(loadConfig({ HOST: '0.0.0.0' }).HOST).toBe('0.0.0.0');
    expect(['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.5', 'example.com'].some(isLoopback)).toBe(false);
  });
});

describe('magistral start with demo secrets', () => {
  let tp: TestPipeline;
  let port: number;
  beforeAll(async () => {
    tp = await createTestPipeline('safestart', { workers: false });
    port = await freePort();
  }, 60_000);
  afterAll(async () => {
    // A server a failed assertion left running (a refusal that did not come) is stopped here.
    for (const c of children) c.kill('SIGTERM');
    await tp?.close();
  });

  it('refuses a network address with the demo admin token in one line that does not show it', async () => {
    const r = await cli(['start'], { ...tp.env, PORT: String(port), HOST: '0.0.0.0', MAGISTRAL_ADMIN_TOKEN: 'magistral-demo-admin-token', ONEC_PASSWORD: 'magistral-demo-1c' });
    expect(r.code).toBe(2);
    expect(r.out).not.toContain('Magistral is up');
    const lines = r.err.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/refusing to listen on 0\.0\.0\.0 while demo secrets are in use: set your own MAGISTRAL_ADMIN_TOKEN, ONEC_PASSWORD; or unset HOST/);
    expect(r.err).not.toContain('magistral-demo-admin-token');
  }, 60_000);

  it('serves loopback with the demo token, and the network with its own secrets', async () => {
    const local = await cli(['start', '--api-only'], { ...tp.env, PORT: String(port), MAGISTRAL_ADMIN_TOKEN: 'magistral-demo-admin-token' }, 'Magistral is up');
    expect(local.out).toContain(`Magistral is up: http://127.0.0.1:${port}`);
    const own = await cli(['start', '--api-only'], { ...tp.env, PORT: String(port), HOST: '0.0.0.0', MAGISTRAL_ADMIN_TOKEN: 'an-operators-own-token-0123' }, 'Magistral is up');
    expect(own.out).toContain('Magistral is up');
  }, 60_000);

  it('counts a demo account still on the published password as a demo secret', async () => {
    const c = await tp.rt.pool.query<{ id: string }>(`INSERT INTO clients (code, name) VALUES ('C1', 'Demo') RETURNING id`);
    await tp.rt.pool.query(`INSERT INTO contacts (code, client_id, name, email) VALUES ('P1', $1, 'Demo', 'p1@example.com')`, [c.rows[0]!.id]);
    await setPassword(tp.rt.db, 'P1', DEMO_CABINET_PASSWORD);
    expect(await demoSecretsInUse({}, tp.rt.db)).toEqual([expect.stringContaining('cabinet password of contact P1')]);
    await setPassword(tp.rt.db, 'P1', 'an-own-password-42');
    expect(await demoSecretsInUse({}, tp.rt.db)).toEqual([]);
  });

  it('counts the demo console user on the published password as a demo secret, and refuses the network for it', async () => {
    await addConsoleUser(tp.rt.db, { name: DEMO_CONSOLE_USER, role: 'admin', password: DEMO_CONSOLE_PASSWORD, replace: true });
    expect(await demoSecretsInUse({}, tp.rt.db)).toEqual([expect.stringContaining(`console password of user ${DEMO_CONSOLE_USER}`)]);
    const r = await cli(['start', '--api-only'], { ...tp.env, PORT: String(port), HOST: '0.0.0.0', MAGISTRAL_ADMIN_TOKEN: 'an-operators-own-token-0123' });
    expect(r.code).toBe(2);
    expect(r.err).toContain(`refusing to listen on 0.0.0.0 while demo secrets are in use: set your own the console password of user ${DEMO_CONSOLE_USER}`);
    expect(r.err).not.toContain(DEMO_CONSOLE_PASSWORD);
    await addConsoleUser(tp.rt.db, { name: DEMO_CONSOLE_USER, role: 'admin', password: 'an-own-console-pass-7', replace: true });
    expect(await demoSecretsInUse({}, tp.rt.db)).toEqual([]);
    await addConsoleUser(tp.rt.db, { name: DEMO_CONSOLE_USER, role: 'admin', password: DEMO_CONSOLE_PASSWORD, replace: true });
    await disableConsoleUser(tp.rt.db, DEMO_CONSOLE_USER);
    expect(await demoSecretsInUse({}, tp.rt.db)).toEqual([]);
  }, 60_000);
});
