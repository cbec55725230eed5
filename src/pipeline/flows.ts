// The flow registry: flow documents (YAML) checked against schemas/flow.schema.json and against what
// they reference (connector, its options, mapping files), then stored all-or-nothing.
import { LineCounter, isNode, parseAllDocuments, type Document } from 'yaml';
import { sql, type Kysely } from 'kysely';
import { MagistralError, type Problem } from '../errors/index.ts';
import { ajv, FLOW_SCHEMA_ID, toProblems, validatorFor, type Flow } from '../schemas/index.ts';
import type { Connector } from '../port/connector.ts';

/** What a flow check needs of the registry (src/pipeline/registry.ts): the connectors by kind. */
export interface ConnectorLookup {
  connector(kind: string): Connector | undefined;
  kinds(): string[];
}
import { loadMapping } from '../mapping/load.ts';
import { TARGETS } from './targets.ts';
import type { Database } from '../db/index.ts';

export type { Flow } from '../schemas/index.ts';

export interface StoredFlow {
  id: number;
  name: string;
  version: number;
  paused: boolean;
  definition: Flow;
  createdAt: Date;
  updatedAt: Date;
}

export function mappingRefs(flow: Flow): string[] {
  if (flow.mapping === undefined) return [];
  return Array.isArray(flow.mapping) ? flow.mapping : [flow.mapping];
}

/** Whether the flow creates a placeholder for an unknown `entity` (autoCreate: true, false or a list of entities). */
export function autoCreates(flow: Flow, entity: string): boolean {
  const a = flow.autoCreate;
  return a === undefined || a === true || (Array.isArray(a) && a.includes(entity));
}

/** The zone dates without a time are read in when a flow names none (the schema's default). */
export const DEFAULT_TIMEZONE = 'Europe/Moscow';

function knownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Fills schema defaults so every stored flow is complete. */
function withDefaults(flow: Flow): Flow {
  const f = structuredClone(flow);
  f.source.system ??= 'local';
  f.source.options ??= {};
  f.scope ??= 'flow';
  f.autoCreate ??= true;
  f.history ??= true;
  f.retry = { attempts: 8, backoff: 'exponential', delayMs: 1000, ...(f.retry ?? {}) };
  return f;
}

/**
 * Checks one flow object; `at` prefixes every problem path (the document within a file).
 * Returns the flow with defaults filled, or the problems.
 */
