// The demo data set (ops/demo/*.csv) loaded through the example flows (ops/flows) by real workers,
// as `magistral demo` loads it: the store the cabinet's search and catalog tests read.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { DEFAULT_CITY_SETTING } from '../../src/api/portal/auth.ts';
import { DEMO_FILES } from '../../src/cli/commands/demo.ts';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';

export async function demoStore(label: string): Promise<TestPipeline> {
  const tp = await createTestPipeline(label);
  try {
    for (const d of DEMO_FILES) await tp.applyFlowFile(`ops/flows/${d.flow}.yaml`);
    for (const d of DEMO_FILES) {
      const run = await tp.ingest(d.flow, await readFile(path.join(REPO_DIR, d.file)), path.basename(d.file));
      expect(run.state, `${d.flow}: ${run.error?.message ?? ''}`).toBe('done');
      expect(run.rows.rejected, `${d.flow} rejected rows`).toBe(0);
    }
    await tp.rt.pool.query(`INSERT INTO portal_settings (key, value) VALUES ($1, 'msk') ON CONFLICT (key) DO NOTHING`, [DEFAULT_CITY_SETTING]);
  } catch (e) {
    await tp.close();
    throw e;
  }
  return tp;
}
