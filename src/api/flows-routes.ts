// Admin API of the flow registry (/admin/api/flows): list, show, create or replace from YAML or JSON,
// pause and resume. Every document is checked in full before anything is stored.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MagistralError } from '../errors/index.ts';
import { applyFlows, getFlow, listFlows, parseFlowFile, setFlowPaused, type Flow } from '../pipeline/flows.ts';
import type { ServerDeps } from './deps.ts';
import type { Registry } from '../pipeline/registry.ts';
import { errorBodySchema } from './error-handler.ts';
import { applyResultSchema, flowDetail, flowDetailSchema, flowNameSchema, flowSummary, flowSummarySchema } from './flow-views.ts';

export const YAML_TYPES = ['application/yaml', 'text/yaml', 'application/x-yaml'] as const;
const FLOW_BODY_LIMIT = 1024 * 1024;

/** A flow document either as raw YAML (one or more `---` documents) or as parsed JSON (one object or an array). */
const flowBody = {
  content: {
    'application/json': { schema: { type: ['object', 'array'], minItems: 1, items: { type: 'object' } } },
    ...Object.fromEntries(YAML_TYPES.map((t) => [t, { schema: { type: 'string', minLength: 1 } }])),
  },
};
const nameParams = { type: 'object', required: ['name'], properties: { name: flowNameSchema } } as const;
const errors = { '4xx': errorBodySchema };

/** JSON is YAML: a JSON body becomes the same text parseFlowFile reads, one document per array item. */
function bodyText(body: unknown): string {
  if (typeof body === 'string') return body;
  return Array.isArray(body) ? body.map((d) => JSON.stringify(d)).join('\n---\n') : JSON.stringify(body);
}

async function flowsOf(request: FastifyRequest, fileName: string, registry: Registry): Promise<Flow[]> {
  return parseFlowFile(bodyText(request.body), fileName, registry);
}

export async function flowsRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.addContentTypeParser([...YAML_TYPES], { parseAs: 'string', bodyLimit: FLOW_BODY_LIMIT }, (_req, body, done) => done(null, body));

  app.get('/', {
    schema: { response: { 200: { type: 'object', properties: { flows: { type: 'array', items: flowSummarySchema } } } } },
  }, async () => ({ flows: (await listFlows(deps.db)).map(flowSummary) }));

  app.get<{ Params: { name: string } }>('/:name', {
    schema: { params: nameParams, response: { 200: flowDetailSchema, ...errors } },
  }, async (request) => flowDetail(await getFlow(deps.db, request.params.name)));

  app.post('/', {
    bodyLimit: FLOW_BODY_LIMIT,
    schema: { body: flowBody, response: { '2xx': applyResultSchema, ...errors } },
  }, async (request, reply) => {
    const flows = await flowsOf(request, 'request body', deps.registry);
    const applied = await applyFlows(deps.db, flows);
    request.log.info({ applied }, 'flows applied');
    return reply.code(applied.some((a) => a.action === 'created') ? 201 : 200).send({ applied });
  });

  app.put<{ Params: { name: string } }>('/:name', {
    bodyLimit: FLOW_BODY_LIMIT,
    schema: { params: nameParams, body: flowBody, response: { '2xx': applyResultSchema, ...errors } },
  }, async (request, reply) => {
    const { name } = request.params;
    const flows = await flowsOf(request, `${name}.yaml`, deps.registry);
    if (flows.length !== 1 || flows[0]!.name !== name) {
      const found = flows.map((f) => `'${f.name}'`).join(', ');
      throw new MagistralError('MAG_ERR_BAD_REQUEST', `PUT /admin/api/flows/${name} takes exactly one flow named '${name}'; the body holds ${found}`, [
        { path: '/name', rule: 'const', message: `must be '${name}' (the name in the path); found ${found}` },
      ]);
    }
    const applied = await applyFlows(deps.db, flows);
    request.log.info({ applied }, 'flow applied');
    return reply.code(applied[0]!.action === 'created' ? 201 : 200).send({ applied });
  });

  for (const [action, paused] of [['pause', true], ['resume', false]] as const) {
    app.post<{ Params: { name: string } }>(`/:name/${action}`, {
      schema: { params: nameParams, response: { 200: flowSummarySchema, ...errors } },
    }, async (request) => {
      const flow = await setFlowPaused(deps.db, request.params.name, paused);
      request.log.info({ flow: flow.name, paused }, `flow ${action}d`);
      return flowSummary(flow);
    });
  }
}
