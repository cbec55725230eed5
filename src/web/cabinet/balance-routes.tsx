// The balance page (stage 2 or a head): per legal entity and agreement the credit limit, the debt, the
// open orders on credit, what is left, the overdue debt with its days, why ordering on credit is blocked,
// the documents owed; and the reconciliation act for a period as a PDF — generated here from the settlements,
// or, when an act flow is on, asked of the ERP (src/backoffice/act-requests.ts) and listed under
// «Запрошенные акты» until 1C's own PDF is there. Who may see what is decided by src/backoffice/rights.ts
// (a refusal is a 403 with its reason, audited).
import type { FastifyInstance } from 'fastify';
import type { VNode } from 'preact';
import type { ServerDeps } from '../../api/deps.ts';
import { CabinetError } from '../../cabinet/errors.ts';
import { creditStatus, receivablesOf, type CreditStatus, type ReceivableView } from '../../backoffice/credit.ts';
import { assertSettlements, loadRights, maySeeSettlements, settlementEntities } from '../../backoffice/rights.ts';
import { actRequestById, actRequestsOf, actsEnabled, ActsUnavailable, placeActRequest, type ActRequestView } from '../../backoffice/act-requests.ts';
import { parseDay, reconciliationAct, reconciliationPdf } from '../../backoffice/reconciliation.ts';
import { contentDisposition, openStoredFile } from '../../backoffice/files.ts';
import { audit } from '../../backoffice/audit.ts';
import { money, plural, sendFragment, sendPage } from '../render.tsx';
import { Layout } from './layout.tsx';
import { cabinetActor, field, isHtmx, requireContact } from './request.ts';
import type { SignedInContext } from '../../cabinet/context.ts';
import type { FastifyRequest } from 'fastify';

const ru = (iso: string | null): string => (iso ? iso.split('-').reverse().join('.') : '—');

export const actorOf = (ctx: SignedInContext, request: FastifyRequest) => cabinetActor(ctx, request);

function CreditCard({ name, st }: { name: string; st: CreditStatus }): VNode {
  const cur = st.currency;
  return (
    <section class="card credit-card" data-legal-entity={name}>
      <h2>{name}</h2>
      {st.agreement ? <p class="muted">Договор: {st.agreement.name}</p> : <p class="muted">Договора нет</p>}
      <dl class="requisites credit-figures">
        <dt>Кредитный лимит</dt>
        <dd>{st.limit === null ? 'не установлен' : money(st.limit, cur)}{st.limitSource === 'manager' && <small class="muted"> · установлен менеджером</small>}</dd>
        {st.paymentDelayDays !== null && <><dt>Отсрочка платежа</dt><dd>{st.paymentDelayDays} {plural(st.paymentDelayDays, 'день', 'дня', 'дней')}</dd></>}
        <dt>Задолженность</dt><dd>{money(st.debt, cur)}</dd>
        <dt>Неоплаченные заказы с отсрочкой</dt><dd>{money(st.openOrders, cur)}</dd>
        <dt>Использовано</dt><dd>{money(st.used, cur)}{st.usedPercent !== null && <small class="muted"> · {st.usedPercent} %</small>}</dd>
        {st.limit !== null && <><dt>Доступно</dt><dd class={st.available?.startsWith('-') ? 'neg' : 'pos'}><b>{money(st.available, cur)}</b></dd></>}
        <dt>Просрочено</dt>
        <dd class={st.overdue.documents ? 'neg' : undefined}>{st.overdue.documents ? <>{money(st.overdue.amount, cur)}, до {st.overdue.maxDays} {plural(st.overdue.maxDays, 'дня', 'дней', 'дней')}</> : 'нет'}</dd>
      </dl>
      {st.limit !== null && st.usedPercent !== null && (
        <div class="meter" role="img" aria-label={`Использовано ${st.usedPercent} % лимита`}><span style={`width:${Math.min(100, Math.max(0, st.usedPercent))}%`} class={st.usedPercent >= 90 ? 'hot' : undefined}></span></div>
      )}
      {st.blocked
        ? <p class="notice notice-warn credit-reason">{st.reason}</p>
        : <p class="notice notice-ok credit-reason">Заказы с отсрочкой платежа доступны на сумму до {money(st.available, cur)}.</p>}
    </section>
  );
}

