// Runs the test cases written inside a mapping file (input → expected record or expected reject), so
// an administrator can check a mapping before any flow uses it.
import { isDeepStrictEqual } from 'node:util';
import type { Mapping } from '../schemas/index.ts';
import { compileMapping, type CompiledMapping, type LookupSource } from './compile.ts';

export interface MappingTestResult {
  name: string;
  ok: boolean;
  message?: string;
}

type TestCase = NonNullable<Mapping['tests']>[number];

/** Lookup fixtures of one case: entity → { source id → this system's id }, whatever the systems. */
function fixtureLookups(fixtures: Record<string, Record<string, string>> | undefined): LookupSource {
  return {
    async translate(entity) {
      return new Map(Object.entries(fixtures?.[entity] ?? {}));
    },
  };
}

// Cases carry their own lookup fixtures, so the mapping is compiled per case; the system name only
// has to exist, fixtures ignore it.
const TEST_SYSTEM = 'mapping-test';

function hasNumbers(o: unknown): boolean {
  return typeof o === 'object' && o !== null && Object.values(o).some((v) => typeof v === 'number');
}

async function runCase(m: Mapping, ref: string, t: TestCase, index: number): Promise<MappingTestResult> {
  const name = t.name ?? `case ${index + 1}`;
  let fn: CompiledMapping;
  try {
    fn = await compileMapping(m, { system: TEST_SYSTEM, lookups: fixtureLookups(t.lookups) });
  } catch (e) {
    return { name, ok: false, message: `${ref} cannot be compiled: ${(e as Error).message}` };
  }
  const mapped = fn(t.input);
  // Optional fields left empty are undefined in the record: absent, as far as a case is concerned.
  const r = mapped.ok ? { ...mapped, value: Object.fromEntries(Object.entries(mapped.value).filter(([, v]) => v !== undefined)) } : mapped;
  const got = r.ok ? `record ${JSON.stringify(r.value)}` : `reject "${r.reason}"`;
  if (t.expectReject !== undefined) {
    if (!r.ok && r.reason.includes(t.expectReject)) return { name, ok: true };
    return { name, ok: false, message: `expected a reject containing "${t.expectReject}", got ${got}` };
  }
  if (r.ok && isDeepStrictEqual(r.value, t.expect)) return { name, ok: true };
  // YAML reads an unquoted 12.50 as the number 12.5, while mapped values are strings.
  const hint = hasNumbers(t.expect) ? ' (hint: quote numbers in expect, mapped values are strings)' : '';
  return { name, ok: false, message: `expected record ${JSON.stringify(t.expect)}, got ${got}${hint}` };
}

/** Runs every case of the mapping's `tests` section; `ref` names the file in messages. */
export async function runMappingTests(m: Mapping, ref: string): Promise<MappingTestResult[]> {
  const out: MappingTestResult[] = [];
  const cases = m.tests ?? [];
  for (let i = 0; i < cases.length; i++) out.push(await runCase(m, ref, cases[i]!, i));
  return out;
}
