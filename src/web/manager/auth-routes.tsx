// The workplace's sign-in, sign-out, the password page of invitation and reset links, and the reset
// request. Before sign-in there is no session: the forms carry a double-submit token (a random value in
// a SameSite=Strict cookie and in the form), so another site cannot sign a manager in as someone else.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { VNode } from 'preact';
import type { ServerDeps } from '../../api/deps.ts';
import { CabinetError } from '../../cabinet/errors.ts';
import { checkPreSessionToken, preSessionToken } from '../csrf.ts';
import {
  createManagerSession, deleteManagerSession, MANAGER_COOKIE, managerTokenInfo, requestManagerReset, setManagerPasswordWithToken, signInManager,
} from '../../backoffice/managers.ts';
import { audit } from '../../backoffice/audit.ts';
import { sendPage } from '../render.tsx';
import { publicUrl } from '../cabinet/settings.ts';
import { ManagerBarePage } from './layout.tsx';
import { field, safeManagerNext } from './request.ts';
import { managerCookieOptions, PRE_CSRF_COOKIE } from './settings.ts';

function Problem({ text }: { text: string | null | undefined }): VNode | null {
  return text ? <div class="flash flash-error" role="alert">{text}</div> : null;
}

/** The pre-session token of the sign-in forms (src/web/csrf.ts). */
const preToken = (deps: ServerDeps, request: FastifyRequest, reply: FastifyReply): string =>
  preSessionToken(request, reply, { name: PRE_CSRF_COOKIE, path: '/manager', secure: managerCookieOptions(deps).secure });
const checkPreToken = (request: FastifyRequest): void => checkPreSessionToken(request, PRE_CSRF_COOKIE);

