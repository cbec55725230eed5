// `magistral managers invite|password|disable|list`: managers' access to the workplace (/manager). The
// managers themselves come from the CRM or a CSV flow; this gives them a login.
import type { Command } from 'commander';
import { sql } from 'kysely';
import type { CliHost } from '../host.ts';
import { createCliContext } from '../context.ts';
import { disableManager, inviteManager, setManagerPassword } from '../../backoffice/managers.ts';

const publicUrl = (c: { MAGISTRAL_PUBLIC_URL?: string; PORT: number }): string => c.MAGISTRAL_PUBLIC_URL ?? `http://127.0.0.1:${c.PORT}`;

export function register(program: Command, _host: CliHost): void {
  const mgr = program.command('managers').description('managers\' logins to the workplace (/manager): invitations, passwords, disabling');

  mgr.command('list').description('managers with their login state')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const ctx = createCliContext();
      try {
        const rows = (await sql<{ code: string; name: string; email: string | null; login: string | null; state: string; clients: number }>`
          SELECT m.code, m.name, m.email, a.email AS login,
            CASE WHEN a.manager_id IS NULL THEN 'no login' WHEN a.disabled THEN 'disabled' WHEN a.password_hash IS NULL THEN 'invited' ELSE 'active' END AS state,
            (SELECT count(*)::int FROM clients c WHERE c.manager_id = m.id) AS clients
          FROM managers m LEFT JOIN manager_accounts a ON a.manager_id = m.id WHERE NOT m.placeholder ORDER BY m.code`.execute(ctx.db().db)).rows;
        if (opts.json) console.log(JSON.stringify(rows));
        else for (const r of rows) console.log(`${r.code}\t${r.name}\t${r.login ?? r.email ?? '-'}\t${r.state}\t${r.clients} clients`);
      } finally {
        await ctx.close();
      }
    });

  mgr.command('invite').description('invite a manager: e-mails a link to set the password (also printed)')
    .argument('<manager>', 'manager code')
    .option('--email <address>', 'the login e-mail (default: the manager\'s e-mail)')
    .action(async (code: string, opts: { email?: string }) => {
      const ctx = createCliContext();
      try {
        const inv = await inviteManager(ctx.db().db, { code, email: opts.email, publicUrl: publicUrl(ctx.config) });
        console.log(`invited ${code} as ${inv.email}; the e-mail is queued (delivered by the workers)\n${inv.url}`);
      } finally {
        await ctx.close();
      }
    });

  mgr.command('password').description('set a manager\'s password directly (makes the login if needed; other sessions end)')
    .argument('<manager>', 'manager code')
    .requiredOption('--password <password>', 'the new password (at least 10 characters)')
    .option('--email <address>', 'the login e-mail (default: the manager\'s e-mail)')
    .action(async (code: string, opts: { password: string; email?: string }) => {
      const ctx = createCliContext();
      try {
        await setManagerPassword(ctx.db().db, code, opts.password, opts.email);
        console.log(`password set for manager ${code}`);
      } finally {
        await ctx.close();
      }
    });

  mgr.command('disable').description('disable a manager\'s login (their sessions end at once)')
    .argument('<manager>', 'manager code')
    .action(async (code: string) => {
      const ctx = createCliContext();
      try {
        await disableManager(ctx.db().db, code);
        console.log(`manager ${code} disabled`);
      } finally {
        await ctx.close();
      }
    });
}
