// `magistral dry-run`: parse and map payload files without writing anything; prints counts per
// canonical entity and the first rejects with their position (or one JSON object with --json).
import type { Command } from 'commander';
import { createCliContext } from '../context.ts';
import { dbLookups, type LookupSource } from '../../mapping/index.ts';
import { dryRun, dryRunJson } from '../../pipeline/dry-run.ts';
import type { CliHost } from '../host.ts';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `key=value` pairs from the command line; values typed as the options schema wants them. */
export function parseOptionPairs(pairs: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--option ${pair}: expected key=value`);
    const key = pair.slice(0, eq);
    const raw = pair.slice(eq + 1);
    // A shell hardly passes a literal tab: `\t` and `tab` stand for it.
    out[key] = raw === 'true' ? true : raw === 'false' ? false : raw === '\\t' || raw === 'tab' ? '\t' : raw;
  }
  return out;
}

export function register(program: Command, host: CliHost): void {
  program
    .command('dry-run')
    .description('parse and map files without writing; print counts of entities and rejects with reasons')
    .requiredOption('--connector <kind>', 'connector kind, e.g. file.csv')
    .argument('<files...>', 'payload files')
    .option('--mapping <ref>', 'mapping file (repeatable); default: chosen from mappings/<system>/ by the columns', collect, [])
    .option('--option <key=value>', 'connector option (repeatable), e.g. delimiter=; encoding=windows-1251', collect, [])
    .option('--system <name>', "this flow's system, for lookup transforms that translate ids")
    .option('--json', 'print one JSON object: entity counts, rejects, errors')
    .action(async (files: string[], o: { connector: string; mapping: string[]; option: string[]; system?: string; json?: boolean }) => {
      const ctx = createCliContext();
      // The database is opened only if a mapping asks for an id lookup.
      const lookups: LookupSource = { translate: (e, from, to) => dbLookups(ctx.db().db).translate(e, from, to) };
      try {
        const r = await dryRun({ registry: host.registry, connector: o.connector, files, mappings: o.mapping, options: parseOptionPairs(o.option), system: o.system, lookups });
        if (o.json) {
          console.log(JSON.stringify(dryRunJson(r)));
        } else {
          for (const [file, refs] of Object.entries(r.mappingsUsed)) console.log(`${file}: mapped with ${refs.join(', ')}`);
          for (const [target, n] of Object.entries(r.counts)) console.log(`${target}: ${n} valid`);
          console.log(`rejects: ${r.rejects}`);
          if (r.samples.length) {
            console.log(r.rejects > r.samples.length ? `first ${r.samples.length} rejects:` : 'rejects:');
            for (const s of r.samples) console.log(`  ${s.at} ${s.reason}`);
          }
          for (const e of r.errors) console.log(`error ${e.at}: ${e.message}`);
        }
        if (r.errors.length) process.exitCode = 1;
      } finally {
        await ctx.close();
      }
    });
}
