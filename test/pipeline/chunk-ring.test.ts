// A payload read into reused buffers (inbox.ts ChunkRing, for a parser that copies what it keeps): a
// reader that works on each chunk for a while — awaiting between chunks, as the extract does while its
// COPY drains — still sees every chunk as the file holds it, in order, whatever the pauses.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { openPayload } from '../../src/pipeline/inbox.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'chunk-ring-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('openPayload with reused buffers', () => {
  it('hands each chunk over intact until the reader asks for the next, however slowly it reads', async () => {
    const bytes = randomBytes(3 * (1 << 20) + 12345);
    const file = path.join(dir, 'payload.bin');
    writeFileSync(file, bytes);
    await fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 16 }), async (pauses) => {
      let at = 0;
      let k = 0;
      const seen = new Set<ArrayBufferLike>();
      for await (const chunk of openPayload(file, true)) {
        const c = chunk as Buffer;
        seen.add(c.buffer);
        const copy = Buffer.from(c);
        // The reader is slow: the next reads (read ahead by the stream) must not land in this chunk.
        const ms = pauses[k++ % pauses.length]!;
        await new Promise((r) => setTimeout(r, ms));
        await new Promise((r) => setImmediate(r));
        expect(c.equals(copy)).toBe(true);
        expect(c.equals(bytes.subarray(at, at + c.length))).toBe(true);
        at += c.length;
      }
      expect(at).toBe(bytes.length);
      // The buffers are reused: a handful for a file of 13 chunks.
      expect(seen.size).toBeLessThanOrEqual(4);
    }), { numRuns: 15 });
  });
});
