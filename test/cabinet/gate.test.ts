import { describe, expect, it } from 'vitest';
import { WorkGate } from '../../src/cabinet/gate.ts';

describe('WorkGate', () => {
  it('lets one piece of work per session and a bounded number per process, and frees them once', () => {
    const g = new WorkGate(2);
    const a = g.enter('s1');
    expect(typeof a).toBe('function');
    expect(g.enter('s1')).toBe('session');
    const b = g.enter('s2');
    expect(typeof b).toBe('function');
    expect(g.enter('s3')).toBe('busy');
    (a as () => void)();
    (a as () => void)();
    expect(g.inFlight).toBe(1);
    expect(typeof g.enter('s1')).toBe('function');
    expect(g.enter('s3')).toBe('busy');
    (b as () => void)();
    expect(typeof g.enter('s3')).toBe('function');
  });
});
