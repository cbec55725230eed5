// The worker reacts to the class of a stage's error: a payload error fails the run at once, a retryable
// error is tried again with backoff and then fails the run with its code, a hold error holds the run
// with its reason. A connector of this test throws the error its payload names.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HoldRunError, PayloadError, RetryableError } from '../../src/errors/index.ts';
import type { Connector } from '../../src/port/index.ts';
import { Registry } from '../../src/pipeline/registry.ts';
import { CONNECTOR_MODULES } from '../../connectors/index.ts';
import { createTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';

let unavailableSeen = 0;
const unavailableFor = 4;

const throwing: Connector = {
  kind: 'test.throws',
  optionsSchema: { type: 'object' },
  async *parse(input, ctx) {
    let text = '';
    for await (const chunk of input) text += String(chunk);
    const what = text.trim();
    if (what === 'payload') throw new PayloadError('MAG_ERR_PAYLOAD_MALFORMED', { file: ctx.fileName, line: 1 }, 'not a document');
    if (what === 'retryable') throw new RetryableError('the source was briefly away');
    if (what === 'hold') throw new HoldRunError('the sender asked for a person to look first');
    if (what === 'database away') {
      // What pg raises to a session when PostgreSQL shuts down (pg_ctl restart -m fast), on the first
      // `unavailableFor` reads; then the payload reads as empty.
      if (unavailableSeen++ < unavailableFor) throw Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01', severity: 'FATAL' });
      return;
    }
    throw new Error(`unexpected payload '${what}'`);
  },
};

describe('error reactions of the worker', () => {
  let tp: TestPipeline;
  beforeAll(async () => {
    tp = await createTestPipeline('errors', { registry: new Registry([...CONNECTOR_MODULES, { name: 'test', connectors: [throwing] }]) });
    await tp.applyFlowYaml(`
apiVersion: magistral/v1
kind: Flow
name: throws
source: { connector: test.throws }
mapping: file/prices.yaml
target: prices
mode: delta
retry: { attempts: 3, backoff: exponential, delayMs: 50 }
`);
  });
  afterAll(async () => {
    await tp?.close();
  });

  it('fails the run at once on a payload error: one attempt, no retry', async () => {
    const run = await tp.ingest('throws', 'payload', 'bad.xml');
    expect(run.state).toBe('failed');
    expect(run.attempts).toBe(1);
    expect(run.error).toMatchObject({ code: 'MAG_ERR_PAYLOAD_MALFORMED' });
    expect(run.error!.message).toMatch(/bad\.xml:1: not a document/);
  });

  it('retries a retryable error with backoff, then fails the run with its code', async () => {
    const started = Date.now();
    const run = await tp.ingest('throws', 'retryable', 'flaky.xml');
    expect(run.state).toBe('failed');
    expect(run.attempts).toBe(3);
    expect(run.error).toMatchObject({ code: 'MAG_ERR_RETRYABLE' });
    expect(run.error!.message).toMatch(/extract failed after 3 attempts: the source was briefly away/);
    // Backoff 50 ms then 100 ms between the three attempts.
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });

  it('holds the run for a person with the reason, without retrying', async () => {
    const run = await tp.ingest('throws', 'hold', 'ask.xml');
    expect(run.state).toBe('held');
    expect(run.attempts).toBe(1);
    expect(run.heldReason).toBe('the sender asked for a person to look first');
  });

  it('never fails a run for the database being away: past its attempts the sweeper gives it new ones until it is back', async () => {
    // A flow of its own (the held run above blocks later merges of 'throws'); 3 attempts per job, the
    // database "away" for 4 reads: the first job runs out of attempts.
    await tp.applyFlowYaml(`
apiVersion: magistral/v1
kind: Flow
name: throws-db
source: { connector: test.throws }
mapping: file/prices.yaml
target: prices
mode: delta
retry: { attempts: 3, backoff: exponential, delayMs: 50 }
`);
    const run = await tp.ingest('throws-db', 'database away', 'during-restart.xml');
    expect(unavailableSeen).toBe(unavailableFor + 1);
    expect(run.state).toBe('done');
    expect(run.error).toBeNull();
  });
});
