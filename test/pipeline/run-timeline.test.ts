// The run page's timeline from the times a run records: waiting is shown as its own stage.
import { describe, expect, it } from 'vitest';
import { runTimeline } from '../../src/pipeline/run-timeline.ts';

const at = (s: number) => new Date(Date.UTC(2026, 11, 7, 10, 0, s));
const base = { receivedAt: at(0), startedAt: null, stagedAt: null, finishedAt: null, extractMs: null, mergeMs: null, loadPath: 'staged' as const };

describe('run timeline', () => {
  it('a staged run that waited for its merge: queued, extract, waiting, merge, finished with their durations', () => {
    const t = runTimeline({ ...base, state: 'done', startedAt: at(2), stagedAt: at(10), extractMs: 7_500, finishedAt: at(30), mergeMs: 5_000 });
    expect(t.map((e) => [e.stage, e.at.getUTCSeconds(), e.ms])).toEqual([
      ['received', 0, null], ['queued', 0, 2_000], ['extract', 2, 7_500], ['waiting', 10, 15_000], ['merge', 25, 5_000], ['finished', 30, null],
    ]);
  });

  it('a run still in the queue, one extracting, one held, one merging: the last stage lasts (no duration)', () => {
    expect(runTimeline({ ...base, state: 'received' }).map((e) => [e.stage, e.ms])).toEqual([['received', null], ['queued', null]]);
    expect(runTimeline({ ...base, state: 'extracting', startedAt: at(1) }).at(-1)).toEqual({ stage: 'extract', at: at(1), ms: null });
    expect(runTimeline({ ...base, state: 'held', startedAt: at(1), stagedAt: at(4), extractMs: 3_000 }).at(-1)).toEqual({ stage: 'held', at: at(4), ms: null });
    expect(runTimeline({ ...base, state: 'merging', startedAt: at(1), stagedAt: at(4), extractMs: 3_000 }).at(-1)).toEqual({ stage: 'merge', at: at(4), ms: null });
  });

  it('a run held before it was staged (a stage\'s HoldRunError while reading, a snapshot group\'s finalize): held from then, lasting', () => {
    const extracting = runTimeline({ ...base, state: 'held', startedAt: at(1), heldAt: at(3) });
    expect(extracting.map((e) => [e.stage, e.at.getUTCSeconds(), e.ms])).toEqual([['received', 0, null], ['queued', 0, 1_000], ['extract', 1, 2_000], ['held', 3, null]]);
    const finalize = runTimeline({ ...base, state: 'held', heldAt: at(5) });
    expect(finalize.map((e) => [e.stage, e.at.getUTCSeconds(), e.ms])).toEqual([['received', 0, null], ['queued', 0, 5_000], ['held', 5, null]]);
  });

  it('an approved held run: held until the decision, then waiting and merge; a rejected one ends held', () => {
    const decision = (action: 'approved' | 'rejected', s: number) => ({ action, by: 'anna', at: at(s).toISOString(), comment: null, heldReason: 'would change 3 of 4 rows' });
    const approved = runTimeline({ ...base, state: 'done', startedAt: at(1), stagedAt: at(3), extractMs: 2_000, finishedAt: at(50), mergeMs: 4_000, decision: decision('approved', 40) });
    expect(approved.slice(3).map((e) => [e.stage, e.at.getUTCSeconds(), e.ms])).toEqual([['held', 3, 37_000], ['waiting', 40, 6_000], ['merge', 46, 4_000], ['finished', 50, null]]);
    const rejected = runTimeline({ ...base, state: 'rejected', startedAt: at(1), stagedAt: at(3), extractMs: 2_000, finishedAt: at(20), mergeMs: null, decision: decision('rejected', 20) });
    expect(rejected.slice(3).map((e) => [e.stage, e.ms])).toEqual([['held', 17_000], ['finished', null]]);
  });

  it('a direct load has no merge stage; a run rejected while held keeps no made-up stages', () => {
    const direct = runTimeline({ ...base, state: 'done', loadPath: 'direct', startedAt: at(1), stagedAt: at(9), finishedAt: at(9), extractMs: 8_000, mergeMs: 0 });
    expect(direct.map((e) => e.stage)).toEqual(['received', 'queued', 'extract', 'finished']);
    const failedEarly = runTimeline({ ...base, state: 'failed', finishedAt: at(3) });
    expect(failedEarly.map((e) => [e.stage, e.ms])).toEqual([['received', null], ['queued', 3_000], ['finished', null]]);
  });
});
