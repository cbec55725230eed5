// `magistral mail list|retry`: the e-mail outbox from the command line — what is queued, sent or failed
// (with the last error), and sending a failed message again.
import type { Command } from 'commander';
import type { CliHost } from '../host.ts';
import { createCliContext } from '../context.ts';
import { listOutbox, retryMail, type OutboxState } from '../../backoffice/outbox.ts';
import { MagistralError } from '../../errors/index.ts';
import { idArgument } from '../args.ts';

export function register(program: Command, _host: CliHost): void {
  const mail = program.command('mail').description('the e-mail outbox: queued, sent and failed messages');

  mail.command('list').description('messages, newest first')
    .option('--state <state>', 'queued | sent | failed')
    .option('--kind <kind>', 'only this kind (order-confirmed, invite, …)')
    .option('--limit <n>', 'how many', '50')
    .option('--json', 'print JSON')
    .action(async (opts: { state?: string; kind?: string; limit: string; json?: boolean }) => {
      if (opts.state && !['queued', 'sent', 'failed'].includes(opts.state)) throw new MagistralError('MAG_ERR_BAD_REQUEST', `--state must be queued, sent or failed, got '${opts.state}'`);
      if (!/^[0-9]{1,3}$/.test(opts.limit)) throw new MagistralError('MAG_ERR_BAD_REQUEST', `--limit must be a number up to 500, got '${opts.limit}'`);
      const ctx = createCliContext();
      try {
        const rows = await listOutbox(ctx.db().db, { state: opts.state as OutboxState | undefined, kind: opts.kind, limit: Number(opts.limit) });
        if (opts.json) console.log(JSON.stringify(rows));
        else for (const r of rows) console.log(`${r.id}\t${r.createdAt}\t${r.state}\t${r.kind}\t${r.to}\t${r.subject}${r.attachments ? `\t[${r.attachments} attached]` : ''}${r.lastError ? `\t(${r.attempts} attempts: ${r.lastError})` : ''}`);
      } finally {
        await ctx.close();
      }
    });

  mail.command('retry').description('send an unsent message again now (a failed one gets its attempts back)')
    .argument('<id>', 'message id (see mail list)')
    .action(async (id: string) => {
      if (!/^[0-9]{1,15}$/.test(id)) throw new MagistralError('MAG_ERR_BAD_REQUEST', `message id must be a number, got '${id}'`);
      const ctx = createCliContext();
      try {
        if (!(await retryMail(ctx.db().db, idArgument(id, 'e-mail', 'magistral mail list')))) throw new MagistralError('MAG_ERR_NOT_FOUND', `no unsent e-mail ${id} in the outbox`);
        console.log(`e-mail ${id} queued again; the workers send it within seconds`);
      } finally {
        await ctx.close();
      }
    });
}
