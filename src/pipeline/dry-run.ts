// Dry run: parse payload files with a connector and map every record, counting canonical rows and
// rejects, without touching the datastore — what an administrator runs before registering a flow.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { formatPosition, isMagistralError, PayloadError } from '../errors/index.ts';
import {
  compileMapping,
  listMappingFiles,
  loadMapping,
  locateMapping,
  MAPPINGS_DIR,
  requiredColumns,
  allColumns,
  type CompiledMapping,
  type LookupSource,
} from '../mapping/index.ts';
import { ajv, toProblems, type Mapping } from '../schemas/index.ts';
import type { Connector, DryRunCounting, PayloadFileStore, SourceRecord } from '../port/connector.ts';
import type { Registry } from './registry.ts';

/** A dry run writes nothing: files a payload carries are only hashed. */
const HASH_ONLY: PayloadFileStore = {
  store: (content) => Promise.resolve({ sha256: createHash('sha256').update(content).digest('hex'), sizeBytes: content.byteLength }),
};

export type { DryRunCounting } from '../port/connector.ts';

function countingOf(c: Connector): DryRunCounting | undefined {
  return (c as Connector & { dryRun?: DryRunCounting }).dryRun;
}

export interface DryRunOptions {
  /** Connector kind, e.g. `file.csv`, looked up in `registry`. */
  connector: string;
  /** The connectors of this process (the composition root builds it). */
  registry: Registry;
  files: string[];
  /** Mapping references or paths; when absent, chosen per file from mappings/<system>/ by its columns. */
  mappings?: string[];
  /** The connector's options (validated against its optionsSchema, defaults applied). */
  options?: Record<string, unknown>;
  /** This flow's system, for `lookup: {entity, system}` transforms. */
  system?: string;
  lookups?: LookupSource;
  /** @defaultValue the repository's mappings/ */
  mappingsDir?: string;
  /** How many rejects to keep as examples. @defaultValue 20 */
  sampleRejects?: number;
}

export interface DryRunReject {
  at: string;
  field: string;
  rule: string;
  reason: string;
}

export interface DryRunResult {
  /** Canonical target → valid rows (a connector with a DryRunCounting hook: its own keys → elements). */
  counts: Record<string, number>;
  rejects: number;
  errors: Array<{ at: string; message: string }>;
  /** The first rejects, with their position. */
  samples: DryRunReject[];
  /** File → mapping references applied to it. */
  mappingsUsed: Record<string, string[]>;
}

interface Candidate {
  display: string;
  mapping: Mapping;
  /** Columns it needs; every column it reads. */
  columns: string[];
  all: string[];
  compiled?: CompiledMapping;
}

/** The JSON object of `magistral dry-run --json`: targets with row counts, `rejects` and `errors`. */
export function dryRunJson(r: DryRunResult): Record<string, unknown> {
  return { ...r.counts, rejects: r.rejects, errors: r.errors };
}

function errorEntry(e: unknown, at: string): { at: string; message: string } {
  if (e instanceof PayloadError) {
    const where = formatPosition(e.position);
    const detail = e.message.startsWith(`${where}: `) ? e.message.slice(where.length + 2) : e.message;
    return { at: where, message: `${e.code}: ${detail}` };
  }
  if (isMagistralError(e)) return { at, message: `${e.code}: ${e.message}` };
  return { at, message: (e as Error)?.message ?? String(e) };
}

function checkOptions(c: Connector, options: Record<string, unknown>): { options: Record<string, unknown>; problems: string[] } {
  const schema = c.optionsSchema as { $id?: string };
  const validate = (schema.$id && ajv.getSchema(schema.$id)) || ajv.compile(schema);
  const copy = { ...options };
  if (validate(copy)) return { options: copy, problems: [] };
  return { options: copy, problems: toProblems(validate.errors).map((p) => `${p.path}: ${p.message}`) };
}

