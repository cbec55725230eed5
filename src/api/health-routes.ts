// Liveness (/healthz: the process answers) and readiness (/readyz: PostgreSQL and Redis answer),
// for load balancers and orchestrators.
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from './deps.ts';
import { checkPostgres, checkRedis, reason } from './dependency-checks.ts';

const checkValue = { type: 'string', description: "'ok' or what went wrong" } as const;

export async function healthRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.get('/healthz', {
    schema: { response: { 200: { type: 'object', required: ['status'], properties: { status: { const: 'ok' } } } } },
  }, async () => ({ status: 'ok' as const }));

  app.get('/readyz', {
    schema: {
      response: {
        '2xx': {
          type: 'object',
          properties: {
            status: { type: 'string', enum: ['ready', 'unavailable'] },
            checks: { type: 'object', properties: { postgres: checkValue, redis: checkValue } },
            failed: { type: 'array', items: { type: 'string' } },
          },
        },
        503: {
          type: 'object',
          properties: {
            status: { type: 'string' },
            message: { type: 'string' },
            checks: { type: 'object', properties: { postgres: checkValue, redis: checkValue } },
            failed: { type: 'array', items: { type: 'string' } },
          },
        },
      },
    },
  }, async (request, reply) => {
    const [pg, redis] = await Promise.allSettled([checkPostgres(deps.db), checkRedis(deps.queues, deps.redis)]);
    const checks = {
      postgres: pg.status === 'fulfilled' ? 'ok' : reason(pg.reason),
      redis: redis.status === 'fulfilled' ? 'ok' : reason(redis.reason),
    };
    const failed = Object.entries(checks).filter(([, v]) => v !== 'ok').map(([k]) => k);
    if (!failed.length) return { status: 'ready', checks };
    request.log.warn({ checks }, 'not ready');
    return reply.code(503).send({ status: 'unavailable', message: `not ready: ${failed.join(' and ')} unreachable`, checks, failed });
  });
}
