// The contact's own page: who it is, the legal entities it acts for and in which role, a password
// change (which ends its sessions in other browsers), and which e-mail notifications it receives.
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../../api/deps.ts';
import { changePassword } from '../../cabinet/accounts.ts';
import { CabinetError } from '../../cabinet/errors.ts';
import { sendPage } from '../render.tsx';
import { CsrfField, Layout } from './layout.tsx';
import { field, fields, requireContact } from './request.ts';
import type { SignedInContext } from '../../cabinet/context.ts';
import type { CartSummary } from '../../cabinet/cart-summary.ts';
import { CONTACT_NOTIFICATION_KINDS, kindEnabled, setNotificationPreference } from '../../backoffice/notify.ts';

type Prefs = Record<string, unknown>;

function AccountPage({ ctx, cart, flash, prefs }: { ctx: SignedInContext; cart: CartSummary | null; flash: { kind: 'ok' | 'error'; text: string } | null; prefs: Prefs }) {
  return (
    <Layout ctx={ctx} cart={cart} title="Профиль" active="account" flash={flash}>
      <h1>Профиль</h1>
      <div class="cards">
        <section class="card">
          <h2>{ctx.contact.name}</h2>
          <dl class="requisites">
            {ctx.contact.position && <><dt>Должность</dt><dd>{ctx.contact.position}</dd></>}
            <dt>Логин</dt><dd>{ctx.contact.email}</dd>
            <dt>Клиент</dt><dd>{ctx.client.name}</dd>
          </dl>
          <h2 style="margin-top:1rem">Юридические лица</h2>
          <table>
            <thead><tr><th>Название</th><th>ИНН</th><th>Роль</th></tr></thead>
            <tbody>
              {ctx.legalEntities.map((le) => <tr><td>{le.name}</td><td>{le.inn ?? '—'}</td><td>{le.role === 'head' ? 'руководитель' : 'сотрудник'}</td></tr>)}
            </tbody>
          </table>
        </section>
        <section class="card">
          <h2>Смена пароля</h2>
          <form method="post" action="/cabinet/account/password" class="stack">
            <CsrfField ctx={ctx} />
            <label>Текущий пароль<input type="password" name="current" required autocomplete="current-password" /></label>
            <label>Новый пароль (не короче 8 символов, буквы и цифры)<input type="password" name="password" required minLength={8} autocomplete="new-password" /></label>
            <label>Новый пароль ещё раз<input type="password" name="password2" required autocomplete="new-password" /></label>
            <button type="submit" class="primary">Сменить пароль</button>
            <p class="hint">После смены пароля вход в других браузерах завершится.</p>
          </form>
        </section>
        <section class="card" id="notifications">
          <h2>Уведомления по почте</h2>
          <form method="post" action="/cabinet/account/notifications" class="stack">
            <CsrfField ctx={ctx} />
            <input type="hidden" name="present" value="1" />
            {Object.entries(CONTACT_NOTIFICATION_KINDS).map(([kind, label]) => (
              <label class="check"><input type="checkbox" name="kind" value={kind} checked={kindEnabled(prefs, kind)} /> {label}</label>
            ))}
            <button type="submit">Сохранить</button>
            <p class="hint">Письма приходят на {ctx.contact.email}. Приглашения и восстановление пароля приходят всегда.</p>
          </form>
        </section>
      </div>
    </Layout>
  );
}

export async function accountRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const prefsOf = async (contactId: number): Promise<Prefs> =>
    (await deps.db.selectFrom('cabinet_accounts').select('prefs').where('contact_id', '=', contactId).executeTakeFirst())?.prefs ?? {};

  app.get('/account', async (request, reply) => {
    const ctx = requireContact(request);
    const q = request.query as { changed?: string; saved?: string };
    const done = q.changed ? { kind: 'ok' as const, text: 'Пароль изменён.' } : q.saved ? { kind: 'ok' as const, text: 'Настройки уведомлений сохранены.' } : null;
    return sendPage(reply, <AccountPage ctx={ctx} cart={request.cabinetCart} flash={done} prefs={await prefsOf(ctx.contact.id)} />);
  });

  // Every kind not ticked is turned off (an unticked checkbox sends nothing, hence the form's "present").
  app.post('/account/notifications', async (request, reply) => {
    const ctx = requireContact(request);
    const on = new Set(fields(request.body, 'kind'));
    for (const kind of Object.keys(CONTACT_NOTIFICATION_KINDS)) await setNotificationPreference(deps.db, ctx.contact.id, kind, on.has(kind));
    return reply.redirect('/cabinet/account?saved=1#notifications', 303);
  });

  app.post('/account/password', async (request, reply) => {
    const ctx = requireContact(request);
    const next = field(request.body, 'password');
    try {
      if (next !== field(request.body, 'password2')) throw new CabinetError(400, 'Новые пароли не совпадают.');
      await changePassword(deps.db, ctx.contact.id, field(request.body, 'current'), next, ctx.session.idHash);
      return reply.redirect('/cabinet/account?changed=1', 303);
    } catch (e) {
      if (e instanceof CabinetError) return sendPage(reply, <AccountPage ctx={ctx} cart={request.cabinetCart} flash={{ kind: 'error', text: e.message }} prefs={await prefsOf(ctx.contact.id)} />, e.status);
      throw e;
    }
  });
}
