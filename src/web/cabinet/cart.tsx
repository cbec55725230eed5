// The cart pages: adding from any page (the catalog's rows post here and get the context bar's total
// back), the cart of the chosen legal entity with live totals (htmx swaps the cart block on every
// quantity change), saved carts, and the checkout form. Prices come from src/cabinet (computed in SQL);
// this file only renders and reads forms.
import { randomBytes } from 'node:crypto';
import { cloneElement, type VNode } from 'preact';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerDeps } from '../../api/deps.ts';
import { summaryOf } from '../../cabinet/cart-summary.ts';
import { addToCart, cartSummary, cartView, clearCart, removeFromCart, setCartQuantity, type AddResult, type CartView, type Shopper } from '../../cabinet/cart.ts';
import { checkout, PAYMENT_KINDS } from '../../cabinet/checkout.ts';
import { CREDIT_PAYMENT_KIND, creditStatus } from '../../backoffice/credit.ts';
import { loadRights, maySeeSettlements } from '../../backoffice/rights.ts';
import type { SignedInContext } from '../../cabinet/context.ts';
import { CabinetError, ShopError, type FieldProblem } from '../../cabinet/errors.ts';
import { lineProblem } from '../../cabinet/priced-lines.ts';
import {
  addSavedCartToCart, deleteSavedCart, listSavedCarts, renameSavedCart, replaceSavedCart, saveCart, savedCartView, shareSavedCart, type SavedCartSummary,
} from '../../cabinet/saved-carts.ts';
import { money, plural, qty, sendFragment, sendPage, unitName } from '../render.tsx';
import { CartTotal, CsrfField, Flash, Layout } from './layout.tsx';
import { cabinetActor, field, fields, isHtmx, requireContact, requireOrdering } from './request.ts';

type Kind = 'ok' | 'error' | 'info';

/** The shopper of a signed-in request: the contact for the chosen legal entity (none chosen: 403 with the reason). */
export function shopperOf(ctx: SignedInContext): Shopper {
  if (!ctx.legalEntity) throw new CabinetError(403, 'У вашей учётной записи нет юрлица, от имени которого можно заказывать. Обратитесь к менеджеру.');
  return {
    contactId: ctx.contact.id, clientId: ctx.client.id, legalEntityId: ctx.legalEntity.id, cityId: ctx.city?.id ?? null, pricing: ctx.pricing,
    impersonation: ctx.impersonation ? { managerId: ctx.impersonation.managerId, impersonationId: ctx.impersonation.id } : null,
  };
}

const idOf = (raw: unknown): number => {
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw new CabinetError(404, 'Не найдено');
  return n;
};

/** What an add did, for a message: "Добавлено 3 позиции" and every refused line. */
function addMessage(r: AddResult): { kind: Kind; text: string } {
  const parts: string[] = [];
  if (r.added.length) parts.push(`В корзину ${plural(r.added.length, 'добавлена', 'добавлены', 'добавлено')} ${r.added.length} ${plural(r.added.length, 'позиция', 'позиции', 'позиций')}.`);
  if (r.problems.length) parts.push(`Не ${r.problems.length === 1 ? 'добавлена' : 'добавлены'}: ${r.problems.map((p) => p.message).join('; ')}.`);
  return { kind: r.problems.length ? (r.added.length ? 'info' : 'error') : 'ok', text: parts.join(' ') };
}

/** The context bar's total, swapped out of band by responses that change the cart. */
const CartTotalOob = ({ summary }: { summary: Awaited<ReturnType<typeof cartSummary>> }): VNode => cloneElement(CartTotal({ summary }), { 'hx-swap-oob': 'true' });

function Problems({ problems }: { problems: FieldProblem[] }): VNode | null {
  if (!problems.length) return null;
  return <ul class="problems">{problems.map((p) => <li>{p.message}</li>)}</ul>;
}

