// The BullMQ dashboard (bull-board) for the extract and merge queues, mounted at /admin/queues behind
// the admin token; a browser opens it once with `?token=…`, which sets an httpOnly cookie.
import { createBullBoard } from '@bull-board/api';
import type { IServerAdapter } from '@bull-board/api/typings/app';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from './deps.ts';
import { adminAuth } from './admin-auth.ts';

export const DASHBOARD_PATH = '/admin/queues';

export async function queueDashboard(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const board = new FastifyAdapter();
  board.setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: deps.queues.all().map((q) => new BullMQAdapter(q)),
    // @bull-board/fastify 9.10.1 ships its own nested @bull-board/api 9.10.1 while the project has 9.10.2:
    // the same interface from two declaration files, which TypeScript refuses over private members.
    serverAdapter: board as unknown as IServerAdapter,
    options: { uiConfig: { boardTitle: 'Magistral queues' } },
  });
  await app.register(async (scope) => {
    scope.addHook('onRequest', adminAuth(deps.config.MAGISTRAL_ADMIN_TOKEN, { browser: { cookiePath: DASHBOARD_PATH }, logins: deps.logins }));
    await scope.register(board.registerPlugin());
  }, { prefix: DASHBOARD_PATH });
}