function Documents({ docs }: { docs: ReceivableView[] }): VNode {
  if (!docs.length) return <p class="empty">Неоплаченных документов нет.</p>;
  return (
    <table class="receivables">
      <thead><tr><th>Юрлицо</th><th>Документ</th><th>Дата</th><th class="num">Сумма</th><th class="num">К оплате</th><th>Оплатить до</th><th>Просрочка</th></tr></thead>
      <tbody>
        {docs.map((d) => (
          <tr class={d.overdueDays > 0 ? 'overdue' : undefined}>
            <td>{d.legalEntity.name}</td>
            <td>{d.kind ?? 'Документ'}{d.number ? ` № ${d.number}` : ''}{d.agreement && <div><small class="muted">{d.agreement.name}</small></div>}</td>
            <td>{ru(d.date)}</td>
            <td class="num">{d.amount ? money(d.amount, d.currency) : '—'}</td>
            <td class="num"><b>{money(d.owed, d.currency)}</b></td>
            <td>{ru(d.dueDate)}</td>
            <td>{d.overdueDays > 0 ? <span class="neg">{d.overdueDays} {plural(d.overdueDays, 'день', 'дня', 'дней')}</span> : '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const STATE_TEXT: Record<ActRequestView['state'], string> = { pending: 'Запрошен — 1С готовит акт', done: 'Готов', failed: 'Не получен' };
const REQUEST_ID = /^[1-9][0-9]{0,14}$/;

/**
 * The acts asked of 1C, newest first. While one is being prepared the list asks for itself again every
 * few seconds (htmx), so «Готов» appears without a reload; once none is pending it stops.
 */
function ActRequests({ list }: { list: ActRequestView[] }): VNode {
  const pending = list.some((r) => r.state === 'pending');
  return (
    <div id="act-requests" {...(pending ? { 'hx-get': '/cabinet/balance/act-requests', 'hx-trigger': 'every 2s', 'hx-swap': 'outerHTML' } : {})}>
      <h3>Запрошенные акты</h3>
      {!list.length ? <p class="muted">Вы ещё не запрашивали акты из 1С.</p> : (
        <table class="act-requests">
          <thead><tr><th>Юрлицо</th><th>Период</th><th>Запрошен</th><th>Состояние</th></tr></thead>
          <tbody>
            {list.map((r) => (
              <tr data-request={r.id} data-state={r.state}>
                <td>{r.legalEntityName}{r.agreementName && <div><small class="muted">{r.agreementName}</small></div>}</td>
                <td>{ru(r.from)} – {ru(r.to)}</td>
                <td>{r.createdAt.toLocaleString('ru-RU', { timeZone: 'Europe/Moscow', dateStyle: 'short', timeStyle: 'short' })}</td>
                <td class="act-state">
                  {r.state === 'failed'
                    // The reason is the message here: one line of error text reads better than a badge and a colon after it.
                    ? <span class="act-failed">{STATE_TEXT.failed}: {r.reason ?? '1С не выдала акт.'}</span>
                    : <span class={`doc-status act-status-${r.state}`}>{STATE_TEXT[r.state]}</span>}
                  {r.state === 'done' && <> <a href={`/cabinet/balance/act-requests/${r.id}/pdf`} download>Скачать акт{r.number ? ` № ${r.number}` : ''} (PDF)</a></>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export async function balanceRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { db } = deps;

  app.get('/balance', async (request, reply) => {
    const ctx = requireContact(request);
    const viewer = { clientId: ctx.client.id, contactId: ctx.contact.id };
    const rights = await loadRights(db, viewer);
    const entities = settlementEntities(rights);
    // Nothing to show: refused with the reason and audited (a subordinate without confirmed authority).
    if (!entities.length) await assertSettlements(db, viewer, ctx.legalEntity?.id ?? 0, actorOf(ctx, request));
    const cards = await Promise.all(entities.map(async (e) => ({ e, st: await creditStatus(db, { clientId: ctx.client.id, legalEntityId: e.legalEntityId }) })));
    const docs = await receivablesOf(db, entities.map((e) => e.legalEntityId));
    const today = new Date().toISOString().slice(0, 10);
    const yearStart = `${today.slice(0, 4)}-01-01`;
    const chosen = entities.find((e) => e.legalEntityId === ctx.legalEntity?.id) ?? entities[0]!;
    const agreements = cards.flatMap(({ st }) => (st.agreement ? [st.agreement] : [])).filter((a, i, all) => all.findIndex((x) => x.id === a.id) === i);
    // Asking 1C is offered while an act flow is on; the requests already made stay listed either way.
    const erpActs = await actsEnabled(db);
    const requests = await actRequestsOf(db, entities.map((e) => e.legalEntityId));
    return sendPage(reply, (
      <Layout ctx={ctx} cart={request.cabinetCart} title="Баланс и взаиморасчёты" active="balance">
        <h1>Баланс и взаиморасчёты</h1>
        <p class="hint">Данные учётной системы поставщика: задолженность и сроки оплаты обновляются, когда она присылает изменения.</p>
        <div class="cards">{cards.map(({ e, st }) => <CreditCard name={e.name} st={st} />)}</div>
        <h2>Неоплаченные документы</h2>
        <Documents docs={docs} />
        <section class="card act-form">
          <h2>Акт сверки</h2>
          <form method="get" action="/cabinet/balance/act" class="orders-filters">
            {entities.length > 1 ? (
              <label>Юрлицо
                <select name="legalEntity">{entities.map((e) => <option value={e.code} selected={e.legalEntityId === chosen.legalEntityId}>{e.name}</option>)}</select>
              </label>
            ) : <input type="hidden" name="legalEntity" value={chosen.code} />}
            {agreements.length > 1 && (
              <label>Договор
                <select name="agreement"><option value="">все договоры</option>{agreements.map((a) => <option value={a.code}>{a.name}</option>)}</select>
              </label>
            )}
            <label>С <input type="date" name="from" value={yearStart} required /></label>
            <label>По <input type="date" name="to" value={today} required /></label>
            <button type="submit" class="primary">Скачать акт сверки (PDF)</button>
            {erpActs && (
              // The same fields posted (CSRF in the query, as a plain form has no header): 1C builds its own act.
              <button type="submit" formmethod="post" formaction={`/cabinet/balance/act-requests?_csrf=${encodeURIComponent(ctx.session.csrf)}`}>Запросить акт из 1С</button>
            )}
          </form>
          {erpActs && <p class="hint">«Скачать» формирует акт порталом по данным взаиморасчётов сразу; «Запросить акт из 1С» — акт, который сформирует учётная система поставщика, обычно за несколько минут.</p>}
          {(erpActs || requests.length > 0) && <ActRequests list={requests} />}
        </section>
      </Layout>
    ));
  });

  app.get('/balance/act', async (request, reply) => {
    const ctx = requireContact(request);
    const { le, from, to, agreementId } = await actQuery(ctx, request, request.query as Record<string, string | undefined>, 'reconciliation.download');
    const act = await reconciliationAct(db, { legalEntityId: le.legalEntityId, agreementId, from, to });
    const pdf = await reconciliationPdf(act);
    await audit(db, actorOf(ctx, request), { action: 'reconciliation.download', clientId: ctx.client.id, details: { legalEntityId: le.legalEntityId, from, to } });
    return reply.header('content-type', 'application/pdf').header('cache-control', 'no-store')
      .header('content-disposition', contentDisposition(`Акт сверки ${le.name} ${ru(from)}–${ru(to)}.pdf`)).send(pdf);
  });

  /** The legal entity, agreement and period of an act form (GET query or POST body), checked; the viewer's rights too. */
  async function actQuery(ctx: SignedInContext, request: FastifyRequest, q: Record<string, string | undefined>, action: string) {
    const viewer = { clientId: ctx.client.id, contactId: ctx.contact.id };
    const rights = await loadRights(db, viewer);
    const code = q.legalEntity || ctx.legalEntity?.code;
    const le = rights.entities.find((e) => e.code === code);
    if (!le) throw new CabinetError(404, 'Юридическое лицо не найдено среди ваших.');
    await assertSettlements(db, viewer, le.legalEntityId, actorOf(ctx, request), action);
    const from = parseDay(q.from);
    const to = parseDay(q.to);
    if (!from || !to) throw new CabinetError(400, 'Укажите период акта сверки: даты «с» и «по».');
    if (from > to) throw new CabinetError(400, 'Дата начала периода позже даты конца: поменяйте их местами.');
    // Optionally one agreement of the legal entity (its own, or the client-wide one).
    let agreementId: number | null = null;
    if (q.agreement) {
      const ag = await db.selectFrom('agreements').select('id').where('code', '=', q.agreement).where('client_id', '=', ctx.client.id)
        .where('deleted', '=', false).where((eb) => eb.or([eb('legal_entity_id', 'is', null), eb('legal_entity_id', '=', le.legalEntityId)])).executeTakeFirst();
      if (!ag) throw new CabinetError(404, `Договор «${q.agreement}» не найден у юрлица «${le.name}».`);
      agreementId = Number(ag.id);
    }
    return { le, from, to, agreementId };
  }

  // The act asked of 1C: the same rights as the generated act (stage 2 in the legal entity), audited as the
  // contact or — while a manager works as the client — as the manager, who is recorded on the request too.
  app.post('/balance/act-requests', async (request, reply) => {
    const ctx = requireContact(request);
    const body = request.body as Record<string, unknown> | undefined;
    const q = { legalEntity: field(body, 'legalEntity'), agreement: field(body, 'agreement'), from: field(body, 'from'), to: field(body, 'to') };
    const { le, from, to, agreementId } = await actQuery(ctx, request, q, 'reconciliation.request');
    let placed;
    try {
      placed = await placeActRequest(deps, {
        legalEntityId: le.legalEntityId, agreementId, from, to, contactId: ctx.contact.id, managerId: ctx.impersonation?.managerId ?? null,
      });
    } catch (e) {
      if (e instanceof ActsUnavailable) throw new CabinetError(409, e.russian);
      throw e;
    }
    await audit(db, actorOf(ctx, request), {
      action: 'reconciliation.request', clientId: ctx.client.id,
      details: { legalEntityId: le.legalEntityId, agreementId, from, to, requestId: placed.request.id, created: placed.created },
    });
    if (isHtmx(request)) {
      const rights = await loadRights(db, { clientId: ctx.client.id, contactId: ctx.contact.id });
      return sendFragment(reply, <ActRequests list={await actRequestsOf(db, settlementEntities(rights).map((e) => e.legalEntityId))} />);
    }
    return reply.redirect('/cabinet/balance#act-requests', 303);
  });

  // The list alone, for the page's polling while an act is being prepared.
  app.get('/balance/act-requests', async (request, reply) => {
    const ctx = requireContact(request);
    const rights = await loadRights(db, { clientId: ctx.client.id, contactId: ctx.contact.id });
    return sendFragment(reply.header('cache-control', 'no-store'), <ActRequests list={await actRequestsOf(db, settlementEntities(rights).map((e) => e.legalEntityId))} />);
  });

  // 1C's PDF, only through a request of a legal entity the viewer may see the settlements of: an id of
  // another client's request is as unknown as a forged one (404); one of the viewer's client without
  // stage 2 there is refused (403, audited).
  app.get('/balance/act-requests/:id/pdf', async (request, reply) => {
    const ctx = requireContact(request);
    const raw = (request.params as { id: string }).id;
    const r = REQUEST_ID.test(raw) ? await actRequestById(db, Number(raw)) : undefined;
    if (!r || r.clientId !== ctx.client.id) throw new CabinetError(404, 'Акт не найден.');
    const viewer = { clientId: ctx.client.id, contactId: ctx.contact.id };
    if (!maySeeSettlements(await loadRights(db, viewer), r.legalEntityId)) await assertSettlements(db, viewer, r.legalEntityId, actorOf(ctx, request), 'reconciliation.download');
    const opened = r.state === 'done' && r.sha256 ? await openStoredFile(db, deps.config.MAGISTRAL_DATA_DIR, r.sha256) : undefined;
    if (!opened) throw new CabinetError(404, r.state === 'pending' ? '1С ещё готовит акт.' : 'Акт не найден.');
    await audit(db, actorOf(ctx, request), { action: 'reconciliation.download', clientId: ctx.client.id, details: { legalEntityId: r.legalEntityId, from: r.from, to: r.to, requestId: r.id, source: 'erp' } });
    return reply.header('content-type', 'application/pdf').header('content-length', String(opened.file.sizeBytes)).header('x-content-type-options', 'nosniff')
      .header('cache-control', 'private, no-store').header('content-disposition', contentDisposition(`Акт сверки ${r.legalEntityName} ${ru(r.from)}–${ru(r.to)} (1С).pdf`))
      .send(opened.stream);
  });
}