/** The cart block (#cart): lines with quantity inputs, totals; swapped whole on every change. */
function CartBlock({ view, flash }: { view: CartView; flash?: { kind: Kind; text: string } | null }): VNode {
  if (!view.lines.length) {
    return (
      <section id="cart" class="cart-block">
        {flash && <div class={`flash flash-${flash.kind}`}>{flash.text}</div>}
        <p class="empty">Корзина пуста. Добавьте товары из <a href="/cabinet/catalog">каталога</a>, <a href="/cabinet/quick-order">из файла</a> или из сохранённой корзины ниже.</p>
      </section>
    );
  }
  return (
    <section id="cart" class="cart-block">
      {flash && <div class={`flash flash-${flash.kind}`} role={flash.kind === 'error' ? 'alert' : 'status'}>{flash.text}</div>}
      <table class="cart-table">
        <thead>
          <tr><th>Товар</th><th class="num">Цена</th><th class="num">Количество</th><th class="num">Сумма</th><th class="num">В наличии</th><th></th></tr>
        </thead>
        <tbody>
          {view.lines.map((l) => {
            const problem = lineProblem(l);
            return (
              <tr class={problem ? 'line-bad' : undefined} data-sku={l.sku}>
                <td>
                  <div class="line-name">{l.name}</div>
                  <small class="muted">Код {l.sku}{l.article ? ` · арт. ${l.article}` : ''}</small>
                  {problem && <div class="line-problem">{problem}</div>}
                </td>
                <td class="num">{l.price ? money(l.price, l.currency ?? view.currency) : '—'}</td>
                <td class="num qty-cell">
                  <input class="qty-input" type="text" inputmode="decimal" name="quantity" value={qty(l.quantity)} aria-label={`Количество: ${l.name}`}
                    hx-post={`/cabinet/cart/lines/${l.productId}`} hx-trigger="change" hx-target="#cart" hx-swap="outerHTML" hx-include="#payment-kind" />
                  <span class="unit">{unitName(l.unit)}</span>
                </td>
                <td class="num line-amount">{l.amount ? money(l.amount, view.currency) : '—'}</td>
                <td class="num">{l.stock === null ? '—' : `${qty(l.stock)} ${unitName(l.unit)}`}</td>
                <td>
                  <button type="button" class="link" hx-post={`/cabinet/cart/lines/${l.productId}/remove`} hx-target="#cart" hx-swap="outerHTML" hx-include="#payment-kind" title="Убрать из корзины">Удалить</button>
                </td>
              </tr>
            );
          })}
        </tbody>
        <tfoot>
          <tr class="cart-total-row">
            <td colSpan={3}>Итого, {view.lines.length} {plural(view.lines.length, 'позиция', 'позиции', 'позиций')}</td>
            <td class="num" id="cart-sum"><b>{money(view.total, view.currency)}</b></td>
            <td colSpan={2}></td>
          </tr>
        </tfoot>
      </table>
      {!view.orderable && <p class="notice notice-warn">В корзине есть строки с ошибками (выделены) — исправьте или удалите их, чтобы оформить заказ.</p>}
      <div class="cart-actions">
        <button type="button" class="danger" hx-post="/cabinet/cart/clear" hx-target="#cart" hx-swap="outerHTML" hx-confirm="Очистить корзину?">Очистить корзину</button>
      </div>
    </section>
  );
}

