// The contact's own page: who it is, the legal entities it acts for and in which role, and a password
// change (which ends its sessions in other browsers).
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../../api/deps.ts';
import { changePassword, IMPERSONATION_ACCOUNT_REFUSAL } from '../../cabinet/accounts.ts';
import { CabinetError } from '../../cabinet/errors.ts';
import { sendPage } from '../render.tsx';
import { CsrfField, Layout } from './layout.tsx';
import { field, requireContact } from './request.ts';
import type { SignedInContext } from '../../cabinet/context.ts';
import type { CartSummary } from '../../cabinet/cart-summary.ts';

function AccountPage({ ctx, cart, flash }: { ctx: SignedInContext; cart: CartSummary | null; flash: { kind: 'ok' | 'error'; text: string } | null }) {
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
          {ctx.impersonation ? <p class="notice notice-warn" id="impersonation-refusal">{IMPERSONATION_ACCOUNT_REFUSAL}</p> : <form method="post" action="/cabinet/account/password" class="stack">
            <CsrfField ctx={ctx} />
            <label>Текущий пароль<input type="password" name="current" required autocomplete="current-password" /></label>
            <label>Новый пароль (не короче 8 символов, буквы и цифры)<input type="password" name="password" required minLength={8} autocomplete="new-password" /></label>
            <label>Новый пароль ещё раз<input type="password" name="password2" required autocomplete="new-password" /></label>
            <button type="submit" class="primary">Сменить пароль</button>
            <p class="hint">После смены пароля вход в других браузерах завершится.</p>
          </form>}
        </section>
      </div>
    </Layout>
  );
}

export async function accountRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.get('/account', async (request, reply) => {
    const ctx = requireContact(request);
    const done = (request.query as { changed?: string }).changed ? { kind: 'ok' as const, text: 'Пароль изменён.' } : null;
    return sendPage(reply, <AccountPage ctx={ctx} cart={request.cabinetCart} flash={done} />);
  });

  app.post('/account/password', async (request, reply) => {
    const ctx = requireContact(request);
    const next = field(request.body, 'password');
    try {
      if (next !== field(request.body, 'password2')) throw new CabinetError(400, 'Новые пароли не совпадают.');
      await changePassword(deps.db, ctx.contact.id, field(request.body, 'current'), next, ctx.session.idHash);
      return reply.redirect('/cabinet/account?changed=1', 303);
    } catch (e) {
      if (e instanceof CabinetError) return sendPage(reply, <AccountPage ctx={ctx} cart={request.cabinetCart} flash={{ kind: 'error', text: e.message }} />, e.status);
      throw e;
    }
  });
}
