// The one error handler of the HTTP server: every failure leaves as `{ code, message, problems? }`.
// MagistralError keeps its code and status; request validation becomes MAG_ERR_BAD_REQUEST; anything else is MAG_ERR_INTERNAL.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isMagistralError, type ErrorCode, type Problem } from '../errors/index.ts';
import { isDependencyUnavailable } from '../db/availability.ts';

/**
 * Seconds a client is asked to wait while a dependency is unreachable: a fast PostgreSQL restart
 * took 0.25–0.3 s and the runs caught in it completed within 3.5 s (test/faults).
 */
export const UNAVAILABLE_RETRY_AFTER_S = 5;

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  problems?: Problem[];
}

/** JSON Schema of the error body, for route response declarations. */
export const errorBodySchema = {
  type: 'object',
  required: ['code', 'message'],
  properties: {
    code: { type: 'string' },
    message: { type: 'string' },
    problems: {
      type: 'array',
      items: {
        type: 'object',
        required: ['path', 'message'],
        properties: { path: { type: 'string' }, message: { type: 'string' }, rule: { type: 'string' } },
      },
    },
  },
} as const;

interface ValidationIssue {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

/** One problem per violated rule, with the path inside the request (`/querystring/limit`, `/body/name`). */
export function validationProblems(issues: ValidationIssue[], context: string | undefined): Problem[] {
  return issues.map((e) => {
    let path = `/${context ?? 'request'}${e.instancePath}`;
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'required' && typeof e.params.missingProperty === 'string') {
      path += `/${e.params.missingProperty}`;
      message = 'is required';
    } else if (e.keyword === 'additionalProperties' && typeof e.params.additionalProperty === 'string') {
      path += `/${e.params.additionalProperty}`;
      message = 'is not an accepted property';
    } else if (e.keyword === 'enum' && Array.isArray(e.params.allowedValues)) {
      message = `must be one of ${e.params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    }
    return { path, message, rule: e.keyword };
  });
}

/** Maps any thrown value to the status and body the client sees. Never exposes internals of unknown errors. */
export function toErrorReply(error: unknown): { status: number; body: ErrorBody; internal: boolean; retryAfter?: number } {
  if (isMagistralError(error)) {
    return { status: error.statusCode, body: error.toJSON(), internal: error.statusCode >= 500 };
  }
  // The database out of reach is an outage the client can wait out, not a fault of this request.
  if (isDependencyUnavailable(error)) {
    return {
      status: 503, internal: false, retryAfter: UNAVAILABLE_RETRY_AFTER_S,
      body: { code: 'MAG_ERR_UNAVAILABLE', message: `the database is unavailable (restarting or unreachable); nothing was changed: retry in ${UNAVAILABLE_RETRY_AFTER_S} s` },
    };
  }
  const fe = error as Partial<FastifyError>;
  if (Array.isArray(fe.validation)) {
    const problems = validationProblems(fe.validation as ValidationIssue[], fe.validationContext);
    const message = `invalid request: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`;
    return { status: 400, body: { code: 'MAG_ERR_BAD_REQUEST', message, problems }, internal: false };
  }
  // Fastify's own client errors (malformed JSON, unsupported media type, body too large) carry a
  // 4xx status and a message written for the client.
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  if (typeof fe.code === 'string' && fe.code.startsWith('FST_') && status >= 400 && status < 500) {
    const code: ErrorCode = status === 413 ? 'MAG_ERR_PAYLOAD_TOO_LARGE' : status === 401 ? 'MAG_ERR_UNAUTHORIZED' : 'MAG_ERR_BAD_REQUEST';
    return { status, body: { code, message: fe.message ?? 'bad request' }, internal: false };
  }
  return { status: 500, body: { code: 'MAG_ERR_INTERNAL', message: 'internal error' }, internal: true };
}

export function errorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, body, internal, retryAfter } = toErrorReply(error);
  if (retryAfter !== undefined) {
    // One warn line per request, with the cause, without the stack of an internal error.
    request.log.warn({ code: body.code, err: (error as Error).message }, 'a dependency is unavailable');
    reply.header('retry-after', String(retryAfter));
  } else if (internal) {
    request.log.error({ err: error }, 'request failed');
    // The request id lets an operator find the full error in the log without the client seeing it.
    if (body.code === 'MAG_ERR_INTERNAL') body.message = `internal error (request ${request.id}); details are in the server log`;
  } else {
    request.log.info({ code: body.code, status }, body.message.split('\n')[0]);
  }
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  // Not a catalogue error (there is no generic not-found code): a route that does not exist is a bad request.
  const path = request.url.split('?')[0];
  return reply.code(404).send({ code: 'MAG_ERR_BAD_REQUEST', message: `no route ${request.method} ${path}` } satisfies ErrorBody);
}
