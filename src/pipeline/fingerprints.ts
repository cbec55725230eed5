// Snapshot fingerprints (issue 16), the store side: where a flow's files live, which one is the flow's
// fingerprint (table `fingerprints`, migration 0040), and the rules that keep it true to the store.
//
// A fingerprint is the last accepted snapshot of a flow, row by row; it is used only while it equals
// what the store holds for the flow. So:
// - it becomes the flow's in the merge transaction that wrote that snapshot (`activate`), and only when
//   every row of the snapshot reached the store (no row rejected by the merge);
// - every other merge of the flow that changes a row (a delta, a snapshot read without one) clears it;
// - a merge that takes a key over from another flow (or removes other flows' rows, scope keys) clears
//   the other flows' fingerprints of that table;
// - any write to prices or stock outside the bus clears every fingerprint of the table (a statement
//   trigger; the bus's transactions set `magistral.bus_write`);
// - a merge that compared against a fingerprint checks, under the fingerprint's row lock, that it is still
//   the flow's and still valid; if not, the run is read again without one.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import type { Flow } from '../schemas/index.ts';
import type { Queryable } from './lifecycle/index.ts';
import type { TargetSpec } from './targets.ts';

/** Set in a transaction of the bus that writes prices or stock: the trigger leaves fingerprints to the bus. */
export const BUS_WRITE_SQL = `SET LOCAL magistral.bus_write = 'on'`;

export function fingerprintDir(dataDir: string, flowId: number): string {
  return path.join(dataDir, 'fingerprints', `flow-${flowId}`);
}

export function fingerprintFile(dataDir: string, flowId: number, runId: number): string {
  return path.join(fingerprintDir(dataDir, flowId), `run-${runId}.fp`);
}

/**
 * What a fingerprint's rows mean: the target, the system the codes resolve in, the scope. A flow changed
 * in any of these starts without one. (Mapping changes need nothing: the rows compared are canonical.)
 */
export function definitionHash(flow: Flow): string {
  const basis = JSON.stringify({ target: flow.target, system: flow.source.system ?? 'local', scope: flow.scope ?? 'flow' });
  return createHash('sha256').update(basis).digest('hex').slice(0, 32);
}

/** Runs whose extract may compare and write a fingerprint: a fact's snapshot, scope flow, no periods or tiers, outside snapshot groups. */
export function fingerprints(flow: Flow, spec: TargetSpec, run: { mode: string; snapshotGroup: string | null; directCovers: boolean }): boolean {
  return spec.kind === 'fact' && run.directCovers && run.mode === 'snapshot' && run.snapshotGroup === null && (flow.scope ?? 'flow') === 'flow';
}

/** The flow's fingerprint to compare with: its run and file, when valid, meant for this definition, and on disk. */
export async function currentFingerprint(q: Queryable, dataDir: string, flowId: number, flow: Flow): Promise<{ runId: number; file: string } | undefined> {
  const r = await q.query<{ run_id: string; valid: boolean; definition_hash: string }>(
    'SELECT run_id, valid, definition_hash FROM fingerprints WHERE flow_id = $1', [flowId]);
  const row = r.rows[0];
  if (!row || !row.valid || row.definition_hash !== definitionHash(flow)) return undefined;
  const runId = Number(row.run_id);
  const file = fingerprintFile(dataDir, flowId, runId);
  return existsSync(file) ? { runId, file } : undefined;
}

/**
 * In a merge that compared against fingerprint `base`: whether that is still the flow's, valid and meant
 * for this definition. Locks the row until the merge ends, so a write outside the bus waits for it.
 */
export async function baseStillTrue(client: pg.PoolClient, flowId: number, base: number, flow: Flow): Promise<boolean> {
  const r = await client.query<{ run_id: string; valid: boolean; definition_hash: string }>(
    'SELECT run_id, valid, definition_hash FROM fingerprints WHERE flow_id = $1 FOR UPDATE', [flowId]);
  const row = r.rows[0];
  return !!row && row.valid && Number(row.run_id) === base && row.definition_hash === definitionHash(flow);
}

/** In the merge (or direct load) that wrote the snapshot: its file becomes the flow's fingerprint. */
export async function activateFingerprint(q: Queryable, a: { flowId: number; runId: number; target: string; flow: Flow; rows: number }): Promise<void> {
  await q.query(`
    INSERT INTO fingerprints (flow_id, target, run_id, definition_hash, rows, valid) VALUES ($1, $2, $3, $4, $5, true)
    ON CONFLICT (flow_id) DO UPDATE SET target = excluded.target, run_id = excluded.run_id, definition_hash = excluded.definition_hash,
      rows = excluded.rows, valid = true, activated_at = now(), invalidated_at = NULL, invalidated_by = NULL`,
  [a.flowId, a.target, a.runId, definitionHash(a.flow), a.rows]);
}

/**
 * Clears fingerprints of a table in a bus transaction: the flow's own (`flowId`), every other flow's
 * (`flowId` with `othersOf`), those of the flows named (`flows`), or every one (none of them: the price roll).
 * A fingerprint row another flow's merge holds (baseStillTrue) is waited for only when it is cleared.
 */
export async function invalidateFingerprints(q: Queryable, target: string, w: { flowId?: number; othersOf?: boolean; flows?: readonly number[]; why: string }): Promise<void> {
  if (w.flows) {
    if (!w.flows.length) return;
    await q.query(`UPDATE fingerprints SET valid = false, invalidated_at = now(), invalidated_by = $3
      WHERE target = $1 AND valid AND flow_id = ANY($2::int[])`, [target, w.flows, w.why]);
    return;
  }
  await q.query(`UPDATE fingerprints SET valid = false, invalidated_at = now(), invalidated_by = $3
    WHERE target = $1 AND valid AND ($2::int IS NULL OR (CASE WHEN $4 THEN flow_id <> $2 ELSE flow_id = $2 END))`,
  [target, w.flowId ?? null, w.why, !!w.othersOf]);
}

/** Makes the flow's directory for a run's new file. */
export function prepareFingerprintDir(dataDir: string, flowId: number): void {
  mkdirSync(fingerprintDir(dataDir, flowId), { recursive: true });
}

/**
 * After the commit that made run `active` the flow's fingerprint: files of earlier runs go (a later run
 * may be writing its own; an extract still reading an earlier one keeps its open descriptor).
 */
export function removeOlderFingerprints(dataDir: string, flowId: number, active: number): void {
  const dir = fingerprintDir(dataDir, flowId);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const m = /^run-(\d+)\.fp(\.tmp)?$/.exec(n);
    if (m && Number(m[1]) < active) rmSync(path.join(dir, n), { force: true });
  }
}

/** Tombstones of a run: old rows its snapshot no longer holds (part and item codes), COPY'd by the extract. */
export function goneTable(stagingTableName: string): string {
  return `${stagingTableName}_gone`;
}
