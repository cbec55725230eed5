// JSON Schemas of runs and rejects as the admin API returns them (RunView and RejectView of
// src/pipeline/runs.ts), and the pipeline dependencies the run actions need.
import type pg from 'pg';
import { MagistralError } from '../errors/index.ts';
import type { PipelineDeps } from '../pipeline/deps.ts';
import type { ServerDeps } from './deps.ts';

const count = { type: 'integer' } as const;
const nullableDate = { type: ['string', 'null'], format: 'date-time' } as const;

export const runSchema = {
  type: 'object',
  // New fields of RunView pass through even before they are described here.
  additionalProperties: true,
  properties: {
    id: { type: 'integer' },
    flow: { type: 'string' },
    state: { type: 'string' },
    mode: { type: 'string' },
    target: { type: 'string' },
    files: { type: 'array', items: { type: 'string' } },
    replayOf: { type: ['integer', 'null'] },
    approved: { type: 'boolean' },
    attempts: count,
    rows: {
      type: 'object',
      properties: {
        read: count, staged: count, skipped: count, rejected: count, inserted: count, updated: count, unchanged: count, removed: count,
        inScope: { type: ['integer', 'null'] },
      },
    },
    fingerprint: {
      type: 'object',
      description: 'a snapshot read with a fingerprint: the run it compared with (base), whether a fingerprint did not hold and the run was read in full (off), whether it wrote its own (written), whether its rows are the flow\'s fingerprint now (current)',
      properties: { base: { type: ['integer', 'null'] }, off: { type: 'boolean' }, written: { type: 'boolean' }, current: { type: 'boolean' } },
    },
    error: { type: ['object', 'null'], properties: { code: { type: ['string', 'null'] }, message: { type: 'string' } } },
    heldReason: { type: ['string', 'null'] },
    heldSample: {
      type: ['object', 'null'],
      description: 'what a held run would change: a few rows of each kind with old → new, taken when the guard held it',
      properties: {
        rows: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              op: { enum: ['new', 'changed', 'removed', 'written'] },
              key: { type: 'object', additionalProperties: { type: 'string' } },
              old: { type: ['string', 'null'] },
              new: { type: ['string', 'null'] },
            },
          },
        },
        note: { type: 'string' },
      },
    },
    decision: {
      type: ['object', 'null'],
      description: 'who approved or rejected the run when it was held, when, with which comment, and the reason it was held for',
      properties: {
        action: { enum: ['approved', 'rejected'] }, by: { type: 'string' }, at: { type: 'string' },
        comment: { type: ['string', 'null'] }, heldReason: { type: ['string', 'null'] },
      },
    },
    mergedWith: { type: ['integer', 'null'], description: 'the run whose merge carried this run\'s rows (its counts are the group\'s)' },
    receivedAt: { type: 'string', format: 'date-time' },
    startedAt: nullableDate,
    stagedAt: nullableDate,
    heldAt: nullableDate,
    finishedAt: nullableDate,
    durationMs: { type: ['number', 'null'] },
    extractMs: { type: ['number', 'null'] },
    mergeMs: { type: ['number', 'null'] },
  },
} as const;

export const rejectSchema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    id: { type: 'integer' },
    file: { type: ['string', 'null'] },
    line: { type: ['integer', 'null'] },
    path: { type: ['string', 'null'] },
    field: { type: ['string', 'null'] },
    rule: { type: ['string', 'null'] },
    reason: { type: 'string' },
    record: {},
  },
} as const;

/**
 * The pipeline's run actions take PipelineDeps, which names the pg pool; the API is given only the
 * kysely instance unless the caller passes `pool`, so a missing pool fails the request clearly.
 */
export function pipelineDeps(deps: ServerDeps & { pool?: pg.Pool }): PipelineDeps {
  if (!deps.pool) {
    throw new MagistralError('MAG_ERR_INTERNAL', 'the server was built without deps.pool, which the run actions need');
  }
  return { db: deps.db, pool: deps.pool, queues: deps.queues, config: deps.config, log: deps.log, metrics: deps.metrics, registry: deps.registry };
}
