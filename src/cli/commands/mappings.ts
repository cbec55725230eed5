// `magistral mappings test|check`: run the test cases written inside mapping files, and check mapping
// files against the mapping schema and their target's canonical fields.
import type { Command } from 'commander';
import { MagistralError, type Problem } from '../../errors/index.ts';
import { checkMappingTarget, listMappingFiles, loadMapping, locateMapping, runMappingTests, type MappingLocation } from '../../mapping/index.ts';
import type { Mapping } from '../../schemas/index.ts';

async function locations(refs: string[]): Promise<MappingLocation[]> {
  if (refs.length) return refs.map((r) => locateMapping(r));
  return (await listMappingFiles()).map((ref) => locateMapping(ref));
}

interface CaseLine {
  file: string;
  name: string;
  ok: boolean;
  message?: string;
}

async function testCommand(refs: string[], o: { json?: boolean }): Promise<void> {
  const lines: CaseLine[] = [];
  for (const loc of await locations(refs)) {
    let m: Mapping;
    try {
      m = await loadMapping(loc.ref, loc.dir);
    } catch (e) {
      lines.push({ file: loc.display, name: '(load)', ok: false, message: (e as Error).message });
      continue;
    }
    for (const r of await runMappingTests(m, loc.display)) lines.push({ file: loc.display, ...r });
  }
  const failed = lines.filter((l) => !l.ok).length;
  if (o.json) {
    console.log(JSON.stringify({ passed: lines.length - failed, failed, cases: lines }));
  } else {
    for (const l of lines) console.log(l.ok ? `✓ ${l.file}: ${l.name}` : `✗ ${l.file}: ${l.name} — ${l.message}`);
    console.log(`${lines.length - failed} passed, ${failed} failed`);
  }
  if (failed) process.exitCode = 1;
}

async function checkCommand(refs: string[], o: { json?: boolean }): Promise<void> {
  const report: Array<{ file: string; problems: Problem[] }> = [];
  for (const loc of await locations(refs)) {
    let problems: Problem[];
    try {
      const m = await loadMapping(loc.ref, loc.dir);
      problems = checkMappingTarget(m);
    } catch (e) {
      problems = e instanceof MagistralError && e.problems.length ? e.problems : [{ path: loc.display, message: (e as Error).message }];
    }
    // Problems of the mapping schema carry the reference as a prefix; the file is printed already.
    const own = problems.map((p) => (p.path.startsWith(loc.ref) ? { ...p, path: p.path.slice(loc.ref.length) || '/' } : p));
    report.push({ file: loc.display, problems: own });
  }
  if (o.json) {
    console.log(JSON.stringify(report));
  } else {
    for (const r of report) {
      if (!r.problems.length) console.log(`✓ ${r.file}`);
      for (const p of r.problems) console.log(`✗ ${r.file} ${p.path}: ${p.message}${p.rule ? ` (${p.rule})` : ''}`);
    }
  }
  if (report.some((r) => r.problems.length)) process.exitCode = 1;
}

export function register(program: Command): void {
  const mappings = program.command('mappings').description('test and check mapping files');
  mappings
    .command('test')
    .description('run the test cases inside mapping files (default: every mapping under mappings/)')
    .argument('[refs...]', 'mapping references under mappings/ or paths')
    .option('--json', 'print the results as JSON')
    .action(testCommand);
  mappings
    .command('check')
    .description('check mapping files against the mapping schema and their target entity')
    .argument('<refs...>', 'mapping references under mappings/ or paths')
    .option('--json', 'print the problems as JSON')
    .action(checkCommand);
}