/** Parses and maps the files; never writes anything. Problems with the payload land in `errors`. */
export async function dryRun(opts: DryRunOptions): Promise<DryRunResult> {
  const result: DryRunResult = { counts: {}, rejects: 0, errors: [], samples: [], mappingsUsed: {} };
  const sampleMax = opts.sampleRejects ?? 20;
  const dir = opts.mappingsDir ?? MAPPINGS_DIR;
  const connector = opts.registry.connector(opts.connector);
  if (!connector) {
    result.errors.push({ at: 'connector', message: `MAG_ERR_CONNECTOR_UNKNOWN: no connector of kind "${opts.connector}"` });
    return result;
  }
  const checked = checkOptions(connector, opts.options ?? {});
  if (checked.problems.length) {
    for (const p of checked.problems) result.errors.push({ at: 'options', message: `MAG_ERR_FLOW_INVALID: ${p}` });
    return result;
  }

  // Mappings named on the command line are used as given; otherwise every mapping of the connector
  // module's folder (file.csv → mappings/file/, bitrix24.rest of module crm → mappings/crm/) is a
  // candidate, chosen per file by its columns.
  const explicit = opts.mappings !== undefined && opts.mappings.length > 0;
  const folder = opts.registry.modules.find((m) => m.connectors?.includes(connector))?.name ?? opts.connector.split('.')[0]!;
  const refs = explicit ? opts.mappings!.map((a) => locateMapping(a, dir)) : (await listMappingFiles(dir, folder)).map((ref) => ({ ref, dir, display: ref }));
  const counting = countingOf(connector);
  if (counting) return dryRunCounted(opts, connector, counting, checked.options, refs, result, sampleMax);
  if (!refs.length) {
    result.errors.push({ at: `mappings/${folder}`, message: `no mapping files for connector ${opts.connector}; pass --mapping` });
    return result;
  }
  const candidates: Candidate[] = [];
  for (const loc of refs) {
    try {
      const mapping = await loadMapping(loc.ref, loc.dir);
      candidates.push({ display: loc.display, mapping, columns: requiredColumns(mapping), all: allColumns(mapping) });
      // Named mappings report their entity even at zero rows; automatic ones only once chosen.
      if (explicit) result.counts[mapping.target] ??= 0;
    } catch (e) {
      result.errors.push(errorEntry(e, loc.display));
    }
  }
  if (result.errors.length) return result;

  const choose = (columns: Set<string>): Candidate[] | string => {
    if (explicit && candidates.length === 1) return candidates;
    let fit = candidates.filter((c) => c.columns.every((col) => columns.has(col)));
    const shown = [...columns].join(', ');
    if (fit.length > 1 && !explicit) {
      // Several fit: the one reading most of the file's columns, then the one asking for the fewest
      // columns besides (a plain price list is not a price list with validity whose columns are absent).
      const used = (c: Candidate) => c.all.filter((col) => columns.has(col)).length;
      const best = Math.max(...fit.map(used));
      fit = fit.filter((c) => used(c) === best);
      const fewest = Math.min(...fit.map((c) => c.all.length));
      fit = fit.filter((c) => c.all.length === fewest);
    }
    if (!fit.length) return `no mapping fits the columns (${shown}); candidates: ${candidates.map((c) => `${c.display} needs ${c.columns.join(', ')}`).join('; ')}`;
    if (fit.length > 1 && !explicit) return `several mappings fit the columns (${shown}): ${fit.map((c) => c.display).join(', ')}; choose one with --mapping`;
    return fit;
  };

  for (const file of opts.files) {
    if (!existsSync(file)) {
      result.errors.push({ at: file, message: 'file not found' });
      continue;
    }
    const input = createReadStream(file, { highWaterMark: 256 * 1024 });
    let chosen: Candidate[] | undefined;
    try {
      for await (const batch of connector.parse(input, { fileName: file, options: checked.options, files: HASH_ONLY })) {
        if (!chosen) {
          // A record that names its kind (bitrix24.rest's `bitrix24.company`, …) picks the mapping of that name.
          const kind = batch[0]?.kind;
          const named = !explicit && kind !== undefined ? candidates.find((c) => c.mapping.name === kind) : undefined;
          const picked = named ? [named] : choose(new Set(Object.keys(batch[0]?.data ?? {})));
          if (typeof picked === 'string') {
            result.errors.push({ at: file, message: picked });
            break;
          }
          chosen = picked;
          for (const c of chosen) c.compiled ??= await compileMapping(c.mapping, { system: opts.system, lookups: opts.lookups });
          result.mappingsUsed[file] = chosen.map((c) => c.display);
          for (const c of chosen) result.counts[c.mapping.target] ??= 0;
        }
        mapBatch(batch, file, chosen, result, sampleMax);
      }
    } catch (e) {
      result.errors.push(errorEntry(e, file));
    } finally {
      input.destroy();
    }
  }
  return result;
}