export async function managerAuthRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { db } = deps;

  const loginPage = (request: FastifyRequest, reply: FastifyReply, o: { error?: string; email?: string; status?: number; info?: string } = {}) => {
    const q = request.query as { next?: string; expired?: string; out?: string };
    const info = o.info ?? (q.expired ? 'Сессия истекла. Войдите снова.' : q.out ? 'Вы вышли из рабочего места.' : undefined);
    const token = preToken(deps, request, reply);
    return sendPage(reply, (
      <ManagerBarePage title="Вход менеджера">
        <h1>Вход для менеджеров</h1>
        {info && <div class="flash flash-info" role="status">{info}</div>}
        <Problem text={o.error} />
        <form method="post" action={`/manager/login${q.next ? `?next=${encodeURIComponent(safeManagerNext(q.next))}` : ''}`} class="stack">
          <input type="hidden" name="_csrf" value={token} />
          <label>Электронная почта<input type="email" name="email" required autocomplete="username" value={o.email ?? ''} autofocus /></label>
          <label>Пароль<input type="password" name="password" required autocomplete="current-password" /></label>
          <button type="submit" class="primary">Войти</button>
        </form>
        <p class="links"><a href="/manager/reset">Забыли пароль?</a> · <a href="/cabinet">Кабинет покупателя</a></p>
      </ManagerBarePage>
    ), o.status ?? 200);
  };

  app.get('/login', { config: { managerPublic: true } }, async (request, reply) => {
    if (request.managerSession) return reply.redirect(safeManagerNext((request.query as { next?: string }).next), 303);
    return loginPage(request, reply);
  });

  app.post('/login', { config: { managerPublic: true } }, async (request, reply) => {
    checkPreToken(request);
    const email = field(request.body, 'email');
    try {
      const managerId = await signInManager(db, { email, password: field(request.body, 'password'), ip: request.ip });
      if (request.managerSession) await deleteManagerSession(db, request.managerSession.idHash);
      const id = await createManagerSession(db, managerId, { ip: request.ip, userAgent: request.headers['user-agent'] ?? null });
      reply.setCookie(MANAGER_COOKIE, id, managerCookieOptions(deps));
      await audit(db, { kind: 'manager', id: managerId, ip: request.ip, userAgent: request.headers['user-agent'] ?? null }, { action: 'manager.sign-in' });
      return reply.redirect(safeManagerNext((request.query as { next?: string }).next), 303);
    } catch (e) {
      if (e instanceof CabinetError && (e.status === 401 || e.status === 429)) {
        deps.logins?.observed('manager', e.status === 401 ? 'failed' : 'throttled');
        return loginPage(request, reply, { error: e.message, email, status: e.status });
      }
      throw e;
    }
  });

  app.post('/logout', async (request, reply) => {
    const s = request.managerSession;
    if (s) await deleteManagerSession(db, s.idHash);
    reply.clearCookie(MANAGER_COOKIE, { path: '/manager' });
    return reply.redirect('/manager/login?out=1', 303);
  });

  const passwordPage = (request: FastifyRequest, reply: FastifyReply, o: { name?: string; email?: string; error?: string; gone?: boolean; status?: number }) => {
    const token = preToken(deps, request, reply);
    return sendPage(reply, (
      <ManagerBarePage title="Пароль">
        <h1>Пароль менеджера</h1>
        {o.gone ? <div class="flash flash-error" role="alert">Ссылка устарела или уже использована. <a href="/manager/reset">Запросить новую</a>.</div> : (
          <>
            <p>{o.name}, задайте пароль для входа ({o.email}). Не короче 10 символов.</p>
            <Problem text={o.error} />
            <form method="post" class="stack">
              <input type="hidden" name="_csrf" value={token} />
              <label>Новый пароль<input type="password" name="password" required minLength={10} autocomplete="new-password" /></label>
              <button type="submit" class="primary">Сохранить и войти</button>
            </form>
          </>
        )}
      </ManagerBarePage>
    ), o.status ?? (o.gone ? 410 : 200));
  };

  app.get('/password/:token', { config: { managerPublic: true } }, async (request, reply) => {
    const info = await managerTokenInfo(db, (request.params as { token: string }).token);
    return info ? passwordPage(request, reply, { name: info.name, email: info.email }) : passwordPage(request, reply, { gone: true });
  });

  app.post('/password/:token', { config: { managerPublic: true } }, async (request, reply) => {
    checkPreToken(request);
    const token = (request.params as { token: string }).token;
    const info = await managerTokenInfo(db, token);
    if (!info) return passwordPage(request, reply, { gone: true });
    try {
      const managerId = await setManagerPasswordWithToken(db, token, field(request.body, 'password'));
      const id = await createManagerSession(db, managerId, { ip: request.ip, userAgent: request.headers['user-agent'] ?? null });
      reply.setCookie(MANAGER_COOKIE, id, managerCookieOptions(deps));
      return reply.redirect('/manager', 303);
    } catch (e) {
      if (e instanceof CabinetError && e.status === 400) return passwordPage(request, reply, { name: info.name, email: info.email, error: e.message, status: 400 });
      throw e;
    }
  });

  app.get('/reset', { config: { managerPublic: true } }, async (request, reply) => {
    const token = preToken(deps, request, reply);
    return sendPage(reply, (
      <ManagerBarePage title="Восстановление пароля">
        <h1>Восстановление пароля</h1>
        <form method="post" action="/manager/reset" class="stack">
          <input type="hidden" name="_csrf" value={token} />
          <label>Электронная почта<input type="email" name="email" required autocomplete="username" /></label>
          <button type="submit" class="primary">Получить ссылку</button>
        </form>
      </ManagerBarePage>
    ));
  });

  app.post('/reset', { config: { managerPublic: true } }, async (request, reply) => {
    checkPreToken(request);
    const email = field(request.body, 'email');
    await requestManagerReset(db, email, publicUrl(deps));
    return sendPage(reply, (
      <ManagerBarePage title="Восстановление пароля">
        <div class="flash flash-ok" role="status">Если адрес {email} принадлежит менеджеру, на него отправлено письмо со ссылкой. Ссылка действует 2 часа.</div>
        <p><a href="/manager/login">Ко входу</a></p>
      </ManagerBarePage>
    ));
  });
}
