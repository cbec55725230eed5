// A client's card in the workplace: legal entities with requisites, contacts with their cabinet access
// (and an invitation), agreements, the credit block (helper module's fragment, loaded by htmx), recent
// orders, the client's audit trail, and «Работать как клиент» — the manager's browser gets the cabinet
// session of the chosen contact. Another manager's client is refused by the services (403, audited).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerDeps } from '../../api/deps.ts';
import { auditTrail } from '../../backoffice/audit.ts';
import { startImpersonation } from '../../backoffice/impersonation.ts';
import { clientCard, inviteClientContact, type CabinetStatus, type ClientCard } from '../../backoffice/manager-clients.ts';
import type { ManagerSession } from '../../backoffice/managers.ts';
import { CabinetError } from '../../cabinet/errors.ts';
import { SESSION_COOKIE } from '../../cabinet/sessions.ts';
import { publicUrl, sessionCookieOptions } from '../cabinet/settings.ts';
import { money, sendPage } from '../render.tsx';
import { AuditTable, dateTime, day } from './audit-view.tsx';
import { ManagerCsrf, ManagerLayout } from './layout.tsx';
import { OrdersTable } from './orders-routes.tsx';
import { field, idParam, requireManager } from './request.ts';

const CABINET_STATUS: Record<CabinetStatus, string> = {
  none: 'нет доступа',
  invited: 'приглашён, пароль не задан',
  never: 'пароль задан, ни разу не входил',
  active: 'пользуется кабинетом',
  disabled: 'доступ отключён',
};

const BANNERS: Record<string, string> = {
  expired: 'Сеанс работы как клиент завершён: прошло 30 минут.',
  ended: 'Сеанс работы как клиент завершён.',
  logout: 'Вы вышли из кабинета клиента: сеанс работы как клиент завершён.',
};

const origin = (request: FastifyRequest) => ({ ip: request.ip, userAgent: request.headers['user-agent'] ?? null });
const managerOf = (s: ManagerSession) => ({ id: s.manager.id, name: s.manager.name });

function ImpersonateForm({ s, card, chosen }: { s: ManagerSession; card: ClientCard; chosen?: { contact?: string; legalEntity?: string } }) {
  const c = card.client;
  if (!card.contacts.length) {
    return <p class="notice notice-warn">У клиента нет контактных лиц: работать как клиент можно только от имени контакта. Добавьте контакт в CRM или учётной системе.</p>;
  }
  return (
    <form method="post" action={`/manager/clients/${c.id}/impersonate`} class="stack impersonate-form">
      <ManagerCsrf s={s} />
      <label>От имени контакта
        <select name="contact">
          {card.contacts.map((x) => (
            <option value={String(x.id)} selected={chosen?.contact === String(x.id)}>
              {x.name}{x.roles.some((r) => r.role === 'head') ? ' — руководитель' : x.roles.length ? ' — сотрудник' : ''}{x.cabinet === 'none' ? ' (нет доступа в кабинет)' : ''}
            </option>
          ))}
        </select>
      </label>
      <label>Юрлицо
        <select name="legalEntity">
          <option value="">первое юрлицо контакта</option>
          {card.legalEntities.map((le) => <option value={String(le.id)} selected={chosen?.legalEntity === String(le.id)}>{le.name}{le.inn ? ` (ИНН ${le.inn})` : ''}</option>)}
        </select>
      </label>
      <button type="submit" class="primary">Работать как клиент</button>
      <p class="hint">Откроется кабинет клиента от имени выбранного контакта на 30 минут. Все действия записываются в журнал; клиент увидит, что заказ оформлен вами.</p>
    </form>
  );
}

