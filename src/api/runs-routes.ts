// Admin API of runs (/admin/api/runs): list with filters and a cursor, one run with its counts,
// its rejects page by page, and the operator's actions on held or finished runs.
import { Readable } from 'node:stream';
import { MagistralError } from '../errors/index.ts';
import type { FastifyInstance } from 'fastify';
import { rejectsCsv } from '../pipeline/rejects-export.ts';
import { approveRun, getRun, listRejects, listRuns, rejectRun, replayRun, runPayloadFile } from '../pipeline/runs.ts';
import { contentDisposition } from '../backoffice/files.ts';
import type { ServerDeps } from './deps.ts';
import { errorBodySchema } from './error-handler.ts';
import { flowNameSchema } from './flow-views.ts';
import { RUN_STATES } from './metrics-routes.ts';
import { pipelineDeps, rejectSchema, runSchema } from './run-views.ts';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } } as const;
const errors = { '4xx': errorBodySchema };

interface ListQuery { flow?: string; state?: string; limit: number; beforeId?: number; from?: string; to?: string }
interface RejectsQuery { limit: number; offset: number }

export async function runsRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.get<{ Querystring: ListQuery }>('/', {
    schema: {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          flow: flowNameSchema,
          state: { type: 'string', enum: [...RUN_STATES] },
          limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
          beforeId: { type: 'integer', minimum: 1, description: 'cursor: only runs with a smaller id (pass the previous page\'s nextBeforeId)' },
          from: { type: 'string', format: 'date-time', description: 'only runs received at or after this time' },
          to: { type: 'string', format: 'date-time', description: 'only runs received before this time' },
        },
      },
      response: {
        200: { type: 'object', properties: { runs: { type: 'array', items: runSchema }, nextBeforeId: { type: ['integer', 'null'] } } },
        ...errors,
      },
    },
  }, async (request) => {
    const q = request.query;
    const runs = await listRuns(deps.db, {
      flow: q.flow, state: q.state, limit: q.limit, beforeId: q.beforeId, ...(q.from ? { from: new Date(q.from) } : {}), ...(q.to ? { to: new Date(q.to) } : {}),
    });
    return { runs, nextBeforeId: runs.length === q.limit ? runs[runs.length - 1]!.id : null };
  });

  app.get<{ Params: { id: number } }>('/:id', {
    schema: { params: idParams, response: { 200: runSchema, ...errors } },
  }, async (request) => getRun(deps.db, request.params.id));

  app.get<{ Params: { id: number }; Querystring: RejectsQuery }>('/:id/rejects', {
    schema: {
      params: idParams,
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          offset: { type: 'integer', minimum: 0, default: 0 },
        },
      },
      response: {
        200: { type: 'object', properties: { rejects: { type: 'array', items: rejectSchema }, nextOffset: { type: ['integer', 'null'] } } },
        ...errors,
      },
    },
  }, async (request) => {
    const { id } = request.params;
    const { limit, offset } = request.query;
    await getRun(deps.db, id); // 404 for a run that does not exist, rather than an empty page
    const rejects = await listRejects(deps.db, id, { limit, offset });
    return { rejects, nextOffset: rejects.length === limit ? offset + limit : null };
  });

  // Every reject of a run as CSV for Excel (`;`, BOM, formula-guarded), streamed batch by batch.
  app.get<{ Params: { id: number } }>('/:id/rejects.csv', {
    schema: { params: idParams, response: { ...errors } },
  }, async (request, reply) => {
    const run = await getRun(deps.db, request.params.id);
    return reply.header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="run-${run.id}-rejects.csv"`)
      .send(Readable.from(rejectsCsv(deps.db, run.id)));
  });

  // A payload file of the run as the sender sent it (the path comes from the inbox row, never from the request).
  app.get<{ Params: { id: number; n: number } }>('/:id/files/:n', {
    schema: {
      params: { type: 'object', required: ['id', 'n'], properties: { id: { type: 'integer', minimum: 1 }, n: { type: 'integer', minimum: 0, description: 'the file\'s place among the run\'s files, from 0' } } },
      response: { ...errors },
    },
  }, async (request, reply) => {
    const f = await runPayloadFile(deps.db, request.params.id, request.params.n);
    if (!f.stream) throw new MagistralError('MAG_ERR_NOT_FOUND', `run ${request.params.id}: the payload file ${f.fileName} is no longer on the disk`);
    return reply.header('content-type', 'application/octet-stream').header('content-length', String(f.size))
      .header('x-content-type-options', 'nosniff').header('content-disposition', contentDisposition(f.fileName)).send(f.stream);
  });

  const actions = [
    ['approve', approveRun, 200],
    ['reject', rejectRun, 200],
    ['replay', replayRun, 202],
  ] as const;
  // A decision on a held run may carry a comment, kept with the run (who: the admin token's holder).
  const decisionBody = {
    type: ['object', 'null'], additionalProperties: false,
    properties: { comment: { type: 'string', maxLength: 2000, description: 'why the held run is approved or rejected; kept with the run' } },
  } as const;
  for (const [action, act, status] of actions) {
    app.post<{ Params: { id: number }; Body: { comment?: string } | null }>(`/:id/${action}`, {
      schema: { params: idParams, ...(action === 'replay' ? {} : { body: decisionBody }), response: { '2xx': runSchema, ...errors } },
    }, async (request, reply) => {
      const run = await act(pipelineDeps(deps), request.params.id, { by: 'admin token', ...(request.body?.comment ? { comment: request.body.comment } : {}) });
      request.log.info({ run: request.params.id, action, result: run.id }, `run ${action}`);
      return reply.code(status).send(run);
    });
  }
}
