// What the console's flow pages show and do: the list (state, schedule, last run, rows/s, lag against the
// expected interval, open rejects, prices nobody sees), one flow with its last runs, and the operator's
// actions (apply edited YAML through the same checks as `magistral flows apply`, pause/resume, pull now).
//
// "Open rejects" are the rejected rows of the flow's last finished run: the ERP re-sends a whole export
// (or the next delta) after a fix, and that run's rejects replace the picture; runs have no
// acknowledgement of their rejects to count instead.
import { sql, type Kysely } from 'kysely';
import { getNextMillis } from 'bullmq';
import { stringify } from 'yaml';
import type { Database } from '../db/index.ts';
import { applyFlows, getFlow, parseFlowFile, type ConnectorLookup, type StoredFlow } from '../pipeline/flows.ts';
import { unseenPriceWarning, unseenPrices, visibilityWarnings } from '../pipeline/city-price-types.ts';
import { ajv, FLOW_SCHEMA_ID, type Flow } from '../schemas/index.ts';
import type { Problem } from '../errors/index.ts';
import { isMagistralError } from '../errors/index.ts';
import { CabinetError } from '../cabinet/errors.ts';

type Db = Kysely<Database>;

/** What the flow pages show of any run. */
interface RunFacts {
  id: number;
  state: string;
  receivedAt: Date;
  finishedAt: Date | null;
  rowsRead: number;
  rowsRejected: number;
}

export interface LastRun extends RunFacts {
  /** Rows read per second between the run's start and end; null while it runs or when it read nothing. */
  rowsPerSecond: number | null;
}

export interface FlowRow {
  id: number;
  name: string;
  description: string | null;
  connector: string;
  target: string;
  mode: string;
  paused: boolean;
  schedule: Flow['schedule'] | null;
  /** Seconds between two scheduled pulls (the shortest when both everySeconds and cron are set). */
  expectedIntervalS: number | null;
  lastRun: LastRun | null;
  lastSuccessAt: Date | null;
  /** Seconds since the last successful run finished (null: never). */
  lagS: number | null;
  /** The lag is over twice the expected interval (a missed pull and more), or a scheduled flow never succeeded. */
  late: boolean;
  /** Rejected rows of the last finished run. */
  openRejects: number;
  warnings: string[];
}

const intervals = new Map<string, number | null>();

/** The seconds between two firings of a schedule, or null for a flow without one. */
export function expectedIntervalS(schedule: Flow['schedule'] | null | undefined, now = Date.now()): number | null {
  if (!schedule) return null;
  const out: number[] = [];
  if (schedule.everySeconds) out.push(schedule.everySeconds);
  if (schedule.cron) {
    // The gap between the next two firings (BullMQ's own cron reading: the one the schedulers use).
    const key = `${schedule.cron}\u0000${schedule.timezone ?? ''}`;
    if (!intervals.has(key)) {
      let gap: number | null = null;
      try {
        const opts = { pattern: schedule.cron.trim(), ...(schedule.timezone ? { tz: schedule.timezone } : {}) };
        const a = getNextMillis(now, opts);
        const b = a === undefined ? undefined : getNextMillis(a + 1, opts);
        gap = a !== undefined && b !== undefined ? Math.round((b - a) / 1000) : null;
      } catch {
        gap = null;
      }
      intervals.set(key, gap);
    }
    const gap = intervals.get(key);
    if (gap) out.push(gap);
  }
  return out.length ? Math.min(...out) : null;
}

/** The parts of a definition the list shows (the whole jsonb of 200 flows is ~200 KB to read and parse). */
type Summary = Pick<Flow, 'description' | 'target' | 'mode' | 'schedule'> & { source: Pick<Flow['source'], 'connector'> };

interface OverviewRow {
  id: number; name: string; definition: Summary; paused: boolean;
  run_id: number | null; run_state: string | null; received_at: Date | null; started_at: Date | null; finished_at: Date | null;
  rows_read: number | null; rows_rejected: number | null;
  fin_rejected: number | null; success_at: Date | null; now: Date;
}

