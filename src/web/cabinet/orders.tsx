// The buyer's orders: the list with filters (status, legal entity, period, number, portal or offline)
// and the order page with lines, status history, documents and "repeat order". What a contact sees is
// decided by the orders module (a head: every order of its entities; a subordinate: its own).
import type { FastifyInstance } from 'fastify';
import type { VNode } from 'preact';
import type { ServerDeps } from '../../api/deps.ts';
import { CabinetError, ShopError } from '../../cabinet/errors.ts';
import { repeatOrder } from '../../cabinet/repeat.ts';
import { listOrderStatuses } from '../../orders/index.ts';
import { orderDetails, type OrderEvent } from '../../orders/history.ts';
import { listOrders, type OrderListQuery, type OrderSummary } from '../../orders/read.ts';
import { documentKindName } from '../../backoffice/document-kinds.ts';
import { money, qty, sendPage, unitName } from '../render.tsx';
import { shopperOf } from './cart.tsx';
import { CsrfField, Layout } from './layout.tsx';
import { cabinetActor, requireContact } from './request.ts';
import { assertOrderVisible } from '../../backoffice/rights.ts';

const PAGE = 50;
const TZ = 'Europe/Moscow';
const day = (iso: string | Date | null): string => (iso ? new Date(iso).toLocaleDateString('ru-RU', { timeZone: TZ }) : '—');
const dateTime = (iso: string | Date): string => new Date(iso).toLocaleString('ru-RU', { timeZone: TZ, dateStyle: 'short', timeStyle: 'short' });

/** The date a buyer knows the order by: an offline order's from the ERP, a portal order's placing. */
const orderDate = (o: OrderSummary): string => day(o.origin === 'offline' && o.erpDate ? o.erpDate : o.createdAt);

function StatusBadge({ o }: { o: OrderSummary }): VNode {
  // The flags the status name does not already say.
  const code = o.status.code;
  const extra = [o.paid && 'оплачен', o.shipped && code !== 'shipped' && code !== 'completed' && 'отгружен', o.cancelled && code !== 'cancelled' && 'отменён']
    .filter(Boolean).join(', ');
  const approval = o.approval === 'waiting' ? <span class="badge badge-offline">ждёт согласования</span>
    : o.approval === 'rejected' ? <span class="badge">отклонён руководителем</span> : null;
  return <span class={`status status-${o.status.code}`}>{o.status.name}{extra ? <small class="muted"> · {extra}</small> : null}{approval}</span>;
}

const FIELD_NAMES: Record<string, string> = {
  status: 'статус', paid: 'оплата', paidAt: 'дата оплаты', shipped: 'отгрузка', shippedAt: 'дата отгрузки', cancelled: 'отмена',
  erpNumber: 'номер в учётной системе', erpDate: 'дата в учётной системе', comment: 'комментарий',
};

/** One history row in words: "Заказ оформлен на портале", "Статус: Новый → Принят". */
export function describe(e: OrderEvent, statuses: Map<string, string>): string {
  const c = e.change;
  if (c.placed) return (c.placed as { byManager?: number }).byManager ? 'Заказ оформлен на портале вашим менеджером' : 'Заказ оформлен на портале';
  if (c.offline) return 'Заказ создан в учётной системе (офлайн-заказ)';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(c)) {
    const d = v as { from?: unknown; to?: unknown } | null;
    const to = d && typeof d === 'object' && 'to' in d ? d.to : v;
    if (k === 'status') parts.push(`статус: ${statuses.get(String(to)) ?? String(to)}`);
    else if (k === 'approval') parts.push(to === 'waiting' ? 'ждёт согласования руководителем' : to === 'approved' ? 'согласован руководителем' : 'отклонён руководителем');
    else if (k === 'approvalComment') parts.push(`комментарий руководителя: ${String(to)}`);
    else if (typeof to === 'boolean') parts.push(`${FIELD_NAMES[k] ?? k}: ${to ? 'да' : 'нет'}`);
    else if (k.endsWith('At') || k === 'erpDate') parts.push(`${FIELD_NAMES[k] ?? k}: ${to ? dateTime(String(to)) : '—'}`);
    else parts.push(`${FIELD_NAMES[k] ?? k}: ${to === null || to === undefined ? '—' : String(to)}`);
  }
  const text = parts.join('; ');
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : 'Изменение';
}

