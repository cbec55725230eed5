// writeWithBackpressure: the helper every COPY of an extract writes through.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { writeWithBackpressure } from '../../src/pipeline/extract/index.ts';

/** A writable that takes a chunk per event-loop turn: every write past its 16 bytes must wait. */
function slow(fail?: { at: number; error: Error }): Writable & { got: number } {
  let n = 0;
  const w = new Writable({
    highWaterMark: 16,
    write(chunk: Buffer, _enc, cb) {
      n++;
      setImmediate(() => {
        (w as Writable & { got: number }).got += chunk.length;
        cb(fail && n === fail.at ? fail.error : undefined);
      });
    },
  }) as Writable & { got: number };
  w.got = 0;
  return w;
}

describe('writeWithBackpressure', () => {
  it('waits for drain on every full buffer and leaves no listener behind', async () => {
    const w = slow();
    const before = { error: w.listenerCount('error'), drain: w.listenerCount('drain'), close: w.listenerCount('close') };
    for (let i = 0; i < 200; i++) await writeWithBackpressure(w, Buffer.alloc(64, i));
    expect(w.writableLength).toBeLessThanOrEqual(64);
    expect({ error: w.listenerCount('error'), drain: w.listenerCount('drain'), close: w.listenerCount('close') }).toEqual(before);
    w.end();
    await new Promise((r) => w.on('finish', r));
    expect(w.got).toBe(200 * 64);
  });

  it('rejects with the stream error while waiting, and at once on a stream that has failed', async () => {
    const boom = new Error('COPY aborted by the server');
    const w = slow({ at: 3, error: boom });
    w.on('error', () => {}); // the owner's handler
    let caught: unknown;
    try {
      for (let i = 0; i < 10; i++) await writeWithBackpressure(w, Buffer.alloc(64));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBe(boom);
    await expect(writeWithBackpressure(w, Buffer.alloc(64))).rejects.toBeDefined();
  });
});
