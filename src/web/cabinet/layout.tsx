// The cabinet's page frame: header with search, navigation, the context bar (legal entity, delivery
// city, cart total, personal manager) and the page's content. Every form posts the session's CSRF token:
// htmx requests send it as a header (hx-headers on <body>), plain forms as a hidden field.
import type { ComponentChildren, VNode } from 'preact';
import { Flash } from '../page-parts.tsx';
import type { CabinetContext } from '../../cabinet/context.ts';
import type { CartSummary } from '../../cabinet/cart-summary.ts';
import { money, plural } from '../render.tsx';

export type NavKey = 'home' | 'catalog' | 'search' | 'cart' | 'orders' | 'quick-order' | 'price-lists' | 'account' | 'documents' | 'balance' | 'team' | 'approvals';

const isHead = (ctx: CabinetContext): boolean => ctx.legalEntities.some((le) => le.role === 'head');

/** `show`: a link only some contacts get (the services refuse the others anyway). */
const NAV: Array<{ key: NavKey; href: string; label: string; signedIn?: boolean; show?: (ctx: CabinetContext) => boolean }> = [
  { key: 'catalog', href: '/cabinet/catalog', label: 'Каталог' },
  { key: 'quick-order', href: '/cabinet/quick-order', label: 'Быстрый заказ', signedIn: true },
  { key: 'price-lists', href: '/cabinet/price-lists', label: 'Прайс-листы' },
  { key: 'cart', href: '/cabinet/cart', label: 'Корзина', signedIn: true },
  { key: 'orders', href: '/cabinet/orders', label: 'Заказы', signedIn: true },
  { key: 'documents', href: '/cabinet/documents', label: 'Документы', signedIn: true },
  { key: 'balance', href: '/cabinet/balance', label: 'Баланс', signedIn: true, show: (ctx) => ctx.legalEntities.some((le) => le.confirmed) },
  { key: 'approvals', href: '/cabinet/approvals', label: 'Согласование', signedIn: true, show: isHead },
  { key: 'team', href: '/cabinet/team', label: 'Сотрудники', signedIn: true, show: isHead },
];

export function CsrfField({ ctx }: { ctx: CabinetContext }): VNode {
  return <input type="hidden" name="_csrf" value={ctx.session.csrf} />;
}

/** The cart total in the context bar; htmx swaps it (outerHTML) after anything changes the cart. */
export function CartTotal({ summary }: { summary: CartSummary | null }): VNode {
  if (!summary) return <a id="cart-total" class="cart-total" href="/cabinet/login">Корзина</a>;
  return (
    <a id="cart-total" class="cart-total" href="/cabinet/cart" data-lines={summary.lines} data-total={summary.total}>
      <span class="cart-icon" aria-hidden="true"></span>
      {summary.lines === 0 ? 'Корзина пуста' : <span>{summary.lines} {plural(summary.lines, 'позиция', 'позиции', 'позиций')} · <b>{money(summary.total, summary.currency)}</b></span>}
    </a>
  );
}

export { Flash };

function initials(name: string): string {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0]!.toUpperCase()).join('');
}

function ManagerWidget({ ctx }: { ctx: CabinetContext }): VNode | null {
  const m = ctx.manager;
  if (!m || !ctx.contact) return null;
  return (
    <details class="manager" id="manager">
      <summary>
        {m.photoUrl ? <img class="avatar" src={m.photoUrl} alt="" /> : <span class="avatar avatar-initials">{initials(m.name)}</span>}
        <span class="manager-label"><small>Ваш менеджер</small>{m.name}</span>
      </summary>
      <div class="manager-card">
        <p class="manager-name">{m.name}</p>
        {m.phone && <p><a href={`tel:${m.phone.replace(/[^+\d]/g, '')}`}>{m.phone}</a></p>}
        {m.email && <p><a href={`mailto:${m.email}`}>{m.email}</a></p>}
        {m.email && !ctx.impersonation && (
          <form method="post" action="/cabinet/manager/message" hx-post="/cabinet/manager/message" hx-target="#manager-form-result" hx-swap="innerHTML">
            <CsrfField ctx={ctx} />
            <label for="manager-message">Написать менеджеру</label>
            <textarea id="manager-message" name="message" rows={4} maxLength={5000} required placeholder="Ваш вопрос или просьба"></textarea>
            <button type="submit">Отправить</button>
            <div id="manager-form-result" aria-live="polite"></div>
          </form>
        )}
      </div>
    </details>
  );
}

/** «А. Смирнов» from «Алексей Смирнов»: the banner names the contact briefly. */
export function shortName(name: string): string {
  const w = name.trim().split(/\s+/);
  return w.length < 2 ? name.trim() : `${w[0]![0]!.toUpperCase()}. ${w.slice(1).join(' ')}`;
}

const clock = (d: Date): string => d.toLocaleTimeString('ru-RU', { timeZone: 'Europe/Moscow', hour: '2-digit', minute: '2-digit' });

/** On every page while a manager works as the client: who, as whom, until when, and the way out. */
function ImpersonationBanner({ ctx }: { ctx: CabinetContext }): VNode | null {
  const imp = ctx.impersonation;
  if (!imp) return null;
  return (
    <div class="impersonation-banner" id="impersonation-banner" role="status">
      <span>
        Вы работаете как клиент <b>{ctx.client?.name ?? '—'}</b>{ctx.contact ? ` (${shortName(ctx.contact.name)})` : ''} — менеджер {imp.managerName}.
        {' '}Сеанс до {clock(imp.endsAt)}.
      </span>
      <form method="post" action="/cabinet/impersonation/end">
        <CsrfField ctx={ctx} />
        <button type="submit">Завершить</button>
      </form>
    </div>
  );
}

