// The demo data set (ops/demo/*.csv) loaded through the example flows by real workers, as `magistral
// demo` loads it (test/helpers/cabinet.ts loadDemo), without a server: for service tests.
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