function SavedCarts({ ctx, list }: { ctx: SignedInContext; list: SavedCartSummary[] }): VNode {
  return (
    <section class="card saved-carts" id="saved-carts">
      <h2>Сохранённые корзины <small class="muted">{ctx.legalEntity?.name}</small></h2>
      {!list.length ? <p class="muted">Пока нет сохранённых корзин. Сохраните текущую корзину, чтобы повторять такие заказы в один клик.</p> : (
        <table class="saved-table">
          <thead><tr><th>Название</th><th>Автор</th><th class="num">Позиций</th><th>Изменена</th><th>Действия</th></tr></thead>
          <tbody>
            {list.map((s) => (
              <tr data-saved-cart={s.name}>
                <td>
                  <a href={`/cabinet/saved-carts/${s.id}`}><b>{s.name}</b></a> {s.shared && <span class="badge">общая</span>}
                </td>
                <td>{s.own ? 'вы' : s.ownerName ?? '—'}</td>
                <td class="num">{s.lineCount}</td>
                <td>{s.updatedAt.toLocaleDateString('ru-RU', { timeZone: 'Europe/Moscow' })}</td>
                <td class="saved-actions">
                  <form method="post" action={`/cabinet/saved-carts/${s.id}/add`}><CsrfField ctx={ctx} /><button type="submit" class="primary">Добавить в корзину</button></form>
                  {s.own && (
                    <details class="saved-manage">
                      <summary>Изменить</summary>
                      <form method="post" action={`/cabinet/saved-carts/${s.id}/rename`} class="inline">
                        <CsrfField ctx={ctx} />
                        <input type="text" name="name" value={s.name} maxLength={100} aria-label="Новое название" required />
                        <button type="submit">Переименовать</button>
                      </form>
                      <form method="post" action={`/cabinet/saved-carts/${s.id}/share`} class="inline">
                        <CsrfField ctx={ctx} /><input type="hidden" name="shared" value={s.shared ? '0' : '1'} />
                        <button type="submit">{s.shared ? 'Сделать личной' : 'Открыть сотрудникам юрлица'}</button>
                      </form>
                      <form method="post" action={`/cabinet/saved-carts/${s.id}/replace`} class="inline">
                        <CsrfField ctx={ctx} /><button type="submit">Заменить текущей корзиной</button>
                      </form>
                      <form method="post" action={`/cabinet/saved-carts/${s.id}/delete`} class="inline" data-confirm="Удалить сохранённую корзину?">
                        <CsrfField ctx={ctx} /><button type="submit" class="danger">Удалить</button>
                      </form>
                    </details>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

interface CheckoutValues {
  delivery: string;
  address: string;
  paymentKind: string;
  comment: string;
}

/** The checkout button with the cart's total; swapped out of band when the cart block changes. */
function CheckoutButton({ view, oob }: { view: CartView; oob?: boolean }): VNode {
  return (
    <button type="submit" id="checkout-submit" class="primary" disabled={!view.orderable} {...(oob ? { 'hx-swap-oob': 'true' } : {})}>
      {view.orderable ? `Оформить заказ на ${money(view.total, view.currency)}` : view.lines.length ? 'Исправьте корзину, чтобы оформить заказ' : 'Корзина пуста'}
    </button>
  );
}

/** Whether this cart may be ordered on credit now, and why not (shown before the buyer presses the button). */
interface CreditOffer {
  blocked: boolean;
  reason: string | null;
  available: string | null;
  currency: string;
}

async function creditOffer(db: ServerDeps['db'], ctx: SignedInContext, view: CartView): Promise<CreditOffer | null> {
  if (!ctx.legalEntity || !view.lines.length) return null;
  const rights = await loadRights(db, { clientId: ctx.client.id, contactId: ctx.contact.id });
  if (!maySeeSettlements(rights, ctx.legalEntity.id)) {
    return { blocked: true, currency: view.currency ?? 'RUB', available: null,
      reason: 'Оплата с отсрочкой доступна руководителю и сотрудникам, чьи полномочия подтвердил руководитель.' };
  }
  const st = await creditStatus(db, { clientId: ctx.client.id, legalEntityId: ctx.legalEntity.id, orderTotal: view.total ?? '0' });
  return { blocked: st.blocked, reason: st.reason, available: st.available, currency: st.currency };
}

/**
 * The payment choice with what ordering on credit allows now. Swapped out of band when the cart block
 * changes (a quantity changed in place moves the total past the limit or back under it); the cart's forms
 * send the current choice along (hx-include), so it survives a change that keeps it possible.
 */
function PaymentBlock({ credit, selected, error, oob }: { credit: CreditOffer | null; selected: string; error?: string; oob?: boolean }): VNode {
  return (
    <div id="payment" class="stack" {...(oob ? { 'hx-swap-oob': 'true' } : {})}>
      <label>Оплата
        <select name="paymentKind" id="payment-kind" aria-invalid={error ? 'true' : undefined}>
          {PAYMENT_KINDS.map((k) => {
            const off = k === CREDIT_PAYMENT_KIND && credit?.blocked === true;
            return <option value={k} selected={selected === k && !off} disabled={off}>{off ? `${k} — недоступна` : k}</option>;
          })}
        </select>
      </label>
      {error && <div class="field-error">{error}</div>}
      {credit && (credit.blocked
        ? <p class="notice notice-warn credit-block" id="credit-block"><b>Оплата с отсрочкой недоступна.</b> {credit.reason}</p>
        : <p class="hint" id="credit-block">С отсрочкой платежа можно заказать на сумму до {money(credit.available, credit.currency)}.</p>)}
    </div>
  );
}

function CheckoutForm({ ctx, view, values, problems, credit }: { ctx: SignedInContext; view: CartView; values: CheckoutValues; problems: FieldProblem[]; credit: CreditOffer | null }): VNode {
  const le = ctx.legalEntity!;
  const err = (f: string) => problems.find((p) => p.field === f)?.message;
  if (!ctx.canOrder) return <section class="card checkout"><h2>Оформление заказа</h2><p class="notice notice-warn">{ctx.whyNoOrder ?? 'Оформление заказов недоступно.'}</p></section>;
  return (
    <section class="card checkout" id="checkout">
      <h2>Оформление заказа</h2>
      <form method="post" action="/cabinet/checkout" class="stack checkout-form" id="checkout-form">
        <CsrfField ctx={ctx} />
        <input type="hidden" name="idempotencyKey" value={randomBytes(16).toString('hex')} />
        <p>Покупатель: <b>{le.name}</b>{le.inn ? `, ИНН ${le.inn}` : ''}</p>
        <fieldset>
          <legend>Доставка</legend>
          <label class="radio"><input type="radio" name="delivery" value="entity" checked={values.delivery !== 'other'} disabled={!le.address} />
            {' '}По адресу юрлица: {le.address ?? <span class="muted">адрес не указан</span>}</label>
          <label class="radio"><input type="radio" name="delivery" value="other" checked={values.delivery === 'other' || !le.address} /> Другой адрес:</label>
          <textarea name="address" rows={2} maxLength={500} placeholder="Город, улица, дом, склад / подъезд" aria-invalid={err('address') ? 'true' : undefined}>{values.address}</textarea>
          {err('address') && <div class="field-error">{err('address')}</div>}
        </fieldset>
        <PaymentBlock credit={credit} selected={values.paymentKind} error={err('paymentKind')} />
        <label>Комментарий к заказу
          <textarea name="comment" rows={3} maxLength={2000} placeholder="Например: доставка до 12:00, позвонить за час">{values.comment}</textarea>
        </label>
        <CheckoutButton view={view} />
      </form>
    </section>
  );
}

async function cartPage(request: FastifyRequest, reply: FastifyReply, deps: ServerDeps, opts: {
  flash?: { kind: Kind; text: string } | null; values?: CheckoutValues; problems?: FieldProblem[]; status?: number;
} = {}): Promise<FastifyReply> {
  const ctx = requireContact(request);
  const who = shopperOf(ctx);
  const [view, saved] = await Promise.all([cartView(deps.db, who), listSavedCarts(deps.db, who)]);
  const summary = summaryOf(view);
  const credit = ctx.canOrder ? await creditOffer(deps.db, ctx, view) : null;
  const values = opts.values ?? { delivery: ctx.legalEntity?.address ? 'entity' : 'other', address: '', paymentKind: PAYMENT_KINDS[0], comment: '' };
  return sendPage(reply, (
    <Layout ctx={ctx} cart={summary} title="Корзина" active="cart" flash={opts.flash ?? null}>
      <h1>Корзина <small class="muted">{ctx.legalEntity?.name}</small></h1>
      {!ctx.canOrder && <p class="notice notice-warn">{ctx.whyNoOrder ?? 'Оформление заказов недоступно.'}</p>}
      {opts.problems && opts.problems.filter((p) => !['address', 'paymentKind', 'comment'].includes(p.field)).length > 0 &&
        <Problems problems={opts.problems.filter((p) => !['address', 'paymentKind', 'comment'].includes(p.field))} />}
      {ctx.canOrder && (
        <form method="post" action="/cabinet/cart/add" class="quick-add">
          <CsrfField ctx={ctx} />
          <label>Код товара <input type="text" name="sku" required placeholder="SKU-00001" /></label>
          <label>Количество <input type="text" name="quantity" inputmode="decimal" required size={6} /></label>
          <button type="submit">Добавить в корзину</button>
        </form>
      )}
      <CartBlock view={view} />
      <div class="cart-columns">
        {view.lines.length > 0 && <CheckoutForm ctx={ctx} view={view} values={values} problems={opts.problems ?? []} credit={credit} />}
        <div>
          {view.lines.length > 0 && (
            <section class="card save-cart">
              <h2>Сохранить корзину</h2>
              <form method="post" action="/cabinet/cart/save" class="stack">
                <CsrfField ctx={ctx} />
                <label>Название <input type="text" name="name" maxLength={100} required placeholder="Например: объект на Лесной" /></label>
                <label class="check"><input type="checkbox" name="shared" value="1" /> видна другим сотрудникам юрлица</label>
                <button type="submit">Сохранить</button>
              </form>
            </section>
          )}
          <SavedCarts ctx={ctx} list={saved} />
        </div>
      </div>
    </Layout>
  ), opts.status ?? 200);
}

/** Flash text from the query of a redirect after an action (`?saved=1`, `?added=3&skipped=P1,P2`). */
function flashFromQuery(q: Record<string, string | undefined>): { kind: Kind; text: string } | null {
  if (q.placed) return null;
  if (q.saved) return { kind: 'ok', text: 'Корзина сохранена.' };
  if (q.updated) return { kind: 'ok', text: 'Сохранённая корзина изменена.' };
  if (q.deleted) return { kind: 'ok', text: 'Сохранённая корзина удалена.' };
  if (q.added !== undefined || q.skipped !== undefined) {
    const n = Number(q.added ?? 0);
    const skipped = (q.skipped ?? '').split('\n').filter(Boolean).slice(0, 50);
    const text = `${n ? `В корзину ${plural(n, 'добавлена', 'добавлены', 'добавлено')} ${n} ${plural(n, 'позиция', 'позиции', 'позиций')}.` : 'Ничего не добавлено.'}`
      + (skipped.length ? ` Не добавлены: ${skipped.join('; ')}.` : '');
    return { kind: skipped.length ? (n ? 'info' : 'error') : 'ok', text };
  }
  return null;
}

const redirectAfterAdd = (reply: FastifyReply, r: AddResult): FastifyReply =>
  reply.redirect(`/cabinet/cart?${new URLSearchParams({ added: String(r.added.length), skipped: r.problems.map((p) => p.message).join('\n') })}`, 303);

export async function cartRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { db } = deps;

  app.get('/cart', async (request, reply) => cartPage(request, reply, deps, { flash: flashFromQuery(request.query as Record<string, string | undefined>) }));

  // From the catalog (one row or the table's many: sku and quantity repeated), quick order and search.
  app.post('/cart/add', async (request, reply) => {
    const ctx = requireOrdering(request);
    const who = shopperOf(ctx);
    const skus = fields(request.body, 'sku');
    const quantities = fields(request.body, 'quantity');
    if (!skus.length) throw new CabinetError(400, 'Не выбран товар');
    let r: AddResult;
    try {
      r = await addToCart(db, who, skus.map((sku, i) => ({ sku, quantity: quantities[i] ?? '' })));
    } catch (e) {
      if (e instanceof ShopError && e.status === 400) r = { added: [], problems: e.problems.length ? e.problems.map((p) => ({ ...p, message: e.message })) : [{ field: 'quantity', message: e.message }] };
      else throw e;
    }
    const m = addMessage(r);
    if (!isHtmx(request)) return redirectAfterAdd(reply, r);
    const summary = await cartSummary(db, who);
    return sendFragment(reply, <><CartTotal summary={summary} /><Flash kind={m.kind} oob>{m.text}</Flash></>);
  });

  /** The cart block after a change, with the context bar's total out of band; a refusal shows in the block. */
  const block = async (request: FastifyRequest, reply: FastifyReply, change: (who: Shopper) => Promise<unknown>, okText?: string) => {
    const ctx = requireContact(request);
    const who = shopperOf(ctx);
    let flash: { kind: Kind; text: string } | null = okText ? { kind: 'ok', text: okText } : null;
    try {
      await change(who);
    } catch (e) {
      if (!(e instanceof ShopError)) throw e;
      flash = { kind: 'error', text: e.message };
    }
    if (!isHtmx(request)) return reply.redirect('/cabinet/cart', 303);
    const view = await cartView(db, who);
    const summary = summaryOf(view);
    // The context bar's total, the checkout button and what credit allows change with the block (out of band).
    const payment = ctx.canOrder && view.lines.length > 0
      ? <PaymentBlock credit={await creditOffer(db, ctx, view)} selected={field(request.body, 'paymentKind') ?? PAYMENT_KINDS[0]} oob />
      : null;
    return sendFragment(reply, <><CartBlock view={view} flash={flash} /><CartTotalOob summary={summary} /><CheckoutButton view={view} oob />{payment}</>);
  };

  app.post('/cart/lines/:productId', async (request, reply) =>
    block(request, reply, (who) => setCartQuantity(db, who, idOf((request.params as { productId: string }).productId), field(request.body, 'quantity'))));
  app.post('/cart/lines/:productId/remove', async (request, reply) =>
    block(request, reply, (who) => removeFromCart(db, who, idOf((request.params as { productId: string }).productId)), 'Товар убран из корзины.'));
  app.post('/cart/clear', async (request, reply) => block(request, reply, (who) => clearCart(db, who), 'Корзина очищена.'));

  app.post('/cart/save', async (request, reply) => {
    const who = shopperOf(requireContact(request));
    try {
      await saveCart(db, who, field(request.body, 'name'), { shared: field(request.body, 'shared') === '1' });
    } catch (e) {
      if (e instanceof ShopError && e.status === 400) return cartPage(request, reply, deps, { flash: { kind: 'error', text: e.message }, status: 400 });
      throw e;
    }
    return reply.redirect('/cabinet/cart?saved=1', 303);
  });

  // What a saved cart holds, priced now for the chosen legal entity (what adding it would cost).
  app.get('/saved-carts/:id', async (request, reply) => {
    const ctx = requireContact(request);
    const who = shopperOf(ctx);
    const v = await savedCartView(db, who, idOf((request.params as { id: string }).id));
    return sendPage(reply, (
      <Layout ctx={ctx} cart={request.cabinetCart} title={`Сохранённая корзина «${v.name}»`} active="cart">
        <p><a href="/cabinet/cart">← Корзина</a></p>
        <h1>{v.name} {v.shared && <span class="badge">общая</span>}</h1>
        <p class="muted">Автор: {v.own ? 'вы' : v.ownerName ?? '—'} · изменена {v.updatedAt.toLocaleDateString('ru-RU', { timeZone: 'Europe/Moscow' })} · цены на сегодня для «{ctx.legalEntity?.name}»</p>
        <table class="cart-table saved-lines">
          <thead><tr><th>Товар</th><th class="num">Цена</th><th class="num">Количество</th><th class="num">Сумма</th></tr></thead>
          <tbody>
            {v.lines.map((l) => (
              <tr class={lineProblem(l) ? 'line-bad' : undefined} data-sku={l.sku}>
                <td><div class="line-name">{l.name}</div><small class="muted">Код {l.sku}</small>{lineProblem(l) && <div class="line-problem">{lineProblem(l)}</div>}</td>
                <td class="num">{l.price ? money(l.price, l.currency ?? v.currency) : '—'}</td>
                <td class="num">{qty(l.quantity)} {unitName(l.unit)}</td>
                <td class="num">{l.amount ? money(l.amount, v.currency) : '—'}</td>
              </tr>
            ))}
          </tbody>
          <tfoot><tr class="cart-total-row"><td colSpan={3}>Итого по сегодняшним ценам</td><td class="num"><b>{money(v.total, v.currency)}</b></td></tr></tfoot>
        </table>
        <form method="post" action={`/cabinet/saved-carts/${v.id}/add`} class="cart-actions"><CsrfField ctx={ctx} /><button type="submit" class="primary">Добавить в корзину</button></form>
      </Layout>
    ));
  });

  app.post('/saved-carts/:id/:action', async (request, reply) => {
    const who = shopperOf(requireContact(request));
    const { id: raw, action } = request.params as { id: string; action: string };
    const id = idOf(raw);
    try {
      switch (action) {
        case 'add': return redirectAfterAdd(reply, await addSavedCartToCart(db, who, id));
        case 'rename': await renameSavedCart(db, who, id, field(request.body, 'name')); break;
        case 'share': await shareSavedCart(db, who, id, field(request.body, 'shared') === '1'); break;
        case 'replace': await replaceSavedCart(db, who, id); break;
        case 'delete':
          await deleteSavedCart(db, who, id);
          return reply.redirect('/cabinet/cart?deleted=1', 303);
        default: throw new CabinetError(404, 'Страница не найдена');
      }
    } catch (e) {
      // Input refusals stay on the cart page with the message; absent (404) and forbidden (403) go to the error page.
      if (e instanceof ShopError && e.status === 400) return cartPage(request, reply, deps, { flash: { kind: 'error', text: e.message }, status: 400 });
      throw e;
    }
    return reply.redirect('/cabinet/cart?updated=1', 303);
  });

  app.post('/checkout', async (request, reply) => {
    const ctx = requireOrdering(request);
    const who = shopperOf(ctx);
    const values: CheckoutValues = {
      delivery: field(request.body, 'delivery') === 'other' ? 'other' : 'entity', address: field(request.body, 'address'),
      paymentKind: field(request.body, 'paymentKind'), comment: field(request.body, 'comment'),
    };
    try {
      // A manager working as the client is the one who acts (the audit says so), within the impersonation.
      const r = await checkout(db, who, { ...values, idempotencyKey: field(request.body, 'idempotencyKey') }, cabinetActor(ctx, request));
      request.auditNote = { order: r.order.number, total: r.order.total, created: r.created };
      return reply.redirect(`/cabinet/orders/${encodeURIComponent(r.order.number)}?placed=1`, 303);
    } catch (e) {
      // Refused on credit (no rights, limit, overdue): the cart again with the reason at the payment field.
      if (e instanceof ShopError && e.status === 403 && e.problems.some((p) => p.field === 'paymentKind')) {
        return cartPage(request, reply, deps, { flash: { kind: 'error', text: `Заказ не оформлен. ${e.message}` }, values, problems: e.problems, status: 403 });
      }
      if (e instanceof ShopError && e.status === 400) return cartPage(request, reply, deps, { flash: { kind: 'error', text: e.message }, values, problems: e.problems, status: 400 });
      throw e;
    }
  });
}
