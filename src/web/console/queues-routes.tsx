// /console/queues — filled in by the queues step.
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../../api/deps.ts';

export async function consoleQueuesRoutes(_app: FastifyInstance, _deps: ServerDeps): Promise<void> {}
