// `magistral lineage` as an operator runs it: a price's changes with file and line, the next page's
// command, every live value of a product, JSON, and one line with exit 2 for a code nobody knows.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { seedPriceHistory } from '../helpers/lineage.ts';

const run = promisify(execFile);
let db: TestDb;
const cli = (args: string[]) => run(process.execPath, [path.join(REPO_DIR, 'bin/magistral.js'), 'lineage', ...args], { cwd: REPO_DIR, env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'silent' } });
const failed = (args: string[]) => cli(args).then(() => { throw new Error('expected a failure'); }, (e: { code: number; stdout: string; stderr: string }) => e);

beforeAll(async () => {
  db = await createTestDb('clilineage');
  await seedPriceHistory(db.pool, { product: 'SKU-7', priceType: 'retail', changes: 3 });
});
afterAll(async () => db?.drop());

describe('magistral lineage', () => {
  it('prints a price\'s changes newest first with file and line, and the command for older ones', async () => {
    const { stdout } = await cli(['SKU-7', '--price-type', 'retail', '--limit', '2']);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('product SKU-7 (SKU-7), price type retail (retail)');
    expect(lines[1]).toMatch(/^ {2}current {2}3\.000000 RUB — run \d+ \(seeded-prices\), written /);
    expect(lines[2]).toMatch(/changed 2\.000000 → 3\.000000 {2}run \d+ \(seeded-prices\) {2}prices-3\.csv:4 {2}received /);
    expect(lines[3]).toMatch(/changed 1\.000000 → 2\.000000 .* prices-2\.csv:3 /);
    const cursor = /^ {2}older: magistral lineage SKU-7 --price-type retail --limit 2 --before (\S+)$/.exec(lines[4]!);
    expect(cursor, stdout).not.toBeNull();
    const older = await cli(['SKU-7', '--price-type', 'retail', '--before', cursor![1]!]);
    expect(older.stdout).toMatch(/first {3}1\.000000 .* prices-1\.csv:2 /);
    expect(older.stdout).not.toContain('older:');
  });

  it('lists the live values without a price type, and prints JSON', async () => {
    const { stdout } = await cli(['SKU-7']);
    expect(stdout).toMatch(/^product SKU-7 \(SKU-7\)\n {2}prices\n {4}retail +3\.000000 RUB +run \d+ \(seeded-prices\), written .*\n {2}stock: none\n/);
    const json = JSON.parse((await cli(['SKU-7', '--price-type', 'retail', '--json'])).stdout);
    expect(json).toMatchObject({ product: { code: 'SKU-7' }, key: { kind: 'price' }, current: { value: '3.000000' }, nextBefore: null });
    expect(json.entries).toHaveLength(3);
  });

  it('says in one line what it did not find, exit 2', async () => {
    const e = await failed(['NOPE', '--price-type', 'retail']);
    expect(e.code).toBe(2);
    expect(e.stdout).toBe('');
    expect(e.stderr).toBe('MAG_ERR_NOT_FOUND: product NOPE not found (looked up by code and external id)\n');
    const w = await failed(['SKU-7', '--warehouse', 'nowhere']);
    expect(w.stderr).toBe('MAG_ERR_NOT_FOUND: warehouse nowhere not found (looked up by code and external id)\n');
    const l = await failed(['SKU-7', '--price-type', 'retail', '--limit', 'all']);
    expect(l.code).toBe(2);
    expect(l.stderr).toBe('MAG_ERR_BAD_REQUEST: --limit all: give a whole number from 1 to 500\n');
  });
});
