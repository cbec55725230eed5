// `magistral keys create|list|revoke`: API keys of portal frontends. The key is printed once at
// creation; the store keeps only its sha256.
import type { Command } from 'commander';
import type { CliHost } from '../host.ts';
import { createCliContext } from '../context.ts';
import { createApiKey, KNOWN_SCOPES, listApiKeys, revokeApiKey } from '../../portal/keys.ts';
import { MagistralError } from '../../errors/index.ts';
import { idArgument } from '../args.ts';

/** `600/min`, `600` → 600 requests per minute. */
export function parseRate(v: string): number {
  const m = /^\s*([0-9]+)\s*(?:\/\s*min)?\s*$/i.exec(v);
  if (!m || Number(m[1]) <= 0) throw new MagistralError('MAG_ERR_BAD_REQUEST', `--rate must look like 600/min, got '${v}'`);
  return Number(m[1]);
}

export function register(program: Command, _host: CliHost): void {
  const keys = program.command('keys').description('API keys of portal frontends (/api/v1)');

  keys.command('create').description('create a key; it is shown once')
    .requiredOption('--name <name>', 'who the key is for')
    .requiredOption('--scopes <list>', `comma-separated scopes: ${KNOWN_SCOPES.join(', ')}`)
    .option('--client <code>', 'bind the key to one client (a client\'s own app); default: a trusted frontend acting for any client')
    .option('--rate <n/min>', 'requests per minute (default 600/min)')
    .option('--json', 'print the key as JSON')
    .action(async (opts: { name: string; scopes: string; client?: string; rate?: string; json?: boolean }) => {
      const ctx = createCliContext();
      try {
        const scopes = opts.scopes.split(',').map((s) => s.trim()).filter(Boolean);
        const k = await createApiKey(ctx.db().db, { name: opts.name, scopes, clientCode: opts.client, ratePerMin: opts.rate ? parseRate(opts.rate) : undefined });
        if (opts.json) console.log(JSON.stringify(k));
        else console.log(`key ${k.id} created; store it now, it is not shown again:\n${k.key}`);
      } finally {
        await ctx.close();
      }
    });

  keys.command('list').description('keys with their scopes, client, rate and state (never the key itself)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const ctx = createCliContext();
      try {
        const list = await listApiKeys(ctx.db().db);
        if (opts.json) {
          console.log(JSON.stringify(list));
          return;
        }
        for (const k of list) {
          const state = k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'active';
          console.log(`${k.id}\t${k.prefix}…\t${k.name}\t${k.scopes.join(',')}\t${k.client ?? '(any client)'}\t${k.ratePerMin}/min\t${state}`);
        }
      } finally {
        await ctx.close();
      }
    });

  keys.command('revoke').description('revoke a key for good').argument('<id>', 'key id (see keys list)')
    .action(async (id: string) => {
      const ctx = createCliContext();
      try {
        if (!/^[0-9]+$/.test(id)) throw new MagistralError('MAG_ERR_BAD_REQUEST', `key id must be a number, got '${id}'`);
        if (!(await revokeApiKey(ctx.db().db, idArgument(id, 'API key', 'magistral keys list')))) throw new MagistralError('MAG_ERR_NOT_FOUND', `no active API key ${id}`);
        console.log(`key ${id} revoked`);
      } finally {
        await ctx.close();
      }
    });
}