export async function checkFlow(doc: unknown, registry: ConnectorLookup, at = ''): Promise<{ flow?: Flow; problems: Problem[] }> {
  const validate = validatorFor(FLOW_SCHEMA_ID);
  const copy = structuredClone(doc);
  const problems: Problem[] = [];
  // Schema problems first, then — wherever the parts are readable — what they refer to, so one
  // attempt shows the administrator everything that is wrong.
  if (!validate(copy)) problems.push(...toProblems(validate.errors, at));
  const flow = (problems.length ? copy : withDefaults(copy as Flow)) as Partial<Flow> & Record<string, unknown>;
  const source = (flow && typeof flow === 'object' ? flow.source : undefined) as Partial<Flow['source']> | undefined;
  if (source && typeof source.connector === 'string') {
    const connector = registry.connector(source.connector);
    if (!connector) {
      problems.push({ path: `${at}/source/connector`, rule: 'connector', message: `unknown connector '${source.connector}' (known: ${registry.kinds().join(', ') || 'none'})` });
    } else if (source.options === undefined || (typeof source.options === 'object' && source.options !== null)) {
      const vo = ajv.compile(connector.optionsSchema);
      const opts = (source.options ?? {}) as Record<string, unknown>;
      if (!vo(opts)) problems.push(...toProblems(vo.errors, `${at}/source/options`));
    }
  }
  // An outbound flow sends the portal's orders through its connector: the connector must be able to.
  if (flow && flow.target === 'orders' && source && typeof source.connector === 'string') {
    const connector = registry.connector(source.connector);
    if (connector && !connector.outbound) {
      const senders = registry.kinds().filter((k) => registry.connector(k)?.outbound);
      problems.push({ path: `${at}/source/connector`, rule: 'outbound', message: `connector '${source.connector}' cannot send orders (target: orders); connectors that can: ${senders.join(', ') || 'none'}` });
    }
    if (flow.mapping !== undefined) problems.push({ path: `${at}/mapping`, rule: 'outbound', message: 'an outbound flow (target: orders) has no mapping: the connector writes the order in its own format' });
    if (flow.mode === 'snapshot') problems.push({ path: `${at}/mode`, rule: 'outbound', message: 'an outbound flow (target: orders) sends changes: use mode: delta' });
  }
  // An act flow asks the ERP for reconciliation acts through its connector: the connector must serve documents.
  if (flow && flow.target === 'reconciliationActs' && source && typeof source.connector === 'string') {
    const connector = registry.connector(source.connector);
    if (connector && !connector.documents) {
      const servers = registry.kinds().filter((k) => registry.connector(k)?.documents);
      problems.push({ path: `${at}/source/connector`, rule: 'outbound', message: `connector '${source.connector}' cannot request reconciliation acts (target: reconciliationActs); connectors that can: ${servers.join(', ') || 'none'}` });
    }
    if (flow.mapping !== undefined) problems.push({ path: `${at}/mapping`, rule: 'outbound', message: 'an act flow (target: reconciliationActs) has no mapping: the ERP answers its own PDF' });
    if (flow.mode === 'snapshot') problems.push({ path: `${at}/mode`, rule: 'outbound', message: 'an act flow (target: reconciliationActs) has nothing to snapshot: use mode: delta' });
    if (flow.schedule !== undefined) problems.push({ path: `${at}/schedule`, rule: 'outbound', message: 'an act flow (target: reconciliationActs) is asked by buyers, not on a schedule: remove schedule' });
  }
  // Removal by absence is defined for facts (prices, stock); catalog entities are marked deleted
  // by their own field instead, so a snapshot of them would silently act as a delta.
  if (flow && flow.mode === 'snapshot' && typeof flow.target === 'string' && TARGETS[flow.target]?.kind === 'dimension') {
    problems.push({ path: `${at}/mode`, rule: 'snapshot-target', message: `snapshot mode removes absent rows of prices, stock and other keyed rows only; for '${flow.target}' use mode: delta (mark removed items with their 'deleted' field)` });
  }
  if (flow && flow.cityPriceTypes !== undefined && flow.target !== 'priceTypes' && flow.target !== 'prices') {
    problems.push({ path: `${at}/cityPriceTypes`, rule: 'target', message: `cityPriceTypes binds price types to cities: it belongs on a flow of priceTypes or prices, not '${String(flow.target)}'` });
  }
  if (flow && typeof flow.timezone === 'string' && !knownTimeZone(flow.timezone)) {
    problems.push({ path: `${at}/timezone`, rule: 'timezone', message: `unknown time zone '${flow.timezone}' (an IANA name such as Europe/Moscow, Asia/Yekaterinburg, UTC)` });
  }
  const mapping = flow?.mapping as unknown;
  const refs = typeof mapping === 'string' ? [mapping] : Array.isArray(mapping) ? mapping.filter((x): x is string => typeof x === 'string') : [];
  for (let i = 0; i < refs.length; i++) {
    const ref = refs[i]!;
    const p = Array.isArray(mapping) ? `${at}/mapping/${i}` : `${at}/mapping`;
    try {
      const m = await loadMapping(ref);
      if (typeof flow.target === 'string' && m.target !== flow.target) {
        problems.push({ path: p, rule: 'target', message: `mapping ${ref} writes '${m.target}' but the flow's target is '${flow.target}'` });
      }
    } catch (e) {
      if (e instanceof MagistralError) {
        if (e.problems.length) problems.push(...e.problems.map((q) => ({ ...q, path: `${p} → ${q.path}` })));
        else problems.push({ path: p, rule: 'mapping', message: e.message });
      } else throw e;
    }
  }
  return problems.length ? { problems } : { flow: flow as Flow, problems };
}

/** Parses a YAML file holding one or more flow documents (`---` separated) and checks each. */
export async function parseFlowFile(text: string, fileName: string, registry: ConnectorLookup): Promise<Flow[]> {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines });
  const problems: Problem[] = [];
  const flows: Flow[] = [];
  if (!Array.isArray(docs)) {
    throw new MagistralError('MAG_ERR_FLOW_INVALID', `${fileName}: not a YAML document`);
  }
  for (const d of docs) {
    for (const err of d.errors) {
      const lp = err.linePos?.[0];
      problems.push({ path: `${fileName}${lp ? `:${lp.line}:${lp.col}` : ''}`, rule: 'yaml', message: err.message.split('\n')[0]! });
    }
  }
  if (problems.length) throw invalid(fileName, problems);
  const kept = docs.filter((d) => { const o = d.toJS() as unknown; return o !== null && o !== undefined; });
  const objects = kept.map((d) => d.toJS() as unknown);
  if (!objects.length) throw invalid(fileName, [{ path: fileName, rule: 'required', message: 'no flow document in the file' }]);
  const names = new Set<string>();
  for (let i = 0; i < objects.length; i++) {
    const at = objects.length > 1 ? `[${i}]` : '';
    const r = await checkFlow(objects[i], registry, at);
    problems.push(...r.problems.map((p) => withLine(p, at, kept[i]!, lines)));
    if (r.flow) {
      if (names.has(r.flow.name)) problems.push({ path: `${at}/name`, rule: 'unique', message: `flow '${r.flow.name}' appears twice in the file` });
      names.add(r.flow.name);
      flows.push(r.flow);
    }
  }
  if (problems.length) throw invalid(fileName, problems);
  return flows;
}

