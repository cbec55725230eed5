// The mapping test runner on the example mappings, and that it reports a wrong expectation instead of
// passing it; the CLI's exit code follows.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { listMappingFiles, loadMapping, runMappingTests } from '../../src/mapping/index.ts';
import { REPO_DIR } from '../../src/schemas/index.ts';
import type { Mapping } from '../../src/schemas/index.ts';

const run = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'mapping-tests-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('runMappingTests', () => {
  it('passes every case of the example mappings, each showing a row that lands and one that is rejected', async () => {
    const refs = [...await listMappingFiles(undefined, 'file'), ...await listMappingFiles(undefined, 'onec')];
    expect(refs).toEqual(expect.arrayContaining(['file/prices.yaml', 'file/stock.yaml', 'onec/prices.yaml']));
    for (const ref of refs) {
      const m = await loadMapping(ref);
      const results = await runMappingTests(m, ref);
      expect(results.filter((r) => !r.ok)).toEqual([]);
      expect({ ref, lands: m.tests?.some((t) => t.expect !== undefined), rejects: m.tests?.some((t) => t.expectReject !== undefined) })
        .toEqual({ ref, lands: true, rejects: true });
    }
  });

  it('reports wrong expectations, with the values seen', async () => {
    const m = await loadMapping('file/stock.yaml');
    const broken: Mapping = {
      ...m,
      tests: [
        { name: 'wrong value', input: { sku: 'A', warehouse: 'W', qty: '1,5' }, expect: { product: 'A', warehouse: 'W', quantity: '1.50' } },
        { name: 'not rejected', input: { sku: 'A', warehouse: 'W', qty: '1' }, expectReject: 'is not a number' },
        { name: 'number in expect', input: { sku: 'A', warehouse: 'W', qty: '1.5' }, expect: { product: 'A', warehouse: 'W', quantity: 1.5 } },
        { name: 'lookup fixtures', input: { sku: 'A', warehouse: 'W', qty: '1' }, lookups: { product: { A: 'B' } }, expect: { product: 'A', warehouse: 'W', quantity: '1' } },
      ],
    };
    const r = await runMappingTests(broken, 'x.yaml');
    expect(r[0]).toEqual({ name: 'wrong value', ok: false, message: 'expected record {"product":"A","warehouse":"W","quantity":"1.50"}, got record {"product":"A","warehouse":"W","quantity":"1.5"}' });
    expect(r[1]).toMatchObject({ ok: false, message: expect.stringContaining('expected a reject containing "is not a number", got record') });
    expect(r[2]).toMatchObject({ ok: false, message: expect.stringContaining('quote numbers') });
    expect(r[3]).toMatchObject({ ok: true });
  });

  it('uses lookup fixtures for entity translations', async () => {
    const m: Mapping = {
      apiVersion: 'magistral/v1', kind: 'Mapping', name: 'l', target: 'stock',
      fields: { product: { from: 'sku', transforms: [{ lookup: { entity: 'product', system: 'sap' } }] }, warehouse: { from: 'w' }, quantity: { from: 'q' } },
      tests: [
        { name: 'known', input: { sku: 'S1', w: 'W', q: '1' }, lookups: { product: { S1: 'P1' } }, expect: { product: 'P1', warehouse: 'W', quantity: '1' } },
        { name: 'unknown', input: { sku: 'S2', w: 'W', q: '1' }, lookups: { product: { S1: 'P1' } }, expectReject: 'has no id' },
      ],
    };
    expect(await runMappingTests(m, 'l.yaml')).toEqual([{ name: 'known', ok: true }, { name: 'unknown', ok: true }]);
  });
});

describe('magistral mappings', () => {
  const cli = path.join(REPO_DIR, 'bin', 'magistral.js');

  it('test: one line per case, a summary, exit 0', async () => {
    const { stdout } = await run(process.execPath, [cli, 'mappings', 'test', 'file/prices.yaml', 'mappings/file/stock.yaml'], { cwd: REPO_DIR });
    expect(stdout).toContain('✓ file/prices.yaml: negative price is rejected');
    expect(stdout).toContain('✓ file/stock.yaml: a good row');
    expect(stdout).toMatch(/\d+ passed, 0 failed/);
  });

  it('test: a failing case gives ✗ and exit code 1; --json', async () => {
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, [
      'apiVersion: magistral/v1', 'kind: Mapping', 'name: bad', 'target: stock',
      'fields: { product: { from: sku }, warehouse: { from: w }, quantity: { from: q, transforms: [decimal] } }',
      'tests:', '  - { name: wrong, input: { sku: A, w: W, q: "2" }, expect: { product: A, warehouse: W, quantity: "3" } }',
    ].join('\n'));
    const e = await run(process.execPath, [cli, 'mappings', 'test', file]).catch((x) => x);
    expect(e.code).toBe(1);
    expect(e.stdout).toContain(`✗ ${file}: wrong — expected record`);
    expect(e.stdout).toContain('0 passed, 1 failed');
    const j = await run(process.execPath, [cli, 'mappings', 'test', '--json', file]).catch((x) => x);
    expect(JSON.parse(j.stdout)).toMatchObject({ passed: 0, failed: 1, cases: [{ name: 'wrong', ok: false }] });
  });

  it('check: prints schema problems with path and rule', async () => {
    const file = path.join(dir, 'invalid.yaml');
    writeFileSync(file, 'apiVersion: magistral/v1\nkind: Mapping\nname: x\ntarget: prices\nfields: { price: { from: p, transforms: [rot13] } }\n');
    const e = await run(process.execPath, [cli, 'mappings', 'check', file]).catch((x) => x);
    expect(e.code).toBe(1);
    expect(e.stdout).toMatch(/✗ .*invalid\.yaml .*\/fields\/price\/transforms\/0.*\(/);
    const ok = await run(process.execPath, [cli, 'mappings', 'check', 'file/prices.yaml'], { cwd: REPO_DIR });
    expect(ok.stdout.trim()).toBe('✓ file/prices.yaml');
  });
});
