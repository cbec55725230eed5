// The manager workplace's page frame: the same stylesheet and htmx as the cabinet, its own header and
// navigation. Every form posts the session's CSRF token (htmx: header from <body>; forms: hidden field).
import type { ComponentChildren, VNode } from 'preact';
import { Flash, StaffHead } from '../page-parts.tsx';
import type { ManagerSession } from '../../backoffice/managers.ts';

export type ManagerNavKey = 'clients' | 'orders' | 'signups' | 'impersonations' | 'documents';

/** The workplace's sections; a helper's page module adds its entry here. */
export const MANAGER_NAV: Array<{ key: ManagerNavKey; href: string; label: string }> = [
  { key: 'clients', href: '/manager', label: 'Клиенты' },
  { key: 'orders', href: '/manager/orders', label: 'Заказы' },
  { key: 'signups', href: '/manager/signups', label: 'Заявки на регистрацию' },
  { key: 'impersonations', href: '/manager/impersonations', label: 'Работа за клиента' },
  { key: 'documents', href: '/manager/documents', label: 'Договоры и сканы' },
];

export function ManagerCsrf({ s }: { s: ManagerSession }): VNode {
  return <input type="hidden" name="_csrf" value={s.csrf} />;
}

const Head = ({ title }: { title: string }): VNode => <StaffHead title={title} surface="менеджер" css="/manager/assets/manager.css" />;

export const ManagerFlash = Flash;

export interface ManagerLayoutProps {
  s: ManagerSession;
  title: string;
  active?: ManagerNavKey;
  flash?: { kind: 'ok' | 'error' | 'info'; text: string } | null;
  children: ComponentChildren;
}

export function ManagerLayout({ s, title, active, flash, children }: ManagerLayoutProps): VNode {
  return (
    <html lang="ru">
      <Head title={title} />
      <body class="manager-ws" hx-headers={JSON.stringify({ 'X-CSRF-Token': s.csrf })}>
        <header class="top">
          <a class="brand" href="/manager">Магистраль<span>рабочее место менеджера</span></a>
          <div class="ctx-spacer"></div>
          <div class="user">
            <span class="user-name">{s.manager.name}<small>{s.manager.email}</small></span>
            <form method="post" action="/manager/logout"><ManagerCsrf s={s} /><button type="submit" class="link">Выйти</button></form>
          </div>
        </header>
        <nav class="main-nav">
          {MANAGER_NAV.map((n) => <a href={n.href} class={n.key === active ? 'active' : undefined} aria-current={n.key === active ? 'page' : undefined}>{n.label}</a>)}
        </nav>
        <main>
          {flash ? <ManagerFlash kind={flash.kind}>{flash.text}</ManagerFlash> : <div id="flash"></div>}
          {children}
        </main>
      </body>
    </html>
  );
}

/** A page without navigation (sign-in, password). */
export function ManagerBarePage({ title, children }: { title: string; children: ComponentChildren }): VNode {
  return (
    <html lang="ru">
      <Head title={title} />
      <body class="bare manager-ws">
        <main class="bare-main">
          <a class="brand" href="/manager">Магистраль<span>рабочее место менеджера</span></a>
          {children}
        </main>
      </body>
    </html>
  );
}
