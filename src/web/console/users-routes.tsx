// /console/users (admin): the console's users with role, state and last sign-in, and «Отключить» (their
// sessions end at once). Users are added from the shell (`magistral users add`): a password is never
// typed into a page another admin might be looking over.
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../../api/deps.ts';
import { disableConsoleUser, listConsoleUsers, ROLE_LABEL } from '../../console/users.ts';
import { CabinetError } from '../../cabinet/errors.ts';
import { isMagistralError } from '../../errors/index.ts';
import { sendPage } from '../render.tsx';
import { ConsoleCsrf, ConsoleLayout } from './layout.tsx';
import { requireConsole } from './request.ts';
import { when } from './format.ts';

export async function consoleUsersRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { db } = deps;

  app.get('/users', { config: { consoleRole: 'admin', consoleAction: 'users.view' } }, async (request, reply) => {
    const s = requireConsole(request);
    const users = await listConsoleUsers(db);
    // Only a name that is disabled now is confirmed (a link cannot make the page say anything else).
    const asked = (request.query as { disabled?: string }).disabled;
    const done = users.find((u) => u.name === asked && u.disabled)?.name;
    return sendPage(reply, (
      <ConsoleLayout s={s} title="Пользователи" active="users" flash={done ? { kind: 'ok', text: `Пользователь ${done} отключён, его сессии завершены.` } : null}>
        <h1>Пользователи консоли</h1>
        <p class="muted">Добавить пользователя: <code>magistral users add ИМЯ --role viewer|operator|admin</code> (пароль спрашивается в терминале). Сменить роль или пароль: отключить и добавить заново.</p>
        <table class="grid users">
          <thead><tr><th>Имя</th><th>Роль</th><th>Состояние</th><th>Последний вход</th><th></th></tr></thead>
          <tbody>
            {users.map((u) => (
              <tr data-user={u.name}>
                <td>{u.name}</td>
                <td>{ROLE_LABEL[u.role]}</td>
                <td>{u.disabled ? <span class="badge badge-warn">отключён</span> : <span class="badge badge-ok">активен</span>}</td>
                <td>{when(u.lastLoginAt)}</td>
                <td>{!u.disabled && u.id !== s.user.id && (
                  <form method="post" action={`/console/users/${encodeURIComponent(u.name)}/disable`}><ConsoleCsrf s={s} /><button type="submit">Отключить</button></form>
                )}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </ConsoleLayout>
    ));
  });

  app.post('/users/:name/disable', { config: { consoleRole: 'admin', consoleAction: 'user.disable' } }, async (request, reply) => {
    const s = requireConsole(request);
    const name = (request.params as { name: string }).name;
    // Disabling oneself would lock the last admin out of the page that could undo it.
    if (name.toLowerCase() === s.user.name.toLowerCase()) throw new CabinetError(409, 'Себя отключить нельзя: это сделает другой администратор или magistral users disable.');
    try {
      const r = await disableConsoleUser(db, name);
      request.consoleAudit = { details: { sessionsEnded: r.sessionsEnded } };
    } catch (e) {
      if (isMagistralError(e) && e.code === 'MAG_ERR_NOT_FOUND') throw new CabinetError(404, `Пользователя ${name} нет.`);
      throw e;
    }
    return reply.redirect(`/console/users?disabled=${encodeURIComponent(name)}`, 303);
  });
}
