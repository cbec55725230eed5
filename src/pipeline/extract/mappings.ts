// The mappings of a run compiled once per extract (a plain function per mapping, picked by record
// kind), and the mode a run merges with once its payload has said what it is.
import type { Flow, Mapping } from '../../schemas/index.ts';
import { createHash } from 'node:crypto';
import { compileMapping, dbLookups, loadMapping, usesLookups, type CompiledMapping } from '../../mapping/index.ts';
import type { PipelineDeps } from '../deps.ts';
import { mappingRefs } from '../flows.ts';
import { keyFields, type TargetSpec } from '../targets.ts';
import { plainMapping, type PlainMapping } from './line-take.ts';
import { takeFields, type TakeField } from './record-take.ts';

export type RunMode = 'delta' | 'snapshot';

/**
 * The mode a run merges with: what its files declared (CommerceML `СодержитТолькоИзменения`), else the
 * flow's. A file that says it holds changes only wins over one that says it is complete: removing rows
 * on a wrong "complete" would lose data, keeping them on a wrong "changes only" loses nothing.
 */
export function effectiveMode(flowMode: RunMode, declared: readonly RunMode[]): RunMode {
  if (declared.includes('delta')) return 'delta';
  return declared.length ? 'snapshot' : flowMode;
}

export type Entry = { fn: CompiledMapping; keyFn?: CompiledMapping };

export interface RunMappings {
  pick(kind: string | undefined): Entry | undefined;
  /** Mapping names: the document kinds a multi-kind connector should emit. */
  kinds: ReadonlySet<string>;
  /** Canonical fields any of the mappings produces. */
  fields: ReadonlySet<string>;
  /**
   * What the mappings are (the flow and every mapping, hashed): a record maps to the same row under the
   * same signature. Undefined when a mapping also reads the store (id lookups): then it does not.
   */
  signature: string | undefined;
  /** The one mapping of the run, when every field reads a column as it stands or not at all (line-take.ts). */
  plain?: PlainMapping;
  /** The one mapping of the run (its kind), when each field depends on its own source field only (record-take.ts). */
  take?: { kind: string; fields: TakeField[] };
}

/**
 * Compiles a flow's mappings once per run: a plain function per mapping, picked by record kind. A
 * fact's (or keyed row's) mapping also gets a key-only twin: it reads the key of a rejected row so that,
 * in a snapshot, the live row it speaks of is kept rather than removed. (Compiled whatever the flow's
 * mode: the payload itself may declare that it is a snapshot.)
 */
export async function compileRunMappings(deps: PipelineDeps, flow: Flow, spec: TargetSpec): Promise<RunMappings> {
  const snapshot = spec.kind === 'fact' || spec.kind === 'keyed';
  const keys = keyFields(spec);
  const mappings: Entry[] = [];
  const byName = new Map<string, Entry>();
  const fields = new Set<string>();
  const sig = createHash('sha256').update(JSON.stringify(flow));
  let stable = true;
  let first: Mapping | undefined;
  for (const ref of mappingRefs(flow)) {
    const m = await loadMapping(ref);
    first ??= m;
    sig.update(JSON.stringify(m));
    if (usesLookups(m)) stable = false;
    for (const f of Object.keys(m.fields)) fields.add(f);
    const opts = { system: flow.source.system ?? 'local', lookups: dbLookups(deps.db) };
    const entry = { fn: await compileMapping(m, opts), keyFn: snapshot ? await compileMapping(m, { ...opts, only: keys }) : undefined };
    mappings.push(entry);
    byName.set(m.name, entry);
  }
  const pick = (kind: string | undefined) =>
    mappings.length === 1 ? mappings[0] : kind !== undefined ? byName.get(kind) : mappings[0];
  const plain = first && stable && mappings.length === 1 ? plainMapping(first) : undefined;
  const take = first && stable && mappings.length === 1 ? takeFields(first) : undefined;
  return {
    pick, kinds: new Set(byName.keys()), fields, signature: stable ? sig.digest('hex').slice(0, 32) : undefined,
    ...(plain ? { plain } : {}), ...(take && first ? { take: { kind: first.name, fields: take } } : {}),
  };
}
