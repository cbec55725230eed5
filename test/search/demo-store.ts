// The demo data set (ops/demo/*.csv) loaded through the example flows by real workers, as `magistral
// demo` loads it (test/helpers/cabinet.ts loadDemo), without a server: for service tests. And what
// the catalog's tests add on top through the real flows: packs of two products and quantity tiers
// of one cable's prices (test/fixtures/cabinet), which the demo leaves out so that quick orders of
// the demo are not rounded to packs.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { loadDemo } from '../helpers/cabinet.ts';

export async function demoStore(label: string): Promise<TestPipeline> {
  const tp = await createTestPipeline(label);
  try {
    await loadDemo(tp);
  } catch (e) {
    await tp.close();
    throw e;
  }
  return tp;
}

/** SKU-00001 in boxes of 12, SKU-00004 in 100 m reels; SKU-00004's retail and wholesale prices from 100 and 500 m. */
export async function loadUnitsAndTiers(tp: TestPipeline): Promise<void> {
  for (const name of ['product-units', 'price-periods']) {
    await tp.applyFlowFile(`ops/flows/${name}-csv.yaml`);
    const run = await tp.ingest(`${name}-csv`, await readFile(path.join(REPO_DIR, 'test/fixtures/cabinet', `${name}.csv`)), `${name}.csv`);
    expect(run.state, `${name}: ${run.error?.message ?? ''}`).toBe('done');
    expect(run.rows.rejected, `${name} rejected rows`).toBe(0);
  }
}
