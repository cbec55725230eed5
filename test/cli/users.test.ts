// `magistral users add|list|disable`: console users from the shell. The password never travels as an
// argument (stdin here; a terminal prompt otherwise), bad input is one line with exit 2, disabling ends the
// user's sessions at once.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createConsoleSession, loadConsoleSession } from '../../src/console/sessions.ts';
import { verifyPassword } from '../../src/cabinet/passwords.ts';

interface Ran { out: string; err: string; code: number | null }

async function cli(args: string[], env: Record<string, string>, stdin?: string): Promise<Ran> {
  const child = spawn(process.execPath, [path.join(REPO_DIR, 'bin/magistral.js'), ...args], {
    cwd: REPO_DIR, env: { ...process.env, ...env }, stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  if (stdin !== undefined) child.stdin!.end(stdin);
  const [code] = await once(child, 'exit') as [number | null];
  return { out, err, code };
}

/**
 * Runs `users add` on a terminal (util-linux `script` gives it a pty) and types each answer when its prompt
 * appears: what a person at a shell sees, echo included.
 */
async function cliOnTerminal(args: string[], env: Record<string, string>, answers: Array<[prompt: string, typed: string]>): Promise<Ran> {
  const command = [process.execPath, path.join(REPO_DIR, 'bin/magistral.js'), ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: REPO_DIR, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let next = 0;
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    const a = answers[next];
    if (a && out.includes(a[0])) {
      next += 1;
      child.stdin.write(`${a[1]}\r`);
    }
  });
  const [code] = await once(child, 'exit') as [number | null];
  return { out, err: '', code };
}

describe('magistral users', () => {
  let db: TestDb;
  let env: Record<string, string>;
  beforeAll(async () => {
    db = await createTestDb('users');
    env = { DATABASE_URL: db.url, LOG_LEVEL: 'silent' };
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('adds users with the password from stdin, lists them, refuses a second active user of the name', async () => {
    const a = await cli(['users', 'add', 'olga', '--role', 'operator', '--password-stdin'], env, 'Секрет-оператора-1\n');
    expect(a.err).toBe('');
    expect(a.code).toBe(0);
    expect(a.out).toContain('console user olga added (operator)');
    const row = await db.db.selectFrom('console_users').selectAll().where('name', '=', 'olga').executeTakeFirstOrThrow();
    expect(row.role).toBe('operator');
    // Hashed, and the trailing newline of `echo` is not part of the password.
    expect(row.password_hash).not.toContain('Секрет');
    expect(await verifyPassword('Секрет-оператора-1', row.password_hash)).toBe(true);
    expect((await cli(['users', 'add', 'viktor', '--role', 'viewer', '--password-stdin'], env, 'viewer-pass-2')).code).toBe(0);

    const again = await cli(['users', 'add', 'OLGA', '--role', 'admin', '--password-stdin'], env, 'another-pass-3');
    expect(again.code).toBe(1);
    expect(again.err).toBe('MAG_ERR_CONFLICT: console user OLGA exists: disable it first (magistral users disable OLGA) to give it a new role or password\n');

    const list = await cli(['users', 'list', '--json'], env);
    expect(list.code).toBe(0);
    expect((JSON.parse(list.out) as Array<{ name: string; role: string; disabled: boolean }>).map((u) => [u.name, u.role, u.disabled]))
      .toEqual([['olga', 'operator', false], ['viktor', 'viewer', false]]);
    const text = await cli(['users', 'list'], env);
    expect(text.out).toMatch(/^olga\s+operator\s+active\s+last sign-in never$/m);
  });

  it('refuses a bad role, a bad name, a weak password and a missing terminal in one line each', async () => {
    const role = await cli(['users', 'add', 'x1', '--role', 'root', '--password-stdin'], env, 'good-pass-1');
    expect(role.code).toBe(2);
    expect(role.err).toBe("MAG_ERR_BAD_REQUEST: 'root' is not a role: give --role viewer | operator | admin\n");
    const name = await cli(['users', 'add', 'bad name', '--role', 'viewer', '--password-stdin'], env, 'good-pass-1');
    expect(name.code).toBe(2);
    expect(name.err).toBe("MAG_ERR_BAD_REQUEST: 'bad name' is not a user name: 1-64 of A-Z a-z 0-9 . _ @ -, starting with a letter or digit\n");
    const weak = await cli(['users', 'add', 'weak', '--role', 'viewer', '--password-stdin'], env, 'short');
    expect(weak.code).toBe(1);
    expect(weak.err).toBe('MAG_ERR_BAD_REQUEST: the password is refused: Пароль должен быть не короче 8 символов.\n');
    const noTty = await cli(['users', 'add', 'nopass', '--role', 'viewer'], env);
    expect(noTty.code).toBe(2);
    expect(noTty.err).toBe('MAG_ERR_BAD_REQUEST: no terminal to ask for the password: pass it on standard input with --password-stdin\n');
    const none = await db.db.selectFrom('console_users').select('name').where('name', 'in', ['x1', 'weak', 'nopass']).execute();
    expect(none).toEqual([]);
  });

  it('disables a user: their sessions end at once; an unknown name is one line', async () => {
    const u = await db.db.selectFrom('console_users').select('id').where('name', '=', 'viktor').executeTakeFirstOrThrow();
    const cookie = await createConsoleSession(db.db, u.id, { ip: '127.0.0.1' });
    expect(await loadConsoleSession(db.db, cookie)).toBeDefined();
    const r = await cli(['users', 'disable', 'viktor'], env);
    expect(r.code).toBe(0);
    expect(r.out).toBe('console user viktor disabled; 1 session ended\n');
    expect(await loadConsoleSession(db.db, cookie)).toBeUndefined();
    expect(await db.db.selectFrom('console_sessions').select('id_hash').where('user_id', '=', u.id).execute()).toEqual([]);
    const unknown = await cli(['users', 'disable', 'nobody'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toBe('MAG_ERR_NOT_FOUND: no console user nobody: see magistral users list\n');
  });

  it('asks for the password twice on a terminal without echoing it, and refuses two different answers', async () => {
    const typed = 'терминал-Пароль-7';
    const r = await cliOnTerminal(['users', 'add', 'tty-user', '--role', 'viewer'], env, [['password for tty-user: ', typed], ['again: ', typed]]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('console user tty-user added (viewer)');
    expect(r.out).not.toContain(typed);
    const row = await db.db.selectFrom('console_users').select('password_hash').where('name', '=', 'tty-user').executeTakeFirstOrThrow();
    expect(await verifyPassword(typed, row.password_hash)).toBe(true);
    const differ = await cliOnTerminal(['users', 'add', 'tty-two', '--role', 'viewer'], env, [['password for tty-two: ', 'first-Пароль-1'], ['again: ', 'other-Пароль-2']]);
    expect(differ.code).toBe(2);
    expect(differ.out).toContain('MAG_ERR_BAD_REQUEST: the two passwords differ: nothing changed');
    expect(await db.db.selectFrom('console_users').select('id').where('name', '=', 'tty-two').execute()).toEqual([]);
  });
});