/**
 * The dry run of a connector with a counting hook: counts come from the connector, per file; each
 * record is checked with the mapping named as its kind (records of kinds without one are only counted).
 * A file that cannot be read adds an error and none of its counts.
 */
async function dryRunCounted(
  opts: DryRunOptions,
  connector: Connector,
  counting: DryRunCounting,
  options: Record<string, unknown>,
  refs: Array<{ ref: string; dir: string; display: string }>,
  result: DryRunResult,
  sampleMax: number,
): Promise<DryRunResult> {
  for (const k of counting.keys) result.counts[k] = 0;
  const byKind = new Map<string, Candidate>();
  for (const loc of refs) {
    try {
      const mapping = await loadMapping(loc.ref, loc.dir);
      const before = byKind.get(mapping.name);
      if (before) result.errors.push({ at: loc.display, message: `MAG_ERR_MAPPING_INVALID: mapping name "${mapping.name}" is also the name of ${before.display}` });
      else byKind.set(mapping.name, { display: loc.display, mapping, columns: [], all: [] });
    } catch (e) {
      result.errors.push(errorEntry(e, loc.display));
    }
  }
  if (result.errors.length) return result;
  for (const file of opts.files) {
    if (!existsSync(file)) {
      result.errors.push({ at: file, message: 'file not found' });
      continue;
    }
    const input = createReadStream(file, { highWaterMark: 256 * 1024 });
    const used = new Set<string>();
    let rejects = 0;
    const samples: DryRunReject[] = [];
    try {
      const it = counting.parseCounted(input, { fileName: file, options });
      let step = await it.next();
      while (!step.done) {
        for (const rec of step.value) {
          const c = rec.kind !== undefined ? byKind.get(rec.kind) : undefined;
          if (!c) continue;
          if (!c.compiled) c.compiled = await compileMapping(c.mapping, { system: opts.system, lookups: opts.lookups });
          used.add(c.display);
          const m = c.compiled(rec.data);
          if (m.ok) continue;
          rejects++;
          if (result.samples.length + samples.length < sampleMax) {
            const at = rec.path ? `${file}${rec.line !== undefined ? `:${rec.line}` : ''} ${rec.path}` : rec.line !== undefined ? `${file}:${rec.line}` : file;
            samples.push({ at, field: m.field, rule: m.rule, reason: m.reason });
          }
        }
        step = await it.next();
      }
      for (const k of counting.keys) result.counts[k] = (result.counts[k] ?? 0) + (step.value[k] ?? 0);
      result.rejects += rejects;
      result.samples.push(...samples);
      result.mappingsUsed[file] = [...used].sort();
    } catch (e) {
      result.errors.push(errorEntry(e, file));
    } finally {
      input.destroy();
    }
  }
  return result;
}

function mapBatch(batch: SourceRecord[], file: string, chosen: Candidate[], r: DryRunResult, sampleMax: number): void {
  for (const c of chosen) {
    const fn = c.compiled!;
    const target = c.mapping.target;
    let ok = 0;
    for (const rec of batch) {
      const m = rec.reject ? { ok: false as const, ...rec.reject } : fn(rec.data);
      if (m.ok) {
        ok++;
        continue;
      }
      r.rejects++;
      if (r.samples.length < sampleMax) {
        const at = rec.line !== undefined ? `${file}:${rec.line}` : rec.path ? `${file} ${rec.path}` : file;
        r.samples.push({ at, field: m.field, rule: m.rule, reason: m.reason });
      }
    }
    r.counts[target] = (r.counts[target] ?? 0) + ok;
  }
}
