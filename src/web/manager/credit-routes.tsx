// The client's credit lines in the manager workplace: per agreement the limit (the ERP's or the
// manager's), the payment delay, debt, overdue, open orders on credit, what is left, and the client's
// overdue rule; forms to set the limit and delay per agreement and the rule. An htmx fragment
// (#credit) for the client card, or a page of its own when opened directly. Only the client's own
// manager (assertOwnClient: others 403, audited); every change audited in its transaction.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { VNode } from 'preact';
import type { ServerDeps } from '../../api/deps.ts';
import { assertOwnClient, type ManagerSession } from '../../backoffice/managers.ts';
import { clientCreditStatuses, setCreditTerms, setOverdueRule, type CreditStatus } from '../../backoffice/credit.ts';
import { russianOf } from '../../backoffice/rights.ts';
import { CabinetError } from '../../cabinet/errors.ts';
import { money, plural, sendFragment, sendPage } from '../render.tsx';
import { ManagerCsrf, ManagerLayout } from './layout.tsx';
import { actorOf, field, idParam, isHtmx, requireManager } from './request.ts';

export { creditSummaries } from '../../backoffice/credit.ts';

type Flash = { kind: 'ok' | 'error'; text: string } | null;

const RULES: Record<CreditStatus['rule']['kind'], string> = {
  any: 'блокировать при любой просрочке',
  grace: 'допускать просрочку до N дней',
  never: 'не блокировать из-за просрочки',
};

const source = (s: 'erp' | 'manager' | null): string => (s === 'manager' ? 'задан менеджером' : s === 'erp' ? 'из учётной системы' : '');

