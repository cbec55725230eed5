// The console's sign-in and sign-out. Before sign-in there is no session: the form carries a double-submit
// token (src/web/csrf.ts). Failed sign-ins are counted in /metrics (magistral_login_failures_total
// {surface="console"}) and throttled per name and source (console_login_attempts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerDeps } from '../../api/deps.ts';
import { CabinetError } from '../../cabinet/errors.ts';
import { signInConsoleUser } from '../../console/users.ts';
import { CONSOLE_COOKIE, createConsoleSession, deleteConsoleSession, loadConsoleSession } from '../../console/sessions.ts';
import { auditConsole, consoleActor } from '../../console/rights.ts';
import { sendPage } from '../render.tsx';
import { checkPreSessionToken, preSessionToken } from '../csrf.ts';
import { ConsoleBarePage } from './layout.tsx';
import { field, safeConsoleNext } from './request.ts';
import { CONSOLE_PRE_CSRF_COOKIE, consoleCookieOptions } from './settings.ts';

export async function consoleAuthRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { db } = deps;

  const loginPage = (request: FastifyRequest, reply: FastifyReply, o: { error?: string; name?: string; status?: number } = {}) => {
    const q = request.query as { next?: string; expired?: string; out?: string };
    const info = q.expired ? 'Сессия истекла. Войдите снова.' : q.out ? 'Вы вышли из консоли.' : undefined;
    const token = preSessionToken(request, reply, { name: CONSOLE_PRE_CSRF_COOKIE, path: '/console', secure: consoleCookieOptions(deps).secure });
    return sendPage(reply, (
      <ConsoleBarePage title="Вход в консоль">
        <h1>Вход в консоль</h1>
        <p class="muted">Для администраторов обмена и дежурных инженеров. Учётные записи выдаёт администратор: <code>magistral users add</code>.</p>
        {info && <div class="flash flash-info" role="status">{info}</div>}
        {o.error && <div class="flash flash-error" role="alert">{o.error}</div>}
        <form method="post" action={`/console/login${q.next ? `?next=${encodeURIComponent(safeConsoleNext(q.next))}` : ''}`} class="stack">
          <input type="hidden" name="_csrf" value={token} />
          <label>Имя пользователя<input type="text" name="name" required autocomplete="username" value={o.name ?? ''} autofocus /></label>
          <label>Пароль<input type="password" name="password" required autocomplete="current-password" /></label>
          <button type="submit" class="primary">Войти</button>
        </form>
      </ConsoleBarePage>
    ), o.status ?? 200);
  };

  app.get('/', async (_request, reply) => reply.redirect('/console/flows', 303));

  app.get('/login', { config: { consolePublic: true } }, async (request, reply) => {
    if (request.consoleSession) return reply.redirect(safeConsoleNext((request.query as { next?: string }).next), 303);
    return loginPage(request, reply);
  });

  app.post('/login', { config: { consolePublic: true } }, async (request, reply) => {
    checkPreSessionToken(request, CONSOLE_PRE_CSRF_COOKIE);
    const name = field(request.body, 'name');
    try {
      const userId = await signInConsoleUser(db, { name, password: field(request.body, 'password'), ip: request.ip });
      if (request.consoleSession) await deleteConsoleSession(db, request.consoleSession.idHash);
      const id = await createConsoleSession(db, userId, { ip: request.ip, userAgent: request.headers['user-agent'] ?? null });
      reply.setCookie(CONSOLE_COOKIE, id, consoleCookieOptions(deps));
      const s = await loadConsoleSession(db, id);
      if (s) await auditConsole(db, consoleActor(s.user, request), { action: 'sign-in' });
      return reply.redirect(safeConsoleNext((request.query as { next?: string }).next), 303);
    } catch (e) {
      if (e instanceof CabinetError && (e.status === 401 || e.status === 429)) {
        deps.logins?.observed('console', e.status === 401 ? 'failed' : 'throttled');
        return loginPage(request, reply, { error: e.message, name, status: e.status });
      }
      throw e;
    }
  });

  app.post('/logout', { config: { consoleAction: 'sign-out' } }, async (request, reply) => {
    const s = request.consoleSession;
    if (s) await deleteConsoleSession(db, s.idHash);
    reply.clearCookie(CONSOLE_COOKIE, { path: '/console' });
    return reply.redirect('/console/login?out=1', 303);
  });
}
