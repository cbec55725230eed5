// `magistral settings` and `magistral documents import` as an operator runs them: a bad requisite is
// refused naming the key (exit 1, nothing stored), a good one is set and listed with whether invoices
// can be made; a batch of closing documents prints what each manifest line became (exit 1 on a
// rejected line).
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yazl from 'yazl';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { migrate } from '../../src/db/index.ts';
import { registry } from '../helpers/registry.ts';

const run = promisify(execFile);
let tp: TestPipeline;
const cli = (args: string[]) => run(process.execPath, [path.join(REPO_DIR, 'bin/magistral.js'), ...args], { cwd: REPO_DIR, env: { ...process.env, ...tp.env, LOG_LEVEL: 'silent' } });

beforeAll(async () => {
  tp = await createTestPipeline('clisettings', { workers: false });
  await migrate(tp.rt.db, registry.migrationSets());
}, 60_000);
afterAll(async () => tp?.close());

describe('magistral settings and documents', () => {
  it('settings set refuses a bad INN naming the key, sets a good one; list says what invoices lack', async () => {
    const bad = await cli(['settings', 'set', 'seller.inn', '123']).catch((e: { code: number; stderr: string }) => e);
    expect((bad as { code: number }).code).toBe(1);
    expect((bad as { stderr: string }).stderr).toContain("MAG_ERR_BAD_REQUEST: seller.inn: '123' is not valid (10 или 12 цифр)");
    const ok = await cli(['settings', 'set', 'seller.inn', '7701000013']);
    expect(ok.stdout.trim()).toBe('seller.inn = 7701000013');
    const list = await cli(['settings', 'list']);
    expect(list.stdout).toContain('seller.inn = 7701000013');
    expect(list.stdout).toMatch(/seller requisites incomplete, invoices wait: наименование продавца, адрес продавца, банк продавца, БИК банка, расчётный счёт, корреспондентский счёт/);
  }, 90_000);

  it('documents import prints each rejected line and exits 1', async () => {
    const z = new yazl.ZipFile();
    z.addBuffer(Buffer.from('заказ;вид;номер;дата;сумма;файл\nM-404;УПД;1;01.12.2026;10;upd.pdf\n'), 'manifest.csv');
    z.end();
    const parts: Buffer[] = [];
    for await (const c of z.outputStream) parts.push(c as Buffer);
    const file = path.join(tp.dataDir, 'batch.zip');
    await writeFile(file, Buffer.concat(parts));
    const r = await cli(['documents', 'import', file, '--source', 'edo']).catch((e: { code: number; stdout: string }) => e);
    expect((r as { code: number }).code).toBe(1);
    expect((r as { stdout: string }).stdout).toBe('batch 1: 0 accepted, 0 unchanged, 1 rejected\n  line 2: файла «upd.pdf» нет в архиве\n');
  }, 90_000);
});
