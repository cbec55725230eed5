// `magistral secrets set NAME | list | unset NAME`: credentials senders present (the 1C exchange's login
// and password, an SAP IDoc endpoint's, a Bitrix24 application token), stored hashed under the name of the
// environment variable the flow's options name (`passwordEnv: ONEC_PASSWORD`). The running server uses a
// stored one at the next request: set or rotate it without a restart. The value is read from standard
// input (never from the command line, which shells keep in their history) and is never shown again.
import type { Command } from 'commander';
import { userInfo } from 'node:os';
import type { CliHost } from '../host.ts';
import { createCliContext } from '../context.ts';
import { listSecrets, setSecret, unsetSecret } from '../../pipeline/secrets.ts';
import { readPassword } from '../password-input.ts';

export function register(program: Command, _host: CliHost): void {
  const secrets = program.command('secrets').description('credentials senders present (1C, SAP, Bitrix24), stored hashed; rotate without a restart');

  secrets.command('set <name>').description('store NAME (an environment variable name a flow names) from standard input: printf %s "$PASSWORD" | magistral secrets set ONEC_PASSWORD')
    .action(async (name: string) => {
      const value = await readPassword({ stdin: true, prompt: '' });
      const ctx = createCliContext();
      try {
        await setSecret(ctx.db().db, name, value, `cli:${userInfo().username}`);
        console.log(`${name} stored (hashed); the server uses it from the next request, instead of its environment's ${name}`);
      } finally {
        await ctx.close();
      }
    });

  secrets.command('list').description('stored secrets: names and when they were set (never the values)')
    .action(async () => {
      const ctx = createCliContext();
      try {
        const rows = await listSecrets(ctx.db().db);
        if (!rows.length) console.log('no secrets stored: every credential comes from the server\'s environment');
        for (const s of rows) console.log(`${s.name.padEnd(32)} set ${s.setAt.toISOString()}${s.setBy ? ` by ${s.setBy}` : ''}`);
      } finally {
        await ctx.close();
      }
    });

  secrets.command('unset <name>').description('remove a stored secret: the server reads NAME from its environment again')
    .action(async (name: string) => {
      const ctx = createCliContext();
      try {
        console.log(await unsetSecret(ctx.db().db, name) ? `${name} removed; the server's environment's ${name} applies again` : `${name} was not stored`);
      } finally {
        await ctx.close();
      }
    });
}
