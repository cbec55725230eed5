// POST /admin/api/flows/:name/runs: a payload uploaded as the raw request body, streamed into the
// inbox (never buffered in memory) and answered 202 with the run id once it is stored durably.
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { MagistralError } from '../errors/index.ts';
import { receivePayload } from '../pipeline/receive.ts';
import type { ServerDeps } from './deps.ts';
import { errorBodySchema } from './error-handler.ts';
import { flowNameSchema } from './flow-views.ts';
import { pipelineDeps } from './run-views.ts';

export async function payloadUploadRoute(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  // Whatever the content type, the handler gets the request stream itself.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  app.post<{ Params: { name: string }; Querystring: { filename: string } }>('/:name/runs', {
    schema: {
      params: { type: 'object', required: ['name'], properties: { name: flowNameSchema } },
      querystring: {
        type: 'object',
        required: ['filename'],
        additionalProperties: false,
        properties: { filename: { type: 'string', minLength: 1, maxLength: 255, description: 'name of the file as the sender has it (used in every reject and error message)' } },
      },
      response: { 202: { type: 'object', required: ['runId'], properties: { runId: { type: 'integer' } } }, '4xx': errorBodySchema },
    },
  }, async (request, reply) => {
    const max = deps.config.MAGISTRAL_MAX_PAYLOAD_BYTES;
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) {
      throw new MagistralError('MAG_ERR_PAYLOAD_TOO_LARGE', `payload of ${declared} bytes is larger than the limit of ${max} bytes (MAGISTRAL_MAX_PAYLOAD_BYTES)`);
    }
    const body = request.body instanceof Readable ? request.body : Readable.from([]);
    const contentType = request.headers['content-type'];
    const { runId } = await receivePayload(pipelineDeps(deps), {
      flow: request.params.name,
      files: [{ fileName: request.query.filename, body, ...(contentType ? { contentType } : {}) }],
    });
    return reply.code(202).send({ runId });
  });
}
