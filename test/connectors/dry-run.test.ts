// Dry run over real files with the registered connectors: counts of valid rows per entity, rejects
// with positions, automatic mapping choice, and payload errors in `errors` — all without a database.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { dryRun, dryRunJson } from '../../src/pipeline/dry-run.ts';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { registry } from '../helpers/registry.ts';

const run = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'dry-run-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, content);
  return f;
}

const prices = file('prices.csv', [
  'sku;price_type;price;currency',
  'A1;retail;10,50;rub',
  'A2;retail;-5;RUB', // negative
  'A3;retail;1 200;', // RUB by default
  'A4;retail;abc;RUB', // not a number
  'A5;retail;7;XYZ', // unknown currency
  '"A;6";retail;"3,25";EUR',
].join('\n'));
const stock = file('stock.csv', 'sku,warehouse,qty\nA1,W1,5\nA2,W1,2.5\nA3,,1\n');

describe('dryRun', () => {
  it('of several fitting mappings, takes the one reading most of the columns, then the tightest', async () => {
    const periods = file('periods.csv', 'sku;price_type;price;currency;valid_from\nA1;retail;10;RUB;2027-01-01\n');
    const r = await dryRun({ registry, connector: 'file.csv', files: [prices, periods] });
    expect(r.mappingsUsed).toEqual({ [prices]: ['file/prices.yaml'], [periods]: ['file/price-periods.yaml'] });
  });

  it('chooses the mapping by the header and counts valid rows and rejects', async () => {
    const r = await dryRun({ registry, connector: 'file.csv', files: [prices, stock] });
    expect(dryRunJson(r)).toEqual({ prices: 3, stock: 2, rejects: 4, errors: [] });
    expect(r.mappingsUsed).toEqual({ [prices]: ['file/prices.yaml'], [stock]: ['file/stock.yaml'] });
    expect(r.samples).toEqual([
      { at: `${prices}:3`, field: 'price', rule: 'pattern', reason: expect.stringContaining('price: "-5" is not a non-negative decimal') },
      { at: `${prices}:5`, field: 'price', rule: 'decimal', reason: 'price: "abc" is not a number (transform decimal)' },
      { at: `${prices}:6`, field: 'currency', rule: 'enum', reason: 'currency: "XYZ" is not a valid ISO 4217 alphabetic currency code' },
      { at: `${stock}:4`, field: 'warehouse', rule: 'required', reason: 'warehouse: missing value (column "warehouse" is empty)' },
    ]);
  });

  it('puts a malformed file in errors with its position and keeps going with the next file', async () => {
    const bad = file('bad.csv', 'sku;price_type;price;currency\nA1;retail;1;RUB\nA2;retail\n');
    const r = await dryRun({ registry, connector: 'file.csv', files: [bad, stock] });
    expect(r.errors).toEqual([{ at: `${bad}:3`, message: 'MAG_ERR_PAYLOAD_MALFORMED: expected 4 columns (sku;price_type;price;currency), found 2' }]);
    expect(r.counts.stock).toBe(2);
  });

  it('says so when no mapping fits the columns, or the options are wrong', async () => {
    const other = file('other.csv', 'id;title\n1;x\n');
    const r = await dryRun({ registry, connector: 'file.csv', files: [other] });
    expect(r.errors).toEqual([{ at: other, message: expect.stringContaining('no mapping fits the columns (id, title)') }]);
    const o = await dryRun({ registry, connector: 'file.csv', files: [stock], options: { delimiter: ':' } });
    expect(o.errors[0]).toMatchObject({ at: 'options', message: expect.stringContaining('/delimiter') });
    expect((await dryRun({ registry, connector: 'nope', files: [stock] })).errors[0]!.message).toContain('MAG_ERR_CONNECTOR_UNKNOWN');
  });

  it('uses an explicit mapping and connector options', async () => {
    const tsv = file('stock.tsv', 'sku\twarehouse\tqty\nA1\tW1\t1\n');
    const r = await dryRun({ registry, connector: 'file.csv', files: [tsv], mappings: ['file/stock.yaml'], options: { delimiter: '\t' } });
    expect(dryRunJson(r)).toEqual({ stock: 1, rejects: 0, errors: [] });
  });
});

describe('magistral dry-run', () => {
  it('--json prints exactly one JSON object; a payload error exits 1', async () => {
    const cli = path.join(REPO_DIR, 'bin', 'magistral.js');
    const { stdout } = await run(process.execPath, [cli, 'dry-run', '--connector', 'file.csv', prices, '--json']);
    expect(JSON.parse(stdout)).toEqual({ prices: 3, rejects: 3, errors: [] });
    const bad = file('bad2.csv', 'sku;warehouse;qty\nA;"W\n');
    const e = await run(process.execPath, [cli, 'dry-run', '--connector', 'file.csv', '--json', bad]).catch((x) => x);
    expect(e.code).toBe(1);
    expect(JSON.parse(e.stdout).errors).toEqual([{ at: `${bad}:2`, message: expect.stringContaining('never closed') }]);
    const text = await run(process.execPath, [cli, 'dry-run', '--connector', 'file.csv', prices]);
    expect(text.stdout).toContain(`${prices}:5 price: "abc" is not a number (transform decimal)`);
  });
});