const APPROVAL_WORDS: Record<string, string> = {
  waiting: 'ждёт согласования руководителем: поставщику заказ передадут после него',
  approved: 'согласован руководителем',
  rejected: 'отклонён руководителем, заказ отменён',
};

const sourceName = (s: string | null): string => (!s ? '' : s === 'portal' ? 'портал' : s.startsWith('manager:') ? 'менеджер' : s.startsWith('onec') ? '1С' : s.startsWith('sap') ? 'SAP' : s);

export async function ordersRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { db } = deps;

  app.get('/orders', async (request, reply) => {
    const ctx = requireContact(request);
    const q = request.query as Record<string, string | undefined>;
    const statuses = await listOrderStatuses(db);
    const filters = {
      status: statuses.some((s) => s.code === q.status) ? q.status : undefined,
      legalEntity: ctx.legalEntities.some((le) => le.code === q.legalEntity) ? q.legalEntity : undefined,
      from: q.from && /^\d{4}-\d{2}-\d{2}$/.test(q.from) ? q.from : undefined,
      to: q.to && /^\d{4}-\d{2}-\d{2}$/.test(q.to) ? q.to : undefined,
      number: q.number?.trim() ? q.number.trim().slice(0, 50) : undefined,
      origin: q.origin === 'portal' || q.origin === 'offline' ? q.origin : undefined,
    } as const;
    // A legal entity of another client in the address is not ours: it looks absent, as everywhere.
    if (q.legalEntity && !filters.legalEntity) throw new CabinetError(404, 'Юридическое лицо не найдено среди ваших');
    const query: OrderListQuery = { limit: PAGE, ...Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== undefined)) };
    if (q.cursor) query.cursor = q.cursor;
    let page;
    try {
      page = await listOrders(db, { clientId: ctx.client.id, contactId: ctx.contact.id }, query);
    } catch (e) {
      if ((e as { code?: string }).code === 'MAG_ERR_BAD_REQUEST') throw new CabinetError(400, 'Неверный фильтр: проверьте даты периода (ДД.ММ.ГГГГ)');
      throw e;
    }
    const next = page.nextCursor ? `/cabinet/orders?${new URLSearchParams({ ...Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== undefined)) as Record<string, string>, cursor: page.nextCursor })}` : null;
    const anyFilter = Object.values(filters).some((v) => v !== undefined);
    return sendPage(reply, (
      <Layout ctx={ctx} cart={request.cabinetCart} title="Заказы" active="orders">
        <h1>Заказы</h1>
        <form method="get" action="/cabinet/orders" class="orders-filters">
          <label>Номер <input type="search" name="number" value={filters.number ?? ''} placeholder="М-000123 или номер 1С" /></label>
          <label>Статус
            <select name="status"><option value="">все</option>{statuses.map((s) => <option value={s.code} selected={s.code === filters.status}>{s.name}</option>)}</select>
          </label>
          {ctx.legalEntities.length > 1 && (
            <label>Юрлицо
              <select name="legalEntity"><option value="">все</option>{ctx.legalEntities.map((le) => <option value={le.code} selected={le.code === filters.legalEntity}>{le.name}</option>)}</select>
            </label>
          )}
          <label>С <input type="date" name="from" value={filters.from ?? ''} /></label>
          <label>По <input type="date" name="to" value={filters.to ?? ''} /></label>
          <label>Откуда
            <select name="origin">
              <option value="">все</option>
              <option value="portal" selected={filters.origin === 'portal'}>с портала</option>
              <option value="offline" selected={filters.origin === 'offline'}>офлайн (из учётной системы)</option>
            </select>
          </label>
          <button type="submit" class="primary">Показать</button>
          {anyFilter && <a href="/cabinet/orders" class="button">Сбросить</a>}
        </form>
        {!page.orders.length ? <p class="empty">{anyFilter ? 'Заказов с такими условиями нет.' : 'Заказов пока нет.'}</p> : (
          <table class="orders-table">
            <thead><tr><th>Номер</th><th>Дата</th><th>Юрлицо</th><th>Статус</th><th class="num">Сумма</th><th>Оформил</th></tr></thead>
            <tbody>
              {page.orders.map((o) => (
                <tr data-order={o.number}>
                  <td>
                    <a href={`/cabinet/orders/${encodeURIComponent(o.number)}`}>{o.number}</a>
                    {o.origin === 'offline' && <span class="badge badge-offline" title="Заказ оформлен вне портала (по телефону, у менеджера)">Офлайн</span>}
                    {o.erpNumber && <div><small class="muted">в 1С/ERP: {o.erpNumber}</small></div>}
                  </td>
                  <td>{orderDate(o)}</td>
                  <td>{o.legalEntity.name}</td>
                  <td><StatusBadge o={o} /></td>
                  <td class="num">{money(o.total, o.currency)}</td>
                  <td>
                    {o.contactName ?? (o.origin === 'offline' ? 'менеджер' : '—')}
                    {o.placedByManager && <div><small class="placed-by-manager">Оформлен вашим менеджером {o.placedByManager}</small></div>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {next && <p><a class="button" href={next}>Показать ещё</a></p>}
      </Layout>
    ));
  });

  app.get('/orders/:number', async (request, reply) => {
    const ctx = requireContact(request);
    const number = (request.params as { number: string }).number;
    // Another employee's order: 403 with the reason for a subordinate (audited), nothing of it shown.
    await assertOrderVisible(db, { clientId: ctx.client.id, contactId: ctx.contact.id }, number, cabinetActor(ctx, request));
    const o = await orderDetails(db, { clientId: ctx.client.id, contactId: ctx.contact.id }, number);
    if (!o) throw new CabinetError(404, `Заказ ${number} не найден`);
    const statuses = new Map((await listOrderStatuses(db)).map((s) => [s.code, s.name]));
    const placed = (request.query as { placed?: string }).placed;
    return sendPage(reply, (
      <Layout ctx={ctx} cart={request.cabinetCart} title={`Заказ ${o.number}`} active="orders"
        flash={placed ? { kind: 'ok', text: o.approval === 'waiting'
          ? `Заказ ${o.number} оформлен и ждёт согласования руководителем: поставщику его передадут после согласования.`
          : `Заказ ${o.number} оформлен. Менеджер получит его и подтвердит; статус виден на этой странице.` } : null}>
        <p><a href="/cabinet/orders">← Все заказы</a></p>
        <h1>Заказ {o.number} {o.origin === 'offline' && <span class="badge badge-offline">Офлайн</span>}</h1>
        <div class="cards order-head">
          <section class="card">
            <dl class="requisites">
              <dt>Статус</dt><dd><StatusBadge o={o} /></dd>
              <dt>Дата</dt><dd>{orderDate(o)}</dd>
              {o.erpNumber && <><dt>Номер в 1С/ERP</dt><dd>{o.erpNumber}{o.erpDate ? ` от ${day(o.erpDate)}` : ''}</dd></>}
              <dt>Покупатель</dt><dd>{o.legalEntity.name}{o.legalEntity.inn ? `, ИНН ${o.legalEntity.inn}` : ''}</dd>
              {o.placedByManager
                ? <><dt>Оформил</dt><dd><span class="placed-by-manager">Оформлен вашим менеджером {o.placedByManager}</span>{o.contactName && <div><small class="muted">от имени: {o.contactName}</small></div>}</dd></>
                : o.contactName && <><dt>Оформил</dt><dd>{o.contactName}</dd></>}
              {o.deliveryAddress && <><dt>Доставка</dt><dd>{o.deliveryAddress}</dd></>}
              {o.paymentKind && <><dt>Оплата</dt><dd>{o.paymentKind}</dd></>}
              {o.approval && <><dt>Согласование</dt><dd class="approval">{APPROVAL_WORDS[o.approval]}{o.approvalComment ? ` — «${o.approvalComment}»` : ''}</dd></>}
              {o.comment && <><dt>Комментарий</dt><dd>{o.comment}</dd></>}
            </dl>
          </section>
          <section class="card">
            <h2>Повторить заказ</h2>
            <p class="hint">Товары заказа добавятся в корзину юрлица «{ctx.legalEntity?.name}» по сегодняшним ценам.</p>
            <form method="post" action={`/cabinet/orders/${encodeURIComponent(o.number)}/repeat`}>
              <CsrfField ctx={ctx} /><button type="submit" class="primary">Повторить заказ</button>
            </form>
          </section>
        </div>
        <h2>Состав</h2>
        <table class="order-lines">
          <thead><tr><th>№</th><th>Товар</th><th class="num">Количество</th><th class="num">Цена</th><th class="num">Сумма</th></tr></thead>
          <tbody>
            {o.lines.map((l) => (
              <tr>
                <td>{l.lineNo}</td>
                <td>{l.name}<div><small class="muted">Код {l.sku}</small></div></td>
                <td class="num">{qty(l.quantity)} {unitName(l.unit)}</td>
                <td class="num">{money(l.price, o.currency)}</td>
                <td class="num">{money(l.amount, o.currency)}</td>
              </tr>
            ))}
          </tbody>
          <tfoot><tr><td colSpan={4}>Итого</td><td class="num"><b>{money(o.total, o.currency)}</b></td></tr></tfoot>
        </table>
        <div class="cards">
          <section class="card">
            <h2>История</h2>
            {!o.events.length ? <p class="muted">Изменений пока не было.</p> : (
              <ol class="history">
                {o.events.map((e) => <li><time>{dateTime(e.at)}</time> — {describe(e, statuses)} {e.source && <small class="muted">({sourceName(e.source)})</small>}</li>)}
              </ol>
            )}
          </section>
          <section class="card">
            <h2>Документы</h2>
            {!o.documents.length ? <p class="muted">Документов пока нет: счёт на оплату появится, когда заказ подтвердят, закрывающие документы — после отгрузки.</p> : (
              <ul class="documents">
                {o.documents.map((d) => (
                  <li data-doc={d.id}>
                    {d.hasFile ? <a href={`/cabinet/documents/order/${d.id}/file`}>{documentKindName(d.kind)}{d.number ? ` № ${d.number}` : ''}</a> : <>{documentKindName(d.kind)}{d.number ? ` № ${d.number}` : ''}</>}
                    {d.date ? ` от ${day(d.date)}` : ''}{d.amount ? `, ${money(d.amount, o.currency)}` : ''}
                    {d.hasFile && <small class="muted"> · PDF</small>}
                  </li>
                ))}
              </ul>
            )}
          </section>
        </div>
      </Layout>
    ));
  });

  app.post('/orders/:number/repeat', async (request, reply) => {
    const ctx = requireContact(request);
    const who = shopperOf(ctx);
    const number = (request.params as { number: string }).number;
    let r;
    try {
      r = await repeatOrder(db, who, number);
    } catch (e) {
      if (e instanceof ShopError && e.status === 404) throw new CabinetError(404, e.message);
      throw e;
    }
    return reply.redirect(`/cabinet/cart?${new URLSearchParams({ added: String(r.added.length), skipped: r.problems.map((p) => p.message).join('\n') })}`, 303);
  });
}