function toRow(r: OverviewRow, warnings: string[]): FlowRow {
  const def = r.definition;
  const secs = r.started_at && r.finished_at ? (r.finished_at.getTime() - r.started_at.getTime()) / 1000 : null;
  const lastRun: LastRun | null = r.run_id === null ? null : {
    id: Number(r.run_id), state: r.run_state!, receivedAt: r.received_at!, finishedAt: r.finished_at,
    rowsRead: Number(r.rows_read ?? 0), rowsRejected: Number(r.rows_rejected ?? 0),
    rowsPerSecond: secs !== null && r.rows_read ? Math.round(Number(r.rows_read) / Math.max(secs, 0.001)) : null,
  };
  const interval = expectedIntervalS(def.schedule);
  const lagS = r.success_at ? Math.max(0, Math.round((r.now.getTime() - r.success_at.getTime()) / 1000)) : null;
  return {
    id: r.id, name: r.name, description: typeof def.description === 'string' ? def.description : null,
    connector: def.source.connector, target: def.target, mode: def.mode ?? 'delta', paused: r.paused,
    schedule: def.schedule ?? null, expectedIntervalS: interval, lastRun, lastSuccessAt: r.success_at, lagS,
    late: !r.paused && interval !== null && (lagS === null ? lastRun !== null : lagS > 2 * interval),
    openRejects: Number(r.fin_rejected ?? 0), warnings,
  };
}

/**
 * One statement for every flow: the last run, the last finished run and the last successful one are each
 * the first entry of a backward index scan (runs_flow, and migration 0032's partial indexes), however
 * many failed runs came since the last success (bench:console, 200 flows × 500 runs: 2 422 buffers).
 */
async function overviewRows(db: Db, name?: string): Promise<OverviewRow[]> {
  const r = await sql<OverviewRow>`
    SELECT f.id, f.name, f.paused, now() AS now,
      jsonb_build_object('description', f.definition->'description', 'target', f.definition->'target', 'mode', f.definition->'mode',
        'schedule', f.definition->'schedule', 'source', jsonb_build_object('connector', f.definition->'source'->'connector')) AS definition,
      l.id AS run_id, l.state AS run_state, l.received_at, l.started_at, l.finished_at, l.rows_read, l.rows_rejected,
      fin.rows_rejected AS fin_rejected, ok.finished_at AS success_at
    FROM flows f
    LEFT JOIN LATERAL (SELECT id, state, received_at, started_at, finished_at, rows_read, rows_rejected FROM runs
      WHERE flow_id = f.id ORDER BY id DESC LIMIT 1) l ON true
    LEFT JOIN LATERAL (SELECT rows_rejected FROM runs
      WHERE flow_id = f.id AND state IN ('done', 'failed', 'rejected') ORDER BY id DESC LIMIT 1) fin ON true
    LEFT JOIN LATERAL (SELECT finished_at FROM runs WHERE flow_id = f.id AND state = 'done' ORDER BY id DESC LIMIT 1) ok ON true
    ${name === undefined ? sql`` : sql`WHERE f.name = ${name}`}
    ORDER BY f.name`.execute(db);
  return r.rows;
}

export async function flowsOverview(db: Db): Promise<FlowRow[]> {
  const rows = await overviewRows(db);
  const prices = new Set(rows.filter((r) => r.definition.target === 'prices').map((r) => r.id));
  const unseen = (await unseenPrices(db)).filter((u) => prices.has(u.flowId));
  const byFlow = new Map<number, string[]>();
  for (const u of unseen) byFlow.set(u.flowId, [...(byFlow.get(u.flowId) ?? []), unseenPriceWarning(u)]);
  return rows.map((r) => toRow(r, byFlow.get(r.id) ?? []));
}

export interface RunLine extends RunFacts {
  /** Rows of the read that a snapshot's fingerprint found equal to the last accepted snapshot (not staged). */
  rowsSkipped: number;
  changed: number;
  error: string | null;
}

