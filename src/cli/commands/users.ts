// `magistral users add|list|disable`: console users (/console) and their roles. A password is never an
// argument (it would show in `ps` and the shell's history): it is asked for on a terminal without echo,
// or read from standard input with --password-stdin (scripts: printf %s "$P" | magistral users add …).
import type { Command } from 'commander';
import type { CliHost } from '../host.ts';
import { createCliContext } from '../context.ts';
import { addConsoleUser, consoleNameProblem, CONSOLE_ROLES, disableConsoleUser, isConsoleRole, listConsoleUsers } from '../../console/users.ts';
import { MagistralError } from '../../errors/index.ts';
import { readPassword } from '../password-input.ts';

export function register(program: Command, _host: CliHost): void {
  const users = program.command('users').description(`console users (/console) with a role: ${CONSOLE_ROLES.join(', ')}`);

  users.command('add').argument('<name>', 'the login name').description('add a console user (the password is asked for, or read from standard input)')
    .requiredOption('--role <role>', `${CONSOLE_ROLES.join(' | ')}: viewer reads, operator also acts on flows and runs, admin also manages users`)
    .option('--password-stdin', 'read the password from standard input instead of asking')
    .action(async (name: string, opts: { role: string; passwordStdin?: boolean }) => {
      // Usage errors before the password is asked for: one line, exit 2 (src/cli/args.ts).
      const usage = consoleNameProblem(name) ?? (isConsoleRole(opts.role) ? null : `'${opts.role}' is not a role: give --role ${CONSOLE_ROLES.join(' | ')}`);
      if (usage) {
        process.exitCode = 2;
        throw new MagistralError('MAG_ERR_BAD_REQUEST', usage);
      }
      const password = await readPassword({ stdin: opts.passwordStdin === true, prompt: `password for ${name}: ` });
      const ctx = createCliContext();
      try {
        const u = await addConsoleUser(ctx.db().db, { name, role: opts.role, password });
        console.log(`console user ${u.name} added (${u.role}); sign in at /console/login`);
      } finally {
        await ctx.close();
      }
    });

  users.command('list').description('console users with role and state').option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const ctx = createCliContext();
      try {
        const rows = await listConsoleUsers(ctx.db().db);
        if (opts.json) console.log(JSON.stringify(rows));
        else if (!rows.length) console.log('no console users: add one with magistral users add NAME --role admin');
        else for (const u of rows) console.log(`${u.name.padEnd(24)} ${u.role.padEnd(9)} ${u.disabled ? 'disabled' : 'active  '} last sign-in ${u.lastLoginAt?.toISOString() ?? 'never'}`);
      } finally {
        await ctx.close();
      }
    });

  users.command('disable').argument('<name>').description('disable a console user: their sessions end at once')
    .action(async (name: string) => {
      const ctx = createCliContext();
      try {
        const r = await disableConsoleUser(ctx.db().db, name);
        console.log(`console user ${name} disabled; ${r.sessionsEnded} session${r.sessionsEnded === 1 ? '' : 's'} ended`);
      } finally {
        await ctx.close();
      }
    });
}
