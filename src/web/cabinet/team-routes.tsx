// The head's pages: the holding's employees (role, account, stage of rights, the approval threshold of a
// subordinate's orders, confirm or revoke authority, invite into the cabinet) and the orders waiting
// for approval (approve, or reject with a comment). The services (src/backoffice/team.ts, approvals.ts)
// refuse anyone but a head (403, audited); these pages only render and route.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { VNode } from 'preact';
import type { ServerDeps } from '../../api/deps.ts';
import { decideApproval, waitingApprovals } from '../../backoffice/approvals.ts';
import { inviteMember, listTeam, setApprovalThreshold, setAuthority, type TeamEntity } from '../../backoffice/team.ts';
import { russianOf } from '../../backoffice/rights.ts';
import { enqueueDueOrders } from '../../pipeline/outbound.ts';
import { money, sendPage } from '../render.tsx';
import { CsrfField, Layout } from './layout.tsx';
import { field, requireContact } from './request.ts';
import { publicUrl } from './settings.ts';
import { actorOf } from './balance-routes.tsx';
import type { SignedInContext } from '../../cabinet/context.ts';

const TZ = 'Europe/Moscow';
const day = (d: Date): string => d.toLocaleDateString('ru-RU', { timeZone: TZ });
const dateTime = (d: Date): string => d.toLocaleString('ru-RU', { timeZone: TZ, dateStyle: 'short', timeStyle: 'short' });
type Flash = { kind: 'ok' | 'error'; text: string } | null;

