// A compiled mapping must not keep the parser's decoded chunks alive: values it remembers (the memo
// of valid values) are slices of megabyte-sized chunk strings unless copied.
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { compileMapping, loadMapping } from '../../src/mapping/index.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** A string of `size` characters whose slices V8 represents as views into it (not copies). */
function bigChunk(i: number, size: number): string {
  return `${i};`.padEnd(size, 'x') + String(i);
}

describe('memory held by a compiled mapping', () => {
  it('does not retain the chunks its remembered values were sliced from', async () => {
    const map = await compileMapping(await loadMapping('file/prices.yaml'), { system: 'local' });
    gc();
    const before = process.memoryUsage().heapUsed;
    const size = 256 * 1024;
    for (let i = 0; i < 400; i++) {
      const chunk = bigChunk(i, size);
      // Like the CSV parser: field values are slices of the decoded chunk (13+ characters: V8
      // copies shorter ones), each one distinct so the memo keeps every one of them.
      const product = chunk.slice(0, 20);
      const r = map({ sku: product, price_type: 'retail', price: '1', currency: 'RUB' });
      expect(r.ok).toBe(true);
    }
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    // 400 chunks × 256 KiB ≈ 100 MiB (twice that in two-byte form) if they were retained.
    expect(grown).toBeLessThan(20 * 1024 * 1024);
  });
});
