// `magistral flows apply|list|show|pause|resume|pull`: manage registered flows from the shell.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { createCliContext } from '../context.ts';
import { applyFlows, getFlow, listFlows, parseFlowFile, setFlowPaused } from '../../pipeline/flows.ts';
import { MagistralError } from '../../errors/index.ts';
import type { CliHost } from '../host.ts';
import { registerPull } from './flows-pull.ts';
import { visibilityWarnings } from '../../pipeline/city-price-types.ts';
import { credentialSources } from '../../pipeline/secrets.ts';

export function register(program: Command, host: CliHost): void {
  const flows = program.command('flows').description('manage exchange flows');
  registerPull(flows, host);

  flows.command('apply').description('check and register (or update) the flows in a YAML file; all or nothing')
    .requiredOption('-f, --file <file...>', 'flow file(s)')
    .action(async (opts: { file: string[] }) => {
      const ctx = createCliContext();
      try {
        const all = [];
        for (const f of opts.file) {
          let text: string;
          try {
            text = await readFile(f, 'utf8');
          } catch {
            throw new MagistralError('MAG_ERR_FLOW_INVALID', `${f}: cannot read the file`);
          }
          all.push(...(await parseFlowFile(text, f, host.registry)));
        }
        for (const r of await applyFlows(ctx.db().db, all)) console.log(`flow ${r.name} ${r.action} (version ${r.version})`);
      } finally {
        await ctx.close();
      }
    });

  flows.command('list').description('list flows').option('--json', 'print JSON').action(async (opts: { json?: boolean }) => {
    const ctx = createCliContext();
    try {
      const rows = await listFlows(ctx.db().db);
      if (opts.json) {
        console.log(JSON.stringify(rows.map((f) => ({ name: f.name, version: f.version, paused: f.paused, connector: f.definition.source.connector, target: f.definition.target, mode: f.definition.mode }))));
        return;
      }
      if (!rows.length) console.log('no flows registered');
      for (const f of rows) {
        console.log(`${f.name.padEnd(28)} v${String(f.version).padEnd(4)} ${(f.paused ? 'paused' : 'active').padEnd(7)} ${f.definition.source.connector.padEnd(18)} → ${f.definition.target} (${f.definition.mode})`);
      }
    } finally {
      await ctx.close();
    }
  });

  flows.command('show').argument('<name>').description('print a flow as YAML').action(async (name: string) => {
    const ctx = createCliContext();
    try {
      const f = await getFlow(ctx.db().db, name);
      console.log(`# version ${f.version}, ${f.paused ? 'paused' : 'active'}, updated ${f.updatedAt.toISOString()}`);
      // What keeps the flow's prices off every screen, said where the administrator looks at the flow.
      for (const w of await visibilityWarnings(ctx.db().db, f)) console.log(`# warning: ${w}`);
      for (const c of await credentialSources(ctx.db().db, (f.definition.source.options ?? {}) as Record<string, unknown>)) console.log(`# credential ${c}`);
      process.stdout.write(stringify(f.definition));
    } finally {
      await ctx.close();
    }
  });

  for (const [cmd, paused] of [['pause', true], ['resume', false]] as const) {
    flows.command(cmd).argument('<name>').description(paused ? 'stop processing runs of a flow (payloads are still received)' : 'resume a paused flow')
      .action(async (name: string) => {
        const ctx = createCliContext();
        try {
          await setFlowPaused(ctx.db().db, name, paused);
          console.log(`flow ${name} ${paused ? 'paused' : 'resumed'}`);
        } finally {
          await ctx.close();
        }
      });
  }
}
