// Bounded memory: a generated 300 MB offers file is read through the CommerceML reader in a child
// process, whose peak RSS must stay far below the file's size (the reader keeps one record at a time).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { generateOffersFile } from '../fixtures/onec/generate-offers.ts';

const run = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'onec-mem-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Node with tsx alone takes ~60 MB; the reader may add its chunk, one offer and a batch of records. */
const RSS_BOUND_MB = 160;

describe('CommerceML reader memory', () => {
  it('reads a 300 MB offers file with peak RSS under a fixed bound, every record counted', async () => {
    const file = path.join(dir, 'offers-300mb.xml');
    const gen = await generateOffersFile(file, { offers: 1e9, priceTypes: 100, warehouses: 3, maxBytes: 300e6, samePrices: true });
    expect(gen.bytes).toBeGreaterThanOrEqual(300e6);
    const { stdout } = await run(process.execPath, ['--import', 'tsx', path.join(REPO_DIR, 'test/fixtures/onec/read-in-child.ts'), file], { cwd: REPO_DIR, maxBuffer: 1 << 20 });
    const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as { records: number; counts: Record<string, number>; maxRssMb: number };
    expect(r.counts).toMatchObject({ priceTypes: 100, warehouses: 3, offers: gen.offers, prices: gen.prices, stock: gen.stock });
    // Every price and stock entry became a record (plain offers are not records of their own).
    expect(r.records).toBe(gen.prices + gen.stock + 100 + 3);
    expect(r.maxRssMb).toBeLessThan(RSS_BOUND_MB);
  });
});
