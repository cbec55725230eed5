// A run's stages in time (issue 15: "a timeline of its stages (received, extract, staged, merge, done)
// with durations"), from the times the lifecycle records: received_at, started_at (extraction began),
// staged_at, finished_at, and the measured extract_ms / merge_ms. Waiting is a stage too: a run that
// sat 40 minutes in the queue behind another flow's merge says so instead of looking slow to extract.
import type { RunView } from './runs.ts';

export type TimelineStage = 'received' | 'queued' | 'extract' | 'waiting' | 'merge' | 'held' | 'finished';

export interface TimelineEntry {
  stage: TimelineStage;
  /** When the stage began. */
  at: Date;
  /** How long it took; null while it lasts (or for an instant: received, finished). */
  ms: number | null;
}

type Times = Pick<RunView, 'state' | 'receivedAt' | 'startedAt' | 'stagedAt' | 'finishedAt' | 'extractMs' | 'mergeMs' | 'loadPath'> & Partial<Pick<RunView, 'decision' | 'heldAt'>>;

const between = (a: Date, b: Date): number => Math.max(0, b.getTime() - a.getTime());

/** The stages a run went through, in order; the last one is where it is now. */
export function runTimeline(r: Times): TimelineEntry[] {
  const t: TimelineEntry[] = [{ stage: 'received', at: r.receivedAt, ms: null }];
  if (!r.startedAt) {
    if (!r.finishedAt) t.push({ stage: 'queued', at: r.receivedAt, ms: null });
    else if (r.state !== 'rejected') t.push({ stage: 'queued', at: r.receivedAt, ms: between(r.receivedAt, r.finishedAt) });
  } else {
    t.push({ stage: 'queued', at: r.receivedAt, ms: between(r.receivedAt, r.startedAt) });
    const extractEnd = r.stagedAt ?? r.finishedAt;
    t.push({ stage: 'extract', at: r.startedAt, ms: r.extractMs ?? (extractEnd ? between(r.startedAt, extractEnd) : null) });
    // A direct load writes the live table while it extracts: it has no merge of its own.
    if (r.stagedAt && r.loadPath !== 'direct') {
      const mergeStart = r.finishedAt && r.mergeMs !== null ? new Date(r.finishedAt.getTime() - r.mergeMs) : null;
      // Held until a person decided: the wait before the merge is mostly theirs.
      const decided = r.decision ? new Date(r.decision.at) : null;
      if (r.state === 'held') {
        t.push({ stage: 'held', at: r.stagedAt, ms: null });
      } else if (decided) {
        t.push({ stage: 'held', at: r.stagedAt, ms: between(r.stagedAt, decided) });
        if (mergeStart) t.push({ stage: 'waiting', at: decided, ms: between(decided, mergeStart) }, { stage: 'merge', at: mergeStart, ms: r.mergeMs });
      } else if (mergeStart && mergeStart.getTime() >= r.stagedAt.getTime()) {
        t.push({ stage: 'waiting', at: r.stagedAt, ms: between(r.stagedAt, mergeStart) });
        t.push({ stage: 'merge', at: mergeStart, ms: r.mergeMs });
      } else if (!r.finishedAt) {
        t.push({ stage: r.state === 'merging' ? 'merge' : 'waiting', at: r.stagedAt, ms: null });
      }
    }
  }
  // Held before it was staged (a stage's HoldRunError while reading; a snapshot group's finalize, which
  // reads nothing): the stage it was in ended when it was held.
  if (r.state === 'held' && r.heldAt && !r.stagedAt) {
    const last = t[t.length - 1]!;
    if (last.ms === null && last.stage !== 'received') last.ms = between(last.at, r.heldAt);
    t.push({ stage: 'held', at: r.heldAt, ms: null });
  }
  if (r.finishedAt) t.push({ stage: 'finished', at: r.finishedAt, ms: null });
  return t;
}