function ContextBar({ ctx, cart }: { ctx: CabinetContext; cart: CartSummary | null }): VNode {
  return (
    <div class="context-bar">
      {ctx.contact && ctx.legalEntities.length > 0 && (
        <form class="ctx-field" method="post" action="/cabinet/context" hx-post="/cabinet/context" hx-trigger="change" hx-swap="none">
          <CsrfField ctx={ctx} />
          <label for="ctx-legal-entity">Юрлицо</label>
          <select id="ctx-legal-entity" name="legalEntity" disabled={ctx.legalEntities.length < 2}>
            {ctx.legalEntities.map((le) => <option value={le.code} selected={le.id === ctx.legalEntity?.id}>{le.name}{le.inn ? ` (ИНН ${le.inn})` : ''}</option>)}
          </select>
          <noscript><button type="submit">OK</button></noscript>
        </form>
      )}
      <form class="ctx-field" method="post" action="/cabinet/context" hx-post="/cabinet/context" hx-trigger="change" hx-swap="none">
        <CsrfField ctx={ctx} />
        <label for="ctx-city">Город доставки</label>
        <select id="ctx-city" name="city">
          {ctx.cities.map((c) => <option value={c.code} selected={c.id === ctx.city?.id}>{c.name}</option>)}
        </select>
        <noscript><button type="submit">OK</button></noscript>
      </form>
      <div class="ctx-spacer"></div>
      {ctx.contact && <CartTotal summary={cart} />}
      <ManagerWidget ctx={ctx} />
    </div>
  );
}

export interface LayoutProps {
  ctx: CabinetContext;
  /** The cart summary for the context bar (the plugin loads it for signed-in pages: `request.cabinetCart`). */
  cart: CartSummary | null;
  title: string;
  active?: NavKey;
  flash?: { kind: 'ok' | 'error' | 'info'; text: string } | null;
  children: ComponentChildren;
}

function Head({ title, scripts }: { title: string; scripts?: boolean }): VNode {
  return (
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{`${title} — Магистраль`}</title>
      <link rel="stylesheet" href="/cabinet/assets/cabinet.css" />
      {scripts && <script src="/cabinet/assets/htmx.min.js" defer></script>}
      {scripts && <script src="/cabinet/assets/cabinet.js" defer></script>}
    </head>
  );
}

export function Layout({ ctx, cart, title, active, flash, children }: LayoutProps): VNode {
  const signedIn = ctx.contact !== null;
  return (
    <html lang="ru">
      <Head title={title} scripts />
      <body hx-headers={JSON.stringify({ 'X-CSRF-Token': ctx.session.csrf })}>
        <ImpersonationBanner ctx={ctx} />
        <header class="top">
          <a class="brand" href="/cabinet">Магистраль<span>оптовый кабинет</span></a>
          <form class="search" action="/cabinet/search" method="get" role="search">
            <input type="search" name="q" placeholder="Поиск по названию, артикулу, штрихкоду" autocomplete="off" aria-label="Поиск"
              hx-get="/cabinet/search/suggest" hx-trigger="input changed delay:200ms, search" hx-target="#suggest" hx-swap="innerHTML" />
            <button type="submit">Найти</button>
            <div id="suggest" class="suggest"></div>
          </form>
          <div class="user">
            {signedIn ? (
              <>
                <a class="user-name" href="/cabinet/account" title="Профиль">{ctx.contact!.name}<small>{ctx.client?.name}</small></a>
                <form method="post" action="/cabinet/logout"><CsrfField ctx={ctx} /><button type="submit" class="link">Выйти</button></form>
              </>
            ) : (
              <>
                <a href="/cabinet/login">Войти</a>
                <a href="/cabinet/register">Регистрация</a>
              </>
            )}
          </div>
        </header>
        <nav class="main-nav">
          {NAV.filter((n) => (signedIn || !n.signedIn) && (!n.show || n.show(ctx))).map((n) => <a href={n.href} class={n.key === active ? 'active' : undefined} aria-current={n.key === active ? 'page' : undefined}>{n.label}</a>)}
        </nav>
        <ContextBar ctx={ctx} cart={cart} />
        {ctx.contact && ctx.whyNoOrder && <div class="notice notice-warn">{ctx.whyNoOrder}</div>}
        <main>
          {flash ? <Flash kind={flash.kind}>{flash.text}</Flash> : <div id="flash"></div>}
          {children}
        </main>
        <footer class="bottom">Магистраль · цены и остатки обновляются из учётной системы поставщика</footer>
      </body>
    </html>
  );
}

/** A page without the context bar (sign-in, password, registration). */
export function BarePage({ title, children, csrf }: { title: string; children: ComponentChildren; csrf?: string }): VNode {
  return (
    <html lang="ru">
      <Head title={title} />
      <body class="bare" {...(csrf ? { 'hx-headers': JSON.stringify({ 'X-CSRF-Token': csrf }) } : {})}>
        <main class="bare-main">
          <a class="brand" href="/cabinet">Магистраль<span>оптовый кабинет</span></a>
          {children}
        </main>
      </body>
    </html>
  );
}
