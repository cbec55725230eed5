// How flows appear in the admin API: a summary row for lists and the full stored definition, with
// the JSON Schemas fastify serialises them with.
import type { StoredFlow } from '../pipeline/flows.ts';

export interface FlowSummary {
  name: string;
  version: number;
  paused: boolean;
  connector: string;
  target: string;
  mode: string;
  updatedAt: Date;
}

export function flowSummary(f: StoredFlow): FlowSummary {
  return {
    name: f.name,
    version: f.version,
    paused: f.paused,
    connector: f.definition.source.connector,
    target: f.definition.target,
    mode: f.definition.mode,
    updatedAt: f.updatedAt,
  };
}

export function flowDetail(f: StoredFlow): FlowSummary & { createdAt: Date; definition: StoredFlow['definition'] } {
  return { ...flowSummary(f), createdAt: f.createdAt, definition: f.definition };
}

export const flowNameSchema = { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' } as const;

const summaryProperties = {
  name: { type: 'string' },
  version: { type: 'integer' },
  paused: { type: 'boolean' },
  connector: { type: 'string' },
  target: { type: 'string' },
  mode: { type: 'string' },
  updatedAt: { type: 'string', format: 'date-time' },
} as const;

export const flowSummarySchema = {
  type: 'object',
  required: Object.keys(summaryProperties),
  properties: summaryProperties,
} as const;

export const flowDetailSchema = {
  type: 'object',
  properties: {
    ...summaryProperties,
    createdAt: { type: 'string', format: 'date-time' },
    definition: { type: 'object', additionalProperties: true },
  },
} as const;

export const applyResultSchema = {
  type: 'object',
  properties: {
    applied: {
      type: 'array',
      items: {
        type: 'object',
        properties: { name: { type: 'string' }, action: { type: 'string', enum: ['created', 'updated', 'unchanged'] }, version: { type: 'integer' } },
      },
    },
  },
} as const;
