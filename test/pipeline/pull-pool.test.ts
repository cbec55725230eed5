// Pulls and the connection pool: a pull holds its flow's lock on a connection for the pull's length and
// asks the store for more meanwhile. With the lock held on a pooled connection, as many pulls at once as
// the pool has connections took them all and waited for a fifth forever (`magistral demo` hung with its
// pool of 4 once the five scheduled Bitrix24 example flows pulled together).
import { parseAllDocuments, stringify } from 'yaml';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pullFlow } from '../../src/pipeline/poll.ts';
import { createRuntime, type Runtime } from '../../src/pipeline/runtime.ts';
import { REPO_DIR } from '../../src/schemas/index.ts';
import { registry } from '../helpers/registry.ts';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';

describe('pulls with a small pool', () => {
  let tp: TestPipeline;
  let small: Runtime;
  let names: string[];
  beforeAll(async () => {
    tp = await createTestPipeline('pull-pool', { workers: false });
    const docs = parseAllDocuments(await readFile(path.join(REPO_DIR, 'ops/flows/bitrix24-counterparties.yaml'), 'utf8'))
      .map((d) => d.toJS() as { name: string; schedule?: unknown });
    for (const d of docs) delete d.schedule;
    names = docs.map((d) => d.name);
    await tp.applyFlowYaml(docs.map((d) => stringify(d)).join('---\n'));
    small = createRuntime(tp.config, pino({ level: 'silent' }), registry, { applicationName: 'test-pull-pool-small', poolSize: 2 });
  });
  afterAll(async () => {
    await small?.close();
    await tp?.close();
  });

  it('runs more pulls at once than the pool has connections', async () => {
    expect(names.length).toBeGreaterThan(2);
    // No webhook URL in the environment: each pull fails at once, after its lock and its reads of the store.
    const outcomes = await Promise.race([
      Promise.all(names.map((n) => pullFlow(small, n, { trigger: 'manual', env: {} }))),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('pulls did not end in 20 s: the pool is exhausted')), 20_000)),
    ]);
    expect(outcomes.map((o) => o.outcome)).toEqual(names.map(() => 'failed'));
    expect(outcomes.every((o) => 'error' in o && o.error.code === 'MAG_ERR_PULL_AUTH')).toBe(true);
  }, 30_000);
});
