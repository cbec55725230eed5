// The audit log as a manager reads it: each entry in Russian words (what was done, to what, with what
// result), when, by whom and from where. Actions this file does not know are shown by their code.
import type { VNode } from 'preact';
import type { AuditRow } from '../../backoffice/audit.ts';

const TZ = 'Europe/Moscow';
export const dateTime = (d: Date | string): string => new Date(d).toLocaleString('ru-RU', { timeZone: TZ, dateStyle: 'short', timeStyle: 'medium' });
export const day = (d: Date | string | null): string => (d ? new Date(d).toLocaleDateString('ru-RU', { timeZone: TZ }) : '—');

const END_REASONS: Record<string, string> = {
  logout: 'выход из кабинета', ended: 'завершён менеджером', expired: 'истекли 30 минут', replaced: 'начат новый сеанс', revoked: 'доступ отозван',
};

/** What a cabinet route does, for an impersonated request's entry. */
const ROUTES: Record<string, string> = {
  '/cabinet/cart/add': 'Добавление в корзину',
  '/cabinet/cart/lines/:productId': 'Изменение количества в корзине',
  '/cabinet/cart/lines/:productId/remove': 'Удаление строки корзины',
  '/cabinet/cart/clear': 'Очистка корзины',
  '/cabinet/cart/save': 'Сохранение корзины',
  '/cabinet/saved-carts/:id/:action': 'Действие с сохранённой корзиной',
  '/cabinet/checkout': 'Оформление заказа',
  '/cabinet/context': 'Смена юрлица или города',
  '/cabinet/account/password': 'Попытка сменить пароль контакта',
  '/cabinet/orders/:number/repeat': 'Повтор заказа',
  '/cabinet/quick-order': 'Быстрый заказ',
  '/cabinet/quick-order/upload': 'Быстрый заказ из файла',
  '/cabinet/manager/message': 'Сообщение менеджеру',
};

const ACTIONS: Record<string, string> = {
  'client.view': 'Открытие карточки клиента',
  'order.view': 'Открытие заказа',
  'contact.invite': 'Приглашение в кабинет',
  'signup.approve': 'Заявка на регистрацию одобрена',
  'signup.reject': 'Заявка на регистрацию отклонена',
};

function str(v: unknown): string | null {
  return typeof v === 'string' && v ? v : typeof v === 'number' ? String(v) : null;
}

/** One entry in words. */
export function describeAudit(e: AuditRow): string {
  const d = e.details;
  switch (e.action) {
    case 'impersonation.start':
      return `Начата работа как клиент${str(d.contact) ? ` (контакт ${str(d.contact)})` : ''}`;
    case 'impersonation.end':
      return `Работа как клиент завершена: ${END_REASONS[String(d.reason)] ?? String(d.reason ?? '')}`;
    case 'order.place':
      return `Оформлен заказ ${str(d.order) ?? ''}${d.created === false ? ' (повторная отправка формы, новый заказ не создан)' : ''}`;
    default:
      break;
  }
  if (e.action.startsWith('http.')) {
    const route = str(d.route) ?? str(d.path) ?? '';
    const label = ROUTES[route] ?? `${String(d.method ?? e.action.slice(5).toUpperCase())} ${str(d.path) ?? route}`;
    const f = (d.fields ?? {}) as Record<string, unknown>;
    const sku = [f.sku].flat().filter((x): x is string => typeof x === 'string');
    const q = [f.quantity].flat().filter((x): x is string => typeof x === 'string');
    const what = sku.length ? `: ${sku.map((s, i) => `${s}${q[i] ? ` × ${q[i]}` : ''}`).join(', ')}` : typeof f.quantity === 'string' ? `: ${f.quantity}` : '';
    return `${label}${what}`;
  }
  const base = ACTIONS[e.action] ?? e.action;
  if (e.action === 'contact.invite') return `${base}: ${str(d.contact) ?? ''}${str(d.email) ? ` (${str(d.email)})` : ''}`;
  if (e.action.startsWith('signup.')) return `${base}: № ${str(d.signupId) ?? ''}${str(d.company) ? `, ${str(d.company)}` : ''}`;
  return base;
}

const OUTCOMES: Record<string, { text: string; cls: string }> = {
  denied: { text: 'отказано', cls: 'badge badge-error' },
  failed: { text: 'ошибка', cls: 'badge badge-error' },
};

function statusNote(e: AuditRow): string | null {
  const s = e.details.status;
  return typeof s === 'number' && s >= 400 ? `ответ ${s}` : null;
}

/** A table of entries, newest first; `showActor` adds the «Кто» column (a client's trail has several actors). */
export function AuditTable({ rows, showActor = true, empty }: { rows: AuditRow[]; showActor?: boolean; empty: string }): VNode {
  if (!rows.length) return <p class="empty">{empty}</p>;
  return (
    <table class="grid audit">
      <thead><tr><th>Когда</th>{showActor && <th>Кто</th>}<th>Что</th><th>Откуда</th></tr></thead>
      <tbody>
        {rows.map((e) => (
          <tr data-audit={e.action} data-outcome={e.outcome}>
            <td class="nowrap">{dateTime(e.at)}</td>
            {showActor && <td>{e.actorName ?? (e.actorKind === 'system' ? 'система' : e.actorKind)}{e.impersonationId !== null && e.actorKind === 'manager' && <small class="muted"> как клиент</small>}</td>}
            <td>{describeAudit(e)}{OUTCOMES[e.outcome] && <span class={OUTCOMES[e.outcome]!.cls}>{OUTCOMES[e.outcome]!.text}</span>}{statusNote(e) && <small class="muted"> {statusNote(e)}</small>}</td>
            <td>{e.ip ?? '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
