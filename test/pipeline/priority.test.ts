// Small runs first within a worker process (src/pipeline/priority.ts): a big read pauses between its
// slices while a small run is in flight, never for long, and a small run's own read never waits.
import { describe, expect, it } from 'vitest';
import { asSmallRun, giveWayToSmallRuns, smallRunsActive } from '../../src/pipeline/priority.ts';
import { givesWay } from '../../src/pipeline/extract/engine.ts';
import type { Sink } from '../../src/pipeline/extract/sink.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A big read's loop: counts its slices until told to stop, giving way between them. */
function bigRead(maxPause: number): { slices: () => number; stop: () => Promise<void> } {
  let n = 0;
  let running = true;
  const done = (async () => {
    while (running) {
      n++;
      await new Promise<void>((r) => setImmediate(r));
      await giveWayToSmallRuns(maxPause);
    }
  })();
  return { slices: () => n, stop: async () => { running = false; await done; } };
}

describe('small runs first', () => {
  it('a big read makes no progress while a small run is in flight, and goes on when it ends', async () => {
    const big = bigRead(10_000);
    await sleep(20);
    expect(big.slices()).toBeGreaterThan(0);
    let during = -1;
    await asSmallRun(async () => {
      await sleep(5);
      const at = big.slices();
      await sleep(100);
      during = big.slices() - at;
      expect(smallRunsActive()).toBe(1);
    });
    expect(during).toBe(0);
    const after = big.slices();
    await sleep(20);
    expect(big.slices()).toBeGreaterThan(after);
    await big.stop();
  });

  it('pauses a big read at most the given time per slice, so a stream of small runs never stops it', async () => {
    const big = bigRead(20);
    let progressed = 0;
    await asSmallRun(async () => {
      await sleep(5);
      const at = big.slices();
      await sleep(200);
      progressed = big.slices() - at;
    });
    // About one slice each 20 ms: far fewer than unpaused (thousands), and more than none.
    expect(progressed).toBeGreaterThan(2);
    expect(progressed).toBeLessThan(50);
    await big.stop();
  });

  it('never pauses a small run\'s own read, nor any read when no small run is in flight', async () => {
    expect(giveWayToSmallRuns()).toBeUndefined();
    await asSmallRun(async () => {
      expect(giveWayToSmallRuns()).toBeUndefined();
      await sleep(1);
      expect(giveWayToSmallRuns()).toBeUndefined();
    });
    expect(smallRunsActive()).toBe(0);
  });

  it('a read that holds the target\'s merge lock (a direct load) does not give way: a small merge may wait for that lock', () => {
    const staged = {} as Sink;
    const direct = { holdsMergeLock: true } as Sink;
    expect(givesWay([staged])).toBe(true);
    expect(givesWay([staged, direct])).toBe(false);
  });
});
