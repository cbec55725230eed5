// Orders of the manager's own clients: the list with filters (status, client, period) and one order's
// page (lines, who placed it — the contact or the manager working as the client —, history, documents).
// Another manager's client's order is refused by the service (403, audited); an unknown number is 404.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { VNode } from 'preact';
import type { ServerDeps } from '../../api/deps.ts';
import { listManagerClients, listManagerOrders, managersOrderClient, type ManagerOrderQuery, type ManagerOrderRow } from '../../backoffice/manager-clients.ts';
import { CabinetError } from '../../cabinet/errors.ts';
import { listOrderStatuses } from '../../orders/index.ts';
import { orderDetails } from '../../orders/history.ts';
import { money, qty, sendPage, unitName } from '../render.tsx';
import { describe } from '../cabinet/orders.tsx';
import { dateTime, day } from './audit-view.tsx';
import { ManagerCsrf, ManagerLayout } from './layout.tsx';
import { requireManager } from './request.ts';

const APPROVAL: Record<string, string> = { waiting: 'ждёт согласования руководителя', approved: 'согласован', rejected: 'не согласован' };

export function OrdersTable({ orders, showClient = true, empty }: { orders: ManagerOrderRow[]; showClient?: boolean; empty: string }): VNode {
  if (!orders.length) return <p class="empty">{empty}</p>;
  return (
    <table class="grid orders">
      <thead><tr><th>Номер</th><th>Дата</th>{showClient && <th>Клиент</th>}<th>Юрлицо</th><th>Статус</th><th class="num">Сумма</th><th>Оформил</th></tr></thead>
      <tbody>
        {orders.map((o) => (
          <tr data-order={o.number}>
            <td><a href={`/manager/orders/${encodeURIComponent(o.number)}`}>{o.number}</a>{o.origin === 'offline' && <span class="badge">офлайн</span>}</td>
            <td>{day(o.createdAt)}</td>
            {showClient && <td><a href={`/manager/clients/${o.clientId}`}>{o.client}</a></td>}
            <td>{o.legalEntity}</td>
            <td class={`status status-${o.status.code}`}>{o.status.name}{o.approval && <div><small class="muted">{APPROVAL[o.approval]}</small></div>}</td>
            <td class="num">{money(o.total, o.currency)}</td>
            <td>{o.placedByManager ? <>{o.placedByManager} <small class="muted">(менеджер{o.contactName ? `, от имени ${o.contactName}` : ''})</small></> : o.contactName ?? '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const origin = (request: FastifyRequest) => ({ ip: request.ip, userAgent: request.headers['user-agent'] ?? null });

export async function managerOrdersRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { db } = deps;

  app.get('/orders', async (request, reply) => {
    const s = requireManager(request);
    const q = request.query as Record<string, string | undefined>;
    const statuses = await listOrderStatuses(db);
    const clients = (await listManagerClients(db, s.manager.id, { pageSize: 100 })).rows;
    const clientId = q.client && /^\d{1,15}$/.test(q.client) ? Number(q.client) : undefined;
    // A client that is not the manager's in the address: the list would be empty anyway; say so plainly.
    if (q.client && (clientId === undefined || !clients.some((c) => c.id === clientId))) throw new CabinetError(404, 'Такого клиента нет среди ваших.');
    const filters: ManagerOrderQuery = {
      ...(statuses.some((x) => x.code === q.status) ? { status: q.status } : {}),
      ...(clientId !== undefined ? { clientId } : {}),
      ...(q.from ? { from: q.from } : {}),
      ...(q.to ? { to: q.to } : {}),
    };
    const page = await listManagerOrders(db, s.manager.id, { ...filters, limit: 50, ...(q.cursor ? { cursor: q.cursor } : {}) });
    const kept = Object.fromEntries(Object.entries({ status: filters.status, client: clientId?.toString(), from: filters.from, to: filters.to }).filter(([, v]) => v !== undefined)) as Record<string, string>;
    const any = Object.keys(kept).length > 0;
    return sendPage(reply, (
      <ManagerLayout s={s} title="Заказы клиентов" active="orders">
        <h1>Заказы моих клиентов</h1>
        <form method="get" action="/manager/orders" class="orders-filters">
          <label>Клиент
            <select name="client"><option value="">все</option>{clients.map((c) => <option value={String(c.id)} selected={c.id === clientId}>{c.name}</option>)}</select>
          </label>
          <label>Статус
            <select name="status"><option value="">все</option>{statuses.map((x) => <option value={x.code} selected={x.code === filters.status}>{x.name}</option>)}</select>
          </label>
          <label>С <input type="date" name="from" value={filters.from ?? ''} /></label>
          <label>По <input type="date" name="to" value={filters.to ?? ''} /></label>
          <button type="submit" class="primary">Показать</button>
          {any && <a href="/manager/orders" class="button">Сбросить</a>}
        </form>
        <OrdersTable orders={page.orders} empty={any ? 'Заказов с такими условиями нет.' : 'У ваших клиентов пока нет заказов.'} />
        {page.nextCursor && <p><a class="button" href={`/manager/orders?${new URLSearchParams({ ...kept, cursor: page.nextCursor })}`}>Показать ещё</a></p>}
      </ManagerLayout>
    ));
  });

  app.get('/orders/:number', async (request, reply) => {
    const s = requireManager(request);
    const number = String((request.params as { number: string }).number ?? '');
    const clientId = await managersOrderClient(db, { id: s.manager.id, name: s.manager.name }, number, origin(request));
    const o = await orderDetails(db, { clientId, contactId: null }, number);
    if (!o) throw new CabinetError(404, `Заказ ${number} не найден.`);
    const statuses = new Map((await listOrderStatuses(db)).map((x) => [x.code, x.name]));
    const client = await db.selectFrom('clients').select('name').where('id', '=', clientId).executeTakeFirstOrThrow();
    return sendPage(reply, (
      <ManagerLayout s={s} title={`Заказ ${o.number}`} active="orders">
        <p><a href="/manager/orders">← Заказы</a> · <a href={`/manager/clients/${clientId}`}>{client.name}</a></p>
        <h1>Заказ {o.number}{o.origin === 'offline' && <span class="badge">офлайн</span>}</h1>
        <div class="cards">
          <section class="card">
            <dl class="requisites">
              <dt>Статус</dt><dd class={`status status-${o.status.code}`}>{o.status.name}</dd>
              <dt>Дата</dt><dd>{dateTime(o.createdAt)}</dd>
              <dt>Клиент</dt><dd><a href={`/manager/clients/${clientId}`}>{client.name}</a></dd>
              <dt>Юрлицо</dt><dd>{o.legalEntity.name}{o.legalEntity.inn ? `, ИНН ${o.legalEntity.inn}` : ''}</dd>
              {o.contactName && <><dt>Контакт</dt><dd>{o.contactName}</dd></>}
              {o.placedByManager && <><dt>Оформил</dt><dd class="placed-by-manager">менеджер {o.placedByManager}, работая как клиент</dd></>}
              {o.erpNumber && <><dt>Номер в учётной системе</dt><dd>{o.erpNumber}{o.erpDate ? ` от ${day(o.erpDate)}` : ''}</dd></>}
              {o.deliveryAddress && <><dt>Доставка</dt><dd>{o.deliveryAddress}</dd></>}
              {o.paymentKind && <><dt>Оплата</dt><dd>{o.paymentKind}</dd></>}
              {o.comment && <><dt>Комментарий</dt><dd>{o.comment}</dd></>}
            </dl>
            {/* The manager confirms a new order (the ERP usually does it through the exchange): its invoice follows. */}
            {(o.status.code === 'new' || o.status.code === 'accepted') && o.approval !== 'waiting' && o.approval !== 'rejected' && (
              <form method="post" action={`/manager/orders/${encodeURIComponent(o.number)}/confirm`} class="confirm-order">
                <ManagerCsrf s={s} />
                <input type="hidden" name="back" value={`/manager/orders/${o.number}`} />
                <button type="submit" class="primary">Подтвердить заказ</button>
                <p class="hint">Клиенту уйдёт письмо со счётом на оплату.</p>
              </form>
            )}
            {(request.query as { confirmed?: string }).confirmed === o.number && <p class="flash flash-ok" role="status">Заказ подтверждён, счёт на оплату формируется и придёт клиенту письмом.</p>}
          </section>
        </div>
        <h2>Состав</h2>
        <table class="grid order-lines">
          <thead><tr><th>№</th><th>Товар</th><th class="num">Количество</th><th class="num">Цена</th><th class="num">Сумма</th></tr></thead>
          <tbody>
            {o.lines.map((l) => (
              <tr><td>{l.lineNo}</td><td>{l.name} <small class="muted">{l.sku}</small></td><td class="num">{qty(l.quantity)} {unitName(l.unit)}</td>
                <td class="num">{money(l.price, o.currency)}</td><td class="num">{money(l.amount, o.currency)}</td></tr>
            ))}
          </tbody>
          <tfoot><tr><td colSpan={4}>Итого</td><td class="num"><b>{money(o.total, o.currency)}</b></td></tr></tfoot>
        </table>
        <div class="cards">
          <section class="card">
            <h2>История</h2>
            {!o.events.length ? <p class="muted">Изменений не было.</p> : <ol class="history">{o.events.map((e) => <li><time>{dateTime(e.at)}</time> — {describe(e, statuses)}</li>)}</ol>}
          </section>
          <section class="card">
            <h2>Документы</h2>
            {!o.documents.length ? <p class="muted">Документов пока нет.</p> : (
              <ul>{o.documents.map((d) => <li>{d.kind}{d.number ? ` № ${d.number}` : ''}{d.date ? ` от ${day(d.date)}` : ''}{d.amount ? `, ${money(d.amount, o.currency)}` : ''}</li>)}</ul>
            )}
          </section>
        </div>
      </ManagerLayout>
    ));
  });
}
