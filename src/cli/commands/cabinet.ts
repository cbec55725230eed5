// `magistral cabinet invite|password|signups|approve|reject`: cabinet accounts from the command line —
// invite a contact (the link is e-mailed through the outbox and printed), set a password directly,
// and decide on self-registered buyers until the manager workplace does it on a page.
import type { Command } from 'commander';
import type { CliHost } from '../host.ts';
import { createCliContext } from '../context.ts';
import { decideSignup, inviteContact, listSignups, setPassword } from '../../cabinet/accounts.ts';
import { MagistralError } from '../../errors/index.ts';

const publicUrl = (c: { MAGISTRAL_PUBLIC_URL?: string; PORT: number }): string => c.MAGISTRAL_PUBLIC_URL ?? `http://127.0.0.1:${c.PORT}`;

function signupId(v: string): number {
  if (!/^[0-9]+$/.test(v)) throw new MagistralError('MAG_ERR_BAD_REQUEST', `sign-up id must be a number, got '${v}'`);
  return Number(v);
}

export function register(program: Command, _host: CliHost): void {
  const cab = program.command('cabinet').description('client cabinet accounts: invitations, passwords, sign-ups awaiting approval');

  cab.command('invite').description('invite a contact: e-mails a link to set the first password (also printed)')
    .argument('<contact>', 'contact code')
    .option('--email <address>', 'the login e-mail (default: the contact\'s e-mail)')
    .action(async (contact: string, opts: { email?: string }) => {
      const ctx = createCliContext();
      try {
        const inv = await inviteContact(ctx.db().db, { contactCode: contact, email: opts.email, publicUrl: publicUrl(ctx.config) });
        console.log(`invited ${contact} as ${inv.email}; the e-mail is queued (delivered by the workers)\n${inv.url}`);
      } finally {
        await ctx.close();
      }
    });

  cab.command('password').description('set a contact\'s cabinet password directly (makes the account if needed)')
    .argument('<contact>', 'contact code')
    .requiredOption('--password <password>', 'the new password')
    .option('--email <address>', 'the login e-mail (default: the contact\'s e-mail)')
    .action(async (contact: string, opts: { password: string; email?: string }) => {
      const ctx = createCliContext();
      try {
        await setPassword(ctx.db().db, contact, opts.password, opts.email);
        console.log(`password set for ${contact}`);
      } finally {
        await ctx.close();
      }
    });

  cab.command('signups').description('self-registered buyers (default: those awaiting approval)')
    .option('--status <status>', 'pending | approved | rejected', 'pending')
    .option('--json', 'print JSON')
    .action(async (opts: { status: string; json?: boolean }) => {
      if (!['pending', 'approved', 'rejected'].includes(opts.status)) throw new MagistralError('MAG_ERR_BAD_REQUEST', `--status must be pending, approved or rejected, got '${opts.status}'`);
      const ctx = createCliContext();
      try {
        const list = await listSignups(ctx.db().db, opts.status as 'pending');
        if (opts.json) console.log(JSON.stringify(list));
        else for (const s of list) console.log(`${s.id}\t${s.created_at.toISOString()}\t${s.company}\tИНН ${s.inn}\t${s.contact_name} <${s.email}>\t${s.status}`);
      } finally {
        await ctx.close();
      }
    });

  for (const [name, approve] of [['approve', true], ['reject', false]] as const) {
    cab.command(name).description(approve ? 'approve a sign-up: the client may order' : 'reject a sign-up: the client stays blocked')
      .argument('<id>', 'sign-up id (see cabinet signups)')
      .option('--by <who>', 'who decides (recorded)', process.env.USER ?? 'cli')
      .option('--reason <text>', 'the reason, e-mailed to the buyer')
      .action(async (id: string, opts: { by: string; reason?: string }) => {
        const ctx = createCliContext();
        try {
          await decideSignup(ctx.db().db, signupId(id), { approve, by: opts.by, reason: opts.reason });
          console.log(`sign-up ${id} ${approve ? 'approved' : 'rejected'}; the buyer is told by e-mail`);
        } finally {
          await ctx.close();
        }
      });
  }
}