function CreditFragment({ s, client, list, flash }: { s: ManagerSession; client: { id: number; name: string }; list: CreditStatus[]; flash: Flash }): VNode {
  const rule = list[0]?.rule ?? { kind: 'any' as const, graceDays: 0 };
  const base = `/manager/clients/${client.id}/credit`;
  return (
    <section id="credit" class="card credit">
      <h2>Кредитные лимиты и задолженность</h2>
      {flash && <div class={`flash flash-${flash.kind}`} role={flash.kind === 'error' ? 'alert' : 'status'}>{flash.text}</div>}
      {!list.length ? <p class="empty">У клиента нет договоров.</p> : (
        <table class="grid credit-table">
          <thead><tr><th>Договор</th><th class="num">Лимит</th><th>Отсрочка</th><th class="num">Задолженность</th><th class="num">Просрочено</th>
            <th class="num">Открытые заказы</th><th class="num">Доступно</th><th>Отсрочка платежа в заказах</th><th>Изменить</th></tr></thead>
          <tbody>
            {list.map((c) => (
              <tr data-agreement={c.agreement?.code}>
                <td>{c.agreement?.name}</td>
                <td class="num">{c.limit === null ? 'нет' : money(c.limit, c.currency)}<div><small class="muted">{source(c.limitSource)}</small></div></td>
                <td>{c.paymentDelayDays === null ? '—' : `${c.paymentDelayDays} ${plural(c.paymentDelayDays, 'день', 'дня', 'дней')}`}<div><small class="muted">{source(c.delaySource)}</small></div></td>
                <td class="num">{money(c.debt, c.currency)}</td>
                <td class="num">{c.overdue.documents ? <span class="neg">{money(c.overdue.amount, c.currency)}<div><small>до {c.overdue.maxDays} дн.</small></div></span> : '—'}</td>
                <td class="num">{money(c.openOrders, c.currency)}</td>
                <td class="num"><b>{c.available === null ? '—' : money(c.available, c.currency)}</b></td>
                <td>{c.blocked ? <span class="neg credit-reason">{c.reason}</span> : <span class="pos">доступна</span>}</td>
                <td>
                  <form method="post" action={`${base}/terms`} hx-post={`${base}/terms`} hx-target="#credit" hx-swap="outerHTML" class="stack terms">
                    <ManagerCsrf s={s} /><input type="hidden" name="agreement" value={c.agreement?.id} />
                    <label>Лимит, ₽ <input type="text" name="limit" inputmode="decimal" size={12} value={c.limitSource === 'manager' ? c.limit?.replace('.', ',') ?? '' : ''} placeholder={c.limitSource === 'erp' ? 'как в ERP' : 'не задан'} /></label>
                    <label>Отсрочка, дней <input type="text" name="delay" inputmode="numeric" size={5} value={c.delaySource === 'manager' ? String(c.paymentDelayDays ?? '') : ''} placeholder="как в ERP" /></label>
                    <button type="submit">Сохранить</button>
                  </form>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form method="post" action={`${base}/rule`} hx-post={`${base}/rule`} hx-target="#credit" hx-swap="outerHTML" class="inline-form overdue-rule">
        <ManagerCsrf s={s} />
        <label>Просроченная задолженность:
          <select name="rule">{(Object.keys(RULES) as Array<keyof typeof RULES>).map((k) => <option value={k} selected={rule.kind === k}>{RULES[k]}</option>)}</select>
        </label>
        <label class="grace-days">N = <input type="text" name="graceDays" inputmode="numeric" size={4} value={String(rule.graceDays)} /> дней</label>
        <button type="submit">Сохранить правило</button>
      </form>
      <p class="hint">Лимит и отсрочка, заданные здесь, действуют вместо значений учётной системы; пустое поле возвращает значение учётной системы.
        Заказ с отсрочкой платежа отклоняется, если задолженность + открытые заказы + заказ больше лимита или есть просрочка сверх правила.</p>
    </section>
  );
}

export async function managerCreditRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { db } = deps;

  const render = async (request: FastifyRequest, reply: FastifyReply, clientId: number, flash: Flash, status = 200) => {
    const s = requireManager(request);
    const client = await assertOwnClient(db, actorOf(request), clientId, 'credit.view');
    const list = await clientCreditStatuses(db, client.id);
    const fragment = <CreditFragment s={s} client={client} list={list} flash={flash} />;
    if (isHtmx(request)) return sendFragment(reply, fragment, 200);
    return sendPage(reply, (
      <ManagerLayout s={s} title={`${client.name}: кредитные лимиты`} active="clients">
        <p><a href={`/manager/clients/${client.id}`}>← {client.name}</a></p>
        {fragment}
      </ManagerLayout>
    ), status);
  };

  app.get('/clients/:id/credit', async (request, reply) => render(request, reply, idParam(request), null));

  const change = (fn: (request: FastifyRequest, clientId: number) => Promise<string>) => async (request: FastifyRequest, reply: FastifyReply) => {
    const clientId = idParam(request);
    await assertOwnClient(db, actorOf(request), clientId, 'credit.change');
    try {
      const text = await fn(request, clientId);
      return render(request, reply, clientId, { kind: 'ok', text });
    } catch (e) {
      const ru = russianOf(e);
      if (ru) {
        if (isHtmx(request)) return render(request, reply, clientId, { kind: 'error', text: ru });
        return render(request, reply, clientId, { kind: 'error', text: ru }, 400);
      }
      throw e;
    }
  };

  app.post('/clients/:id/credit/terms', change(async (request, clientId) => {
    const agreementId = Number(field(request.body, 'agreement'));
    if (!Number.isSafeInteger(agreementId) || agreementId <= 0) throw new CabinetError(400, 'Договор не указан.');
    await setCreditTerms(db, actorOf(request), { clientId, agreementId, limit: field(request.body, 'limit'), delayDays: field(request.body, 'delay') });
    return 'Условия договора сохранены.';
  }));

  app.post('/clients/:id/credit/rule', change(async (request, clientId) => {
    await setOverdueRule(db, actorOf(request), { clientId, rule: field(request.body, 'rule'), graceDays: field(request.body, 'graceDays') });
    return 'Правило для просроченной задолженности сохранено.';
  }));
}

