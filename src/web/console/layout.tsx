// The console's page frame: the cabinet's stylesheet and htmx, the console's header (user, role, sign-out)
// and navigation. Every form posts the session's CSRF token (htmx: header from <body>; forms: hidden field).
import type { ComponentChildren, VNode } from 'preact';
import { Flash, StaffHead } from '../page-parts.tsx';
import type { ConsoleSession } from '../../console/sessions.ts';
import { ROLE_LABEL, type ConsoleRole } from '../../console/users.ts';
import { roleAllows } from '../../console/rights.ts';

/**
 * The console's sections. A page module adds its entry when its page exists (no placeholders: a link
 * in the navigation is a page that works).
 */
export const CONSOLE_NAV: Array<{ key: string; href: string; label: string; role?: ConsoleRole }> = [
  { key: 'flows', href: '/console/flows', label: 'Потоки' },
  { key: 'runs', href: '/console/runs', label: 'Запуски' },
  { key: 'held', href: '/console/held', label: 'Задержанные' },
  { key: 'lineage', href: '/console/lineage', label: 'Происхождение' },
  { key: 'queues', href: '/console/queues', label: 'Очереди' },
  // Shown to the role that may open it (the route's guard is what refuses the others).
  { key: 'users', href: '/console/users', label: 'Пользователи', role: 'admin' },
];

export function ConsoleCsrf({ s }: { s: ConsoleSession }): VNode {
  return <input type="hidden" name="_csrf" value={s.csrf} />;
}

const Head = ({ title }: { title: string }): VNode => <StaffHead title={title} surface="консоль" css="/console/assets/console.css" />;

export const ConsoleFlash = Flash;

export interface ConsoleLayoutProps {
  s: ConsoleSession;
  title: string;
  /** The CONSOLE_NAV key of the section the page belongs to. */
  active?: string;
  flash?: { kind: 'ok' | 'error' | 'info'; text: string } | null;
  children: ComponentChildren;
}

export function ConsoleLayout({ s, title, active, flash, children }: ConsoleLayoutProps): VNode {
  return (
    <html lang="ru">
      <Head title={title} />
      <body class="console" hx-headers={JSON.stringify({ 'X-CSRF-Token': s.csrf })}>
        <header class="top">
          <a class="brand" href="/console">Магистраль<span>консоль</span></a>
          <div class="ctx-spacer"></div>
          <div class="user">
            <span class="user-name">{s.user.name}<small>{ROLE_LABEL[s.user.role]}</small></span>
            <form method="post" action="/console/logout"><ConsoleCsrf s={s} /><button type="submit" class="link">Выйти</button></form>
          </div>
        </header>
        <nav class="main-nav">
          {CONSOLE_NAV.filter((n) => !n.role || roleAllows(s.user.role, n.role)).map((n) => <a href={n.href} class={n.key === active ? 'active' : undefined} aria-current={n.key === active ? 'page' : undefined}>{n.label}</a>)}
        </nav>
        <main>
          {flash ? <ConsoleFlash kind={flash.kind}>{flash.text}</ConsoleFlash> : <div id="flash"></div>}
          {children}
        </main>
      </body>
    </html>
  );
}

/** A page without navigation (sign-in). */
export function ConsoleBarePage({ title, children }: { title: string; children: ComponentChildren }): VNode {
  return (
    <html lang="ru">
      <Head title={title} />
      <body class="bare console">
        <main class="bare-main">
          <a class="brand" href="/console">Магистраль<span>консоль</span></a>
          {children}
        </main>
      </body>
    </html>
  );
}