async function cardPage(deps: ServerDeps, request: FastifyRequest, reply: FastifyReply, clientId: number,
  o: { flash?: { kind: 'ok' | 'error' | 'info'; text: string } | null; status?: number; chosen?: { contact?: string; legalEntity?: string } } = {}): Promise<FastifyReply> {
  const s = requireManager(request);
  const card = await clientCard(deps.db, managerOf(s), clientId, origin(request));
  const trail = await auditTrail(deps.db, { clientId }, 50);
  const q = request.query as { impersonation?: string; invited?: string };
  const flash = o.flash ?? (q.impersonation && BANNERS[q.impersonation] ? { kind: 'info' as const, text: BANNERS[q.impersonation]! }
    : q.invited ? { kind: 'ok' as const, text: `Приглашение отправлено на ${q.invited.slice(0, 200)}: в письме ссылка для входа в кабинет.` } : null);
  const c = card.client;
  // The credit block is another module's fragment: its slot is there once that route is.
  const creditRoute = request.server.hasRoute({ method: 'GET', url: '/manager/clients/:id/credit' });
  return sendPage(reply, (
    <ManagerLayout s={s} title={c.name} active="clients" flash={flash}>
      <p><a href="/manager">← Мои клиенты</a></p>
      <h1>{c.name} <small class="muted">{c.code}</small>
        {c.pending && <span class="badge badge-warn">ждёт подтверждения</span>}{c.blocked && <span class="badge badge-error">заблокирован</span>}</h1>
      <div class="cards">
        <section class="card">
          <dl class="requisites">
            <dt>Город</dt><dd>{c.city ?? '—'}</dd>
            {c.email && <><dt>E-mail</dt><dd><a href={`mailto:${c.email}`}>{c.email}</a></dd></>}
            {c.phone && <><dt>Телефон</dt><dd><a href={`tel:${c.phone.replace(/[^+\d]/g, '')}`}>{c.phone}</a></dd></>}
          </dl>
        </section>
        <section class="card" id="impersonate">
          <p><a href={`/manager/clients/${c.id}/documents`}>Документы клиента: договоры, сканы, счета →</a></p>
          <h2>Работать как клиент</h2>
          <ImpersonateForm s={s} card={card} chosen={o.chosen} />
        </section>
      </div>
      {creditRoute && (
        <section class="credit-slot">
          <div id="credit" hx-get={`/manager/clients/${c.id}/credit`} hx-trigger="load" hx-swap="innerHTML"><p class="muted">Загрузка задолженности и лимитов…</p></div>
        </section>
      )}

      <h2>Юридические лица</h2>
      {!card.legalEntities.length ? <p class="empty">Юрлиц нет.</p> : (
        <div class="cards">
          {card.legalEntities.map((le) => (
            <section class="card" data-legal-entity={le.code}>
              <h3>{le.name}</h3>
              <dl class="requisites">
                {le.fullName && <><dt>Полное название</dt><dd>{le.fullName}</dd></>}
                <dt>ИНН / КПП</dt><dd>{le.inn ?? '—'}{le.kpp ? ` / ${le.kpp}` : ''}</dd>
                {le.ogrn && <><dt>ОГРН</dt><dd>{le.ogrn}</dd></>}
                {le.address && <><dt>Адрес</dt><dd>{le.address}</dd></>}
                {le.bankName && <><dt>Банк</dt><dd>{le.bankName}{le.bik ? `, БИК ${le.bik}` : ''}</dd></>}
                {le.account && <><dt>Р/с</dt><dd>{le.account}</dd></>}
                {le.corrAccount && <><dt>К/с</dt><dd>{le.corrAccount}</dd></>}
              </dl>
            </section>
          ))}
        </div>
      )}

      <h2>Контактные лица</h2>
      {!card.contacts.length ? <p class="empty">Контактных лиц нет.</p> : (
        <table class="grid contacts">
          <thead><tr><th>Контакт</th><th>Связь</th><th>Юрлица и роль</th><th>Кабинет</th><th></th></tr></thead>
          <tbody>
            {card.contacts.map((x) => (
              <tr data-contact={x.code}>
                <td>{x.name}{x.position && <div><small class="muted">{x.position}</small></div>}</td>
                <td>{x.email ?? '—'}{x.phone && <div><small>{x.phone}</small></div>}</td>
                <td>{x.roles.length ? x.roles.map((r) => <div>{r.legalEntity} — {r.role === 'head' ? 'руководитель' : 'сотрудник'}</div>) : <span class="muted">не привязан</span>}</td>
                <td class="cabinet-status" data-status={x.cabinet}>
                  {CABINET_STATUS[x.cabinet]}
                  {x.cabinet === 'active' && x.lastLoginAt && <div><small class="muted">последний вход {dateTime(x.lastLoginAt)}</small></div>}
                  {x.cabinet === 'invited' && x.invitedAt && <div><small class="muted">приглашён {day(x.invitedAt)}</small></div>}
                </td>
                <td>
                  {(x.cabinet === 'none' || x.cabinet === 'invited') && (
                    x.email
                      ? <form method="post" action={`/manager/clients/${c.id}/contacts/${x.id}/invite`}><ManagerCsrf s={s} /><button type="submit">{x.cabinet === 'invited' ? 'Пригласить снова' : 'Пригласить'}</button></form>
                      : <small class="muted">нет e-mail для приглашения</small>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h2>Договоры</h2>
      {!card.agreements.length ? <p class="empty">Договоров нет: клиент покупает по ценам своего города.</p> : (
        <table class="grid agreements">
          <thead><tr><th>Договор</th><th>Юрлицо</th><th>Тип цен</th><th class="num">Скидка</th><th class="num">Кредитный лимит</th><th class="num">Отсрочка</th></tr></thead>
          <tbody>
            {card.agreements.map((a) => (
              <tr data-agreement={a.code}>
                <td>{a.name} <small class="muted">{a.code}</small></td>
                <td>{a.legalEntity ?? 'все юрлица клиента'}</td>
                <td>{a.priceType ?? 'цены города'}</td>
                <td class="num">{a.discountPercent === '0' ? '—' : `${a.discountPercent.replace('.', ',')} %`}</td>
                <td class="num">{a.creditLimit ? money(a.creditLimit, a.currency) : '—'}</td>
                <td class="num">{a.paymentDelayDays !== null ? `${a.paymentDelayDays} дн.` : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h2>Последние заказы</h2>
      <OrdersTable orders={card.recentOrders} showClient={false} empty="Заказов пока нет." />
      {card.recentOrders.length > 0 && <p><a href={`/manager/orders?client=${c.id}`}>Все заказы клиента →</a></p>}

      <h2>Журнал действий</h2>
      <p class="hint">Кто и что делал с этим клиентом: работа как клиент, приглашения, отказы в доступе. Записи нельзя изменить или удалить.</p>
      <AuditTable rows={trail} empty="Записей пока нет." />
    </ManagerLayout>
  ), o.status ?? 200);
}

export async function managerClientRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { db } = deps;

  app.get('/clients/:id', async (request, reply) => cardPage(deps, request, reply, idParam(request)));

  app.post('/clients/:id/contacts/:contactId/invite', async (request, reply) => {
    const s = requireManager(request);
    const clientId = idParam(request);
    try {
      const inv = await inviteClientContact(db, managerOf(s), clientId, idParam(request, 'contactId'), publicUrl(deps, request), origin(request));
      return reply.redirect(`/manager/clients/${clientId}?invited=${encodeURIComponent(inv.email)}#contacts`, 303);
    } catch (e) {
      // Bad data of the contact (no e-mail, the address taken): shown on the card; a refusal (403) is the error page.
      if (e instanceof CabinetError && (e.status === 400 || e.status === 409)) return cardPage(deps, request, reply, clientId, { flash: { kind: 'error', text: e.message }, status: e.status });
      throw e;
    }
  });

  // «Работать как клиент»: the manager's browser gets the contact's cabinet session (cookie mg_cab) and opens /cabinet.
  app.post('/clients/:id/impersonate', async (request, reply) => {
    const s = requireManager(request);
    const clientId = idParam(request);
    const contact = field(request.body, 'contact');
    const legalEntity = field(request.body, 'legalEntity');
    const num = (v: string): number | null => (v === '' ? null : /^\d{1,15}$/.test(v) ? Number(v) : -1);
    try {
      const started = await startImpersonation(db, {
        manager: managerOf(s), clientId, contactId: num(contact), legalEntityId: num(legalEntity), ...origin(request),
      });
      reply.setCookie(SESSION_COOKIE, started.cookie, sessionCookieOptions(deps));
      return reply.redirect('/cabinet', 303);
    } catch (e) {
      if (e instanceof CabinetError && e.status !== 403) {
        return cardPage(deps, request, reply, clientId, { flash: { kind: 'error', text: e.message }, status: e.status, chosen: { contact, legalEntity } });
      }
      throw e;
    }
  });
}