function TeamTable({ ctx, entity }: { ctx: SignedInContext; entity: TeamEntity }): VNode {
  return (
    <section class="card team" data-legal-entity={entity.code}>
      <h2>{entity.name}</h2>
      <table class="team-table">
        <thead><tr><th>Сотрудник</th><th>Роль</th><th>Права</th><th>Согласование заказов</th><th>Кабинет</th></tr></thead>
        <tbody>
          {entity.members.map((m) => (
            <tr data-contact={m.code}>
              <td>{m.name}{m.position && <div><small class="muted">{m.position}</small></div>}{m.email && <div><small class="muted">{m.email}</small></div>}</td>
              <td>{m.role === 'head' ? 'руководитель' : 'сотрудник'}</td>
              <td>
                {m.role === 'head' ? <span>все права</span> : m.confirmedAt ? (
                  <>
                    <span class="stage stage-2">Полномочия подтверждены {day(m.confirmedAt)}</span>
                    <small class="muted"> — видит баланс, акты сверки, может заказывать с отсрочкой</small>
                    <form method="post" action="/cabinet/team/authority" class="inline revoke">
                      <CsrfField ctx={ctx} /><input type="hidden" name="contact" value={m.contactId} /><input type="hidden" name="legalEntity" value={entity.legalEntityId} />
                      <input type="hidden" name="confirmed" value="0" /><button type="submit" class="link">Отозвать</button>
                    </form>
                  </>
                ) : (
                  <>
                    <span class="stage stage-1">Заказы по ценам компании</span>
                    <form method="post" action="/cabinet/team/authority" class="inline">
                      <CsrfField ctx={ctx} /><input type="hidden" name="contact" value={m.contactId} /><input type="hidden" name="legalEntity" value={entity.legalEntityId} />
                      <input type="hidden" name="confirmed" value="1" /><button type="submit">Подтвердить полномочия</button>
                    </form>
                  </>
                )}
              </td>
              <td>
                {m.role === 'head' ? <span class="muted">не нужно</span> : (
                  <form method="post" action="/cabinet/team/threshold" class="inline threshold">
                    <CsrfField ctx={ctx} /><input type="hidden" name="contact" value={m.contactId} /><input type="hidden" name="legalEntity" value={entity.legalEntityId} />
                    <label class="nowrap">Заказы дороже <input type="text" name="amount" inputmode="decimal" size={9} value={m.approvalAbove?.replace('.', ',') ?? ''} placeholder="без порога" aria-label={`Порог согласования для ${m.name}`} /> ₽</label>
                    <button type="submit">Сохранить</button>
                  </form>
                )}
              </td>
              <td>
                {m.account ? <span>есть доступ</span> : (
                  <form method="post" action="/cabinet/team/invite" class="inline">
                    <CsrfField ctx={ctx} /><input type="hidden" name="contact" value={m.contactId} />
                    <input type="email" name="email" value={m.email ?? ''} placeholder="e-mail" required aria-label={`E-mail для приглашения ${m.name}`} />
                    <button type="submit">Пригласить</button>
                  </form>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export async function teamRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { db } = deps;
  const viewerOf = (ctx: SignedInContext) => ({ clientId: ctx.client.id, contactId: ctx.contact.id });

  const teamPage = async (request: FastifyRequest, reply: FastifyReply, flash: Flash, status = 200) => {
    const ctx = requireContact(request);
    const team = await listTeam(db, viewerOf(ctx), actorOf(ctx, request));
    return sendPage(reply, (
      <Layout ctx={ctx} cart={request.cabinetCart} title="Сотрудники" active="team" flash={flash}>
        <h1>Сотрудники</h1>
        <p class="hint">Сотрудник с учётной записью заказывает по ценам компании. Подтвердите его полномочия, чтобы он видел баланс и акты сверки
          и мог заказывать с отсрочкой платежа. Заказы сотрудника дороже порога ждут вашего согласования и не передаются поставщику до него.</p>
        {team.map((e) => <TeamTable ctx={ctx} entity={e} />)}
      </Layout>
    ), status);
  };
  const act = (fn: (ctx: SignedInContext, request: FastifyRequest) => Promise<string>) => async (request: FastifyRequest, reply: FastifyReply) => {
    const ctx = requireContact(request);
    try {
      const text = await fn(ctx, request);
      return reply.redirect(`/cabinet/team?done=${encodeURIComponent(text)}`, 303);
    } catch (e) {
      const ru = russianOf(e);
      // Bad input: the page again with the reason; a refusal of rights goes to the error page (403).
      if (ru && (e as { statusCode: number }).statusCode !== 403) return teamPage(request, reply, { kind: 'error', text: ru }, (e as { statusCode: number }).statusCode);
      throw e;
    }
  };
  const num = (request: FastifyRequest, name: string): number => Number(field(request.body, name)) || 0;

  app.get('/team', async (request, reply) => {
    const done = (request.query as { done?: string }).done;
    return teamPage(request, reply, done ? { kind: 'ok', text: done.slice(0, 300) } : null);
  });
  app.post('/team/authority', act(async (ctx, request) => {
    const confirmed = field(request.body, 'confirmed') === '1';
    await setAuthority(db, viewerOf(ctx), { contactId: num(request, 'contact'), legalEntityId: num(request, 'legalEntity'), confirmed }, actorOf(ctx, request));
    return confirmed ? 'Полномочия подтверждены.' : 'Полномочия отозваны.';
  }));
  app.post('/team/threshold', act(async (ctx, request) => {
    const amount = await setApprovalThreshold(db, viewerOf(ctx), { contactId: num(request, 'contact'), legalEntityId: num(request, 'legalEntity'), amount: field(request.body, 'amount') }, actorOf(ctx, request));
    return amount === null ? 'Согласование заказов сотрудника отключено.' : `Заказы сотрудника дороже ${money(amount)} будут ждать вашего согласования.`;
  }));
  app.post('/team/invite', act(async (ctx, request) => {
    const email = await inviteMember(db, viewerOf(ctx), { contactId: num(request, 'contact'), email: field(request.body, 'email'), publicUrl: publicUrl(deps, request) }, actorOf(ctx, request));
    return `Приглашение отправлено на ${email}.`;
  }));

  const approvalsPage = async (request: FastifyRequest, reply: FastifyReply, flash: Flash, status = 200) => {
    const ctx = requireContact(request);
    const list = await waitingApprovals(db, viewerOf(ctx), actorOf(ctx, request));
    return sendPage(reply, (
      <Layout ctx={ctx} cart={request.cabinetCart} title="Согласование заказов" active="approvals" flash={flash}>
        <h1>Согласование заказов</h1>
        {!list.length ? <p class="empty">Заказов, ожидающих согласования, нет.</p> : (
          <table class="approvals">
            <thead><tr><th>Заказ</th><th>Оформлен</th><th>Сотрудник</th><th>Юрлицо</th><th class="num">Сумма</th><th>Решение</th></tr></thead>
            <tbody>
              {list.map((o) => (
                <tr data-order={o.number}>
                  <td><a href={`/cabinet/orders/${encodeURIComponent(o.number)}`}>{o.number}</a></td>
                  <td>{dateTime(o.createdAt)}</td>
                  <td>{o.contactName ?? '—'}</td>
                  <td>{o.legalEntity}</td>
                  <td class="num"><b>{money(o.total, o.currency)}</b>{o.threshold && <div><small class="muted">порог {money(o.threshold, o.currency)}</small></div>}</td>
                  <td>
                    <form method="post" action={`/cabinet/approvals/${encodeURIComponent(o.number)}`} class="stack decision">
                      <CsrfField ctx={ctx} />
                      <input type="text" name="comment" maxLength={1000} placeholder="Комментарий (для отказа обязателен)" aria-label={`Комментарий к заказу ${o.number}`} />
                      <div class="buttons">
                        <button type="submit" name="decision" value="approve" class="primary">Согласовать</button>
                        <button type="submit" name="decision" value="reject">Отклонить</button>
                      </div>
                    </form>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Layout>
    ), status);
  };
  app.get('/approvals', async (request, reply) => approvalsPage(request, reply, null));
  app.post('/approvals/:number', async (request, reply) => {
    const ctx = requireContact(request);
    const number = (request.params as { number: string }).number;
    const approve = field(request.body, 'decision') === 'approve';
    try {
      await decideApproval(db, viewerOf(ctx), number, { approve, comment: field(request.body, 'comment') }, actorOf(ctx, request));
    } catch (e) {
      const ru = russianOf(e);
      if (ru && (e as { statusCode: number }).statusCode !== 403) return approvalsPage(request, reply, { kind: 'error', text: ru }, (e as { statusCode: number }).statusCode);
      throw e;
    }
    // The approved order goes to outbound flows now rather than at the workers' next sweep.
    if (approve) await enqueueDueOrders(deps, { orderNumber: number }).catch((e: unknown) => request.log.warn({ err: (e as Error).message }, 'approved order not queued; the sweep will'));
    return approvalsPage(request, reply, { kind: 'ok', text: approve ? `Заказ ${number} согласован и передан поставщику.` : `Заказ ${number} отклонён; сотрудник получит ваш комментарий.` });
  });
}
