// A full disk under the inbox and the file store (issue 17): a payload or file that does not fit is refused to its sender with a
// precise error (MAG_ERR_STORAGE_FULL, the file named, HTTP 507), nothing half-stored remains (no file, no
// inbox row, no run), what was stored before is intact, and once there is room again the next payload goes
// through. The data dir is a tmpfs of 2 MiB mounted for the test (the suite runs as root, like its own
// PostgreSQL cluster).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMagistralError } from '../../src/errors/index.ts';
import { storeFile } from '../../src/backoffice/files.ts';
import { createTestPipeline, csv, type TestPipeline } from '../helpers/pipeline.ts';

const H = 'sku;price_type;price;currency';
let dir: string;
let tp: TestPipeline;

function files(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(`${path.relative(root, p)}:${statSync(p).size}`);
    }
  };
  walk(root);
  return out.sort();
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'magistral-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir]);
  tp = await createTestPipeline('diskfull', { env: { MAGISTRAL_DATA_DIR: dir } });
  await tp.applyFlowFile('ops/flows/prices-csv.yaml');
}, 60_000);
afterAll(async () => {
  await tp?.close().catch(() => {});
  try { execFileSync('umount', [dir]); } catch { /* not mounted */ }
  rmSync(dir, { recursive: true, force: true });
});

describe('a full disk under the inbox', () => {
  it('refuses the payload that does not fit, keeps nothing of it, and takes the next one once there is room', async () => {
    const small = await tp.ingest('prices-csv', csv(H, ['A;retail;1;RUB', 'B;retail;2;RUB', 'D;retail;4;RUB', 'E;retail;5;RUB']), 'before.csv');
    expect(small.state).toBe('done');
    const before = files(dir);
    const runs = async () => (await tp.rt.pool.query('SELECT count(*)::int AS n FROM runs')).rows[0].n as number;
    const inbox = async () => (await tp.rt.pool.query('SELECT count(*)::int AS n FROM inbox')).rows[0].n as number;
    const [runsBefore, inboxBefore] = [await runs(), await inbox()];

    const rows = Array.from({ length: 120_000 }, (_, i) => `SKU-${i};retail;${i}.50;RUB`);
    const big = csv(H, rows);
    expect(big.length).toBeGreaterThan(2 * 1024 * 1024);
    const e = await tp.send('prices-csv', big, 'too-big.csv').then(() => undefined, (x: unknown) => x);
    expect(isMagistralError(e) && e.code).toBe('MAG_ERR_STORAGE_FULL');
    expect((e as Error).message).toMatch(/too-big\.csv: no space left under the inbox .*nothing of it was kept/);
    expect(files(dir)).toEqual(before);
    expect([await runs(), await inbox()]).toEqual([runsBefore, inboxBefore]);

    // prices-csv is a snapshot: the whole list again, with C added.
    // The file store on the same disk: a file that does not fit is refused whole, no temporary file left.
    const f = await storeFile(tp.rt.db, dir, Buffer.alloc(3 << 20, 7), 'application/pdf').then(() => undefined, (x: unknown) => x);
    expect(isMagistralError(f) && f.code).toBe('MAG_ERR_STORAGE_FULL');
    expect(files(dir)).toEqual(before);

    const after = await tp.ingest('prices-csv', csv(H, ['A;retail;1;RUB', 'B;retail;2;RUB', 'C;retail;3;RUB', 'D;retail;4;RUB', 'E;retail;5;RUB']), 'after.csv');
    expect(after.state, JSON.stringify(after)).toBe('done');
    const prices = await tp.rt.pool.query(`SELECT p.code FROM prices x JOIN products p ON p.id = x.product_id ORDER BY 1`);
    expect(prices.rows.map((r) => r.code)).toEqual(['A', 'B', 'C', 'D', 'E']);
  }, 120_000);
});