export interface FlowDetail {
  row: FlowRow;
  stored: StoredFlow;
  /** The YAML of the stored definition. */
  yaml: string;
  runs: RunLine[];
  /** The connector of the flow can pull (the page offers «Загрузить сейчас»). */
  pulls: boolean;
}

/** One flow with its last 50 runs and every warning `flows show` prints. */
export async function flowDetail(db: Db, registry: { connector(kind: string): { pull?: unknown } | undefined }, name: string): Promise<FlowDetail> {
  const [r] = await overviewRows(db, name);
  if (!r) throw new CabinetError(404, `Потока «${name}» нет.`);
  const stored = await getFlow(db, name);
  const warnings = await visibilityWarnings(db, stored);
  const runs = await db.selectFrom('runs')
    .select(['id', 'state', 'received_at', 'finished_at', 'rows_read', 'rows_skipped', 'rows_rejected', 'rows_inserted', 'rows_updated', 'rows_removed', 'error_code', 'error'])
    .where('flow_id', '=', r.id).orderBy('id', 'desc').limit(50).execute();
  return {
    row: toRow(r, warnings), stored, yaml: flowYaml(stored.definition), pulls: Boolean(registry.connector(stored.definition.source.connector)?.pull),
    runs: runs.map((x) => ({
      id: Number(x.id), state: x.state, receivedAt: x.received_at, finishedAt: x.finished_at, rowsRead: Number(x.rows_read),
      rowsSkipped: Number(x.rows_skipped), rowsRejected: Number(x.rows_rejected), changed: Number(x.rows_inserted) + Number(x.rows_updated) + Number(x.rows_removed),
      error: x.error ? `${x.error_code ?? ''} ${x.error}`.trim() : null,
    })),
  };
}

type SchemaNode = { properties?: Record<string, SchemaNode> } | undefined;

/**
 * A stored definition with its keys in the schema's order (apiVersion, kind, name, description, source …):
 * jsonb keeps keys sorted by length, which reads as a shuffle. Keys the schema does not list follow, sorted.
 */
function inSchemaOrder(value: unknown, schema: SchemaNode): unknown {
  if (Array.isArray(value)) return value.map((v) => inSchemaOrder(v, undefined));
  if (!value || typeof value !== 'object') return value;
  const o = value as Record<string, unknown>;
  const props = schema?.properties ?? {};
  const keys = [...Object.keys(props).filter((k) => k in o), ...Object.keys(o).filter((k) => !(k in props)).sort()];
  return Object.fromEntries(keys.map((k) => [k, inSchemaOrder(o[k], props[k])]));
}

export const flowYaml = (def: Flow): string => stringify(inSchemaOrder(def, ajv.getSchema(FLOW_SCHEMA_ID)?.schema as SchemaNode));

export type ApplyOutcome =
  | { ok: true; action: 'created' | 'updated' | 'unchanged'; version: number }
  | { ok: false; problems: Problem[]; message: string };

/**
 * Applies edited YAML of flow `name` with the checks of `magistral flows apply` (schema, mappings,
 * connector, each problem with line:column); nothing is stored unless all pass, and the text must
 * stay this one flow (renaming or adding flows is the CLI's `flows apply`).
 */
export async function applyFlowYaml(db: Db, registry: ConnectorLookup, name: string, text: string): Promise<ApplyOutcome> {
  await getFlow(db, name);
  let flows: Flow[];
  try {
    flows = await parseFlowFile(text, `${name}.yaml`, registry);
  } catch (e) {
    if (isMagistralError(e) && e.code === 'MAG_ERR_FLOW_INVALID') return { ok: false, problems: e.problems, message: e.message };
    throw e;
  }
  if (flows.length !== 1 || flows[0]!.name !== name) {
    const problem: Problem = { path: `${name}.yaml/name`, rule: 'same-flow', message: `the text must hold exactly flow '${name}' (found ${flows.map((f) => `'${f.name}'`).join(', ')}); another flow is applied with magistral flows apply` };
    return { ok: false, problems: [problem], message: problem.message };
  }
  const [res] = await applyFlows(db, flows);
  return { ok: true, action: res!.action, version: res!.version };
}
