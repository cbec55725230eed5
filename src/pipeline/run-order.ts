// The canonical dependency order of targets: when one payload feeds several flows, what the others refer
// to merges first (cities, then price types and groups, then products, then facts such as prices).
import { autoCreates, type StoredFlow } from './flows.ts';
import { TARGETS } from './targets.ts';

// Rank of each target within one payload: lower merges first.
const RANK: Record<string, number> = { cities: 0, groups: 1, priceTypes: 1, warehouses: 1, properties: 1, propertyValues: 2, products: 3 };

export function rank(target: string): number {
  return RANK[target] ?? (TARGETS[target]?.kind === 'fact' ? 5 : 4);
}

function entityOf(target: string): string | undefined {
  const spec = TARGETS[target];
  return spec?.kind === 'dimension' ? spec.entity : undefined;
}

/** Entities a fact refers to (price type and product of a price). */
export function factRefs(target: string): string[] {
  const spec = TARGETS[target];
  return spec?.kind === 'fact' ? spec.keys.map((k) => k.entity) : [];
}

/**
 * The runs one flow's run waits for. Catalog runs (groups, products, properties …) merge after every
 * run of an earlier rank (their reading goes on meanwhile: only the merge waits). A fact run (prices,
 * stock) starts loading only once the runs writing what it refers to have merged — the price types of
 * its prices — except an entity it creates placeholders for itself: with autoCreate [product], an offer
 * arriving before its product gets a placeholder that the product's run completes, so prices need not
 * wait for the whole catalog.
 */
export function dependencies(flow: StoredFlow, earlier: ReadonlyArray<{ flow: StoredFlow; runId: number }>): number[] {
  const target = flow.definition.target;
  const r = rank(target);
  const refs = factRefs(target);
  return earlier.filter((e) => {
    const entity = entityOf(e.flow.definition.target);
    if (refs.length) return entity !== undefined && refs.includes(entity) && !autoCreates(flow.definition, entity);
    return rank(e.flow.definition.target) < r;
  }).map((e) => e.runId);
}

export interface PlannedRun {
  flow: StoredFlow;
  runId: number;
  dependsOn: number[];
}

/** Runs a fact waits for (price types, warehouses): they read only the payload's head, alone, and merge first. */
export function factDependencies(made: readonly PlannedRun[]): Set<number> {
  return new Set(made.filter((m) => factRefs(m.flow.definition.target).length).flatMap((m) => m.dependsOn));
}

/**
 * The order a payload's runs are queued in: what facts wait for (price types, warehouses), then the facts
 * (the longest reads), then the rest; workers take jobs in this order.
 */
export function queueOrder(made: readonly PlannedRun[]): PlannedRun[] {
  const waitedFor = factDependencies(made);
  const key = (m: PlannedRun) => (waitedFor.has(m.runId) ? 0 : factRefs(m.flow.definition.target).length ? 1 : 2);
  return [...made].sort((a, b) => key(a) - key(b) || a.runId - b.runId);
}

/** The flows of one payload in the order their runs are made (dependency rank, then name). */
export function creationOrder<F extends StoredFlow>(flows: readonly F[]): F[] {
  return [...flows].sort((a, b) => rank(a.definition.target) - rank(b.definition.target) || a.name.localeCompare(b.name));
}