/** Adds the line where a problem's path points in the YAML text (the nearest node that exists). */
function withLine(p: Problem, at: string, doc: Document, lines: LineCounter): Problem {
  if (!p.path.startsWith(at)) return p;
  const segments = p.path.slice(at.length).split(' → ')[0]!.split('/').filter(Boolean)
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s.replace(/~1/g, '/').replace(/~0/g, '~')));
  for (let n = segments.length; n >= 0; n--) {
    const node = n ? doc.getIn(segments.slice(0, n), true) : doc.contents;
    if (isNode(node) && node.range) {
      const pos = lines.linePos(node.range[0]);
      return { ...p, line: pos.line, column: pos.col };
    }
  }
  return p;
}

function invalid(fileName: string, problems: Problem[]): MagistralError {
  return new MagistralError(
    'MAG_ERR_FLOW_INVALID',
    `${fileName}: ${problems.length} problem${problems.length > 1 ? 's' : ''}:\n${problems.map((p) => `  ${p.line !== undefined ? `line ${p.line}:${p.column} ` : ''}${p.path}: ${p.message}${p.rule ? ` (rule: ${p.rule})` : ''}`).join('\n')}`,
    problems,
  );
}

export interface ApplyResult { name: string; action: 'created' | 'updated' | 'unchanged'; version: number }

/** Stores checked flows in one transaction: all of them or none. */
export async function applyFlows(db: Kysely<Database>, flows: Flow[]): Promise<ApplyResult[]> {
  return db.transaction().execute(async (tx) => {
    const out: ApplyResult[] = [];
    for (const f of flows) {
      const json = JSON.stringify(f);
      const existing = await tx.selectFrom('flows').select(['id', 'version', 'definition']).where('name', '=', f.name).forUpdate().executeTakeFirst();
      if (!existing) {
        const r = await tx.insertInto('flows').values({ name: f.name, definition: json }).returning('version').executeTakeFirstOrThrow();
        out.push({ name: f.name, action: 'created', version: r.version });
      } else if (JSON.stringify(existing.definition) === JSON.stringify(JSON.parse(json)) || sameJson(existing.definition, f)) {
        out.push({ name: f.name, action: 'unchanged', version: existing.version });
      } else {
        const r = await tx.updateTable('flows').set({ definition: json, version: sql<number>`version + 1`, updated_at: new Date() })
          .where('id', '=', existing.id).returning('version').executeTakeFirstOrThrow();
        out.push({ name: f.name, action: 'updated', version: r.version });
      }
    }
    return out;
  });
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  return v;
}

function toStored(r: { id: number; name: string; version: number; paused: boolean; definition: Flow; created_at: Date; updated_at: Date }): StoredFlow {
  return { id: r.id, name: r.name, version: r.version, paused: r.paused, definition: r.definition, createdAt: r.created_at, updatedAt: r.updated_at };
}

export async function listFlows(db: Kysely<Database>): Promise<StoredFlow[]> {
  const rows = await db.selectFrom('flows').selectAll().orderBy('name').execute();
  return rows.map(toStored);
}

export async function getFlow(db: Kysely<Database>, name: string): Promise<StoredFlow> {
  const r = await db.selectFrom('flows').selectAll().where('name', '=', name).executeTakeFirst();
  if (!r) throw new MagistralError('MAG_ERR_FLOW_NOT_FOUND', `no flow named '${name}'`);
  return toStored(r);
}

export async function getFlowById(db: Kysely<Database>, id: number): Promise<StoredFlow> {
  const r = await db.selectFrom('flows').selectAll().where('id', '=', id).executeTakeFirst();
  if (!r) throw new MagistralError('MAG_ERR_FLOW_NOT_FOUND', `no flow with id ${id}`);
  return toStored(r);
}

export async function setFlowPaused(db: Kysely<Database>, name: string, paused: boolean): Promise<StoredFlow> {
  const r = await db.updateTable('flows').set({ paused, updated_at: new Date() }).where('name', '=', name).returningAll().executeTakeFirst();
  if (!r) throw new MagistralError('MAG_ERR_FLOW_NOT_FOUND', `no flow named '${name}'`);
  return toStored(r);
}
