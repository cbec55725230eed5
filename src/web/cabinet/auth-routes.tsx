// Sign-in, sign-out, the password page of invitation and reset links, the reset request, the sign-up
// of a new wholesale buyer, and the context switches (legal entity, city, view) of a session.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import type { VNode } from 'preact';
import type { ServerDeps } from '../../api/deps.ts';
import { registerBuyer, requestPasswordReset, setPasswordWithToken, signInWithPassword, tokenInfo } from '../../cabinet/accounts.ts';
import { CabinetError } from '../../cabinet/errors.ts';
import { endImpersonation } from '../../backoffice/impersonation.ts';
import { enqueueMail } from '../../cabinet/mail.ts';
import { createSession, deleteSession, SESSION_COOKIE, updateSession } from '../../cabinet/sessions.ts';
import { sendFragment, sendPage } from '../render.tsx';
import { BarePage, CsrfField } from './layout.tsx';
import { field, isHtmx, requireContact, safeNext } from './request.ts';
import { publicUrl, sessionCookieOptions } from './settings.ts';

function Problem({ text }: { text: string | null | undefined }): VNode | null {
  return text ? <div class="flash flash-error" role="alert">{text}</div> : null;
}

/** Replaces the session by a signed-in one (a new id), keeping the visitor's city and view. */
async function startSignedIn(deps: ServerDeps, request: FastifyRequest, reply: FastifyReply, contactId: number): Promise<void> {
  const old = request.cabinet.session;
  // A manager who signs in as someone in the middle of working as a client: that impersonation ends.
  if (old.impersonationId !== null) {
    await endImpersonation(deps.db, { impersonationId: old.impersonationId, reason: 'logout', ip: request.ip, userAgent: request.headers['user-agent'] ?? null });
  }
  const s = await createSession(deps.db, { contactId, cityId: old.cityId, prefs: old.prefs });
  await deleteSession(deps.db, old.idHash);
  reply.setCookie(SESSION_COOKIE, s.id, sessionCookieOptions(deps));
}

/** Merges choices into the contact's account preferences (kept across sign-ins and browsers). */
async function rememberForContact(db: ServerDeps['db'], contactId: number, prefs: Record<string, string>): Promise<void> {
  await sql`UPDATE cabinet_accounts SET prefs = prefs || ${JSON.stringify(prefs)}::jsonb WHERE contact_id = ${contactId}`.execute(db);
}

export async function authRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { db } = deps;

  const loginPage = (request: FastifyRequest, reply: FastifyReply, o: { error?: string; email?: string; status?: number; info?: string } = {}) => {
    const q = request.query as { next?: string; expired?: string; out?: string };
    const info = o.info ?? (q.expired ? 'Сессия истекла. Войдите снова.' : q.out ? 'Вы вышли из кабинета.' : undefined);
    return sendPage(reply, (
      <BarePage title="Вход">
        <h1>Вход в кабинет</h1>
        {info && <div class="flash flash-info" role="status">{info}</div>}
        <Problem text={o.error} />
        <form method="post" action={`/cabinet/login${q.next ? `?next=${encodeURIComponent(safeNext(q.next))}` : ''}`} class="stack">
          <CsrfField ctx={request.cabinet} />
          <label>Электронная почта<input type="email" name="email" required autocomplete="username" value={o.email ?? ''} autofocus /></label>
          <label>Пароль<input type="password" name="password" required autocomplete="current-password" /></label>
          <button type="submit" class="primary">Войти</button>
        </form>
        <p class="links"><a href="/cabinet/reset">Забыли пароль?</a> · <a href="/cabinet/register">Регистрация оптового покупателя</a> · <a href="/cabinet/catalog">Каталог без входа</a></p>
      </BarePage>
    ), o.status ?? 200);
  };

  app.get('/login', async (request, reply) => {
    if (request.cabinet.contact) return reply.redirect(safeNext((request.query as { next?: string }).next), 303);
    return loginPage(request, reply);
  });

  app.post('/login', async (request, reply) => {
    const email = field(request.body, 'email');
    try {
      const contactId = await signInWithPassword(db, { email, password: field(request.body, 'password'), ip: request.ip });
      await startSignedIn(deps, request, reply, contactId);
      return reply.redirect(safeNext((request.query as { next?: string }).next), 303);
    } catch (e) {
      if (e instanceof CabinetError) {
        if (e.status === 401 || e.status === 429) deps.logins?.observed('cabinet', e.status === 401 ? 'failed' : 'throttled');
        return loginPage(request, reply, { error: e.message, email, status: e.status });
      }
      throw e;
    }
  });

  app.post('/logout', async (request, reply) => {
    const imp = request.cabinet.impersonation;
    if (imp) {
      // "Выйти" while working as a client ends the impersonation; the manager goes back to the client's card.
      request.auditNote = { skip: true };
      await endImpersonation(db, { impersonationId: imp.id, reason: 'logout', ip: request.ip, userAgent: request.headers['user-agent'] ?? null });
      reply.clearCookie(SESSION_COOKIE, { path: '/cabinet' });
      return reply.redirect(`/manager/clients/${imp.clientId}?impersonation=logout`, 303);
    }
    await deleteSession(db, request.cabinet.session.idHash);
    reply.clearCookie(SESSION_COOKIE, { path: '/cabinet' });
    return reply.redirect('/cabinet/login?out=1', 303);
  });

  const passwordPage = (request: FastifyRequest, reply: FastifyReply, info: { kind: 'invite' | 'reset'; email: string; name: string }, error?: string, status = 200) => sendPage(reply, (
    <BarePage title={info.kind === 'invite' ? 'Приглашение' : 'Новый пароль'}>
      <h1>{info.kind === 'invite' ? 'Добро пожаловать!' : 'Новый пароль'}</h1>
      <p>{info.name}, {info.kind === 'invite' ? 'задайте пароль для входа в кабинет.' : 'задайте новый пароль.'} Ваш логин: <b>{info.email}</b></p>
      <Problem text={error} />
      <form method="post" class="stack">
        <CsrfField ctx={request.cabinet} />
        <label>Пароль (не короче 8 символов, буквы и цифры)<input type="password" name="password" required minLength={8} autocomplete="new-password" autofocus /></label>
        <label>Пароль ещё раз<input type="password" name="password2" required autocomplete="new-password" /></label>
        <button type="submit" class="primary">Сохранить пароль и войти</button>
      </form>
    </BarePage>
  ), status);

  const deadLink = (reply: FastifyReply) => sendPage(reply, (
    <BarePage title="Ссылка недействительна">
      <h1>Ссылка недействительна</h1>
      <div class="flash flash-error" role="alert">Ссылка устарела или уже использована.</div>
      <p><a href="/cabinet/reset">Запросить новую ссылку</a> · <a href="/cabinet/login">Войти</a></p>
    </BarePage>
  ), 410);

  app.get('/password/:token', async (request, reply) => {
    const info = await tokenInfo(db, (request.params as { token: string }).token);
    return info ? passwordPage(request, reply, info) : deadLink(reply);
  });

  app.post('/password/:token', async (request, reply) => {
    const token = (request.params as { token: string }).token;
    const info = await tokenInfo(db, token);
    if (!info) return deadLink(reply);
    const password = field(request.body, 'password');
    if (password !== field(request.body, 'password2')) return passwordPage(request, reply, info, 'Пароли не совпадают.', 400);
    try {
      const contactId = await setPasswordWithToken(db, token, password);
      await startSignedIn(deps, request, reply, contactId);
      return reply.redirect('/cabinet?welcome=1', 303);
    } catch (e) {
      if (e instanceof CabinetError) return passwordPage(request, reply, info, e.message, e.status);
      throw e;
    }
  });

  const resetPage = (request: FastifyRequest, reply: FastifyReply, o: { error?: string; sent?: boolean; email?: string; status?: number } = {}) => sendPage(reply, (
    <BarePage title="Восстановление пароля">
      <h1>Восстановление пароля</h1>
      {o.sent
        ? <div class="flash flash-ok" role="status">Если адрес {o.email} зарегистрирован, на него отправлено письмо со ссылкой для нового пароля. Ссылка действует 2 часа.</div>
        : <p>Укажите адрес, с которым вы входите в кабинет: мы пришлём ссылку для нового пароля.</p>}
      <Problem text={o.error} />
      {!o.sent && (
        <form method="post" class="stack">
          <CsrfField ctx={request.cabinet} />
          <label>Электронная почта<input type="email" name="email" required value={o.email ?? ''} autofocus /></label>
          <button type="submit" class="primary">Прислать ссылку</button>
        </form>
      )}
      <p class="links"><a href="/cabinet/login">Вход</a></p>
    </BarePage>
  ), o.status ?? 200);

  app.get('/reset', async (request, reply) => resetPage(request, reply));
  app.post('/reset', async (request, reply) => {
    const email = field(request.body, 'email');
    try {
      await requestPasswordReset(db, email, publicUrl(deps, request));
      return resetPage(request, reply, { sent: true, email });
    } catch (e) {
      if (e instanceof CabinetError) return resetPage(request, reply, { error: e.message, email, status: e.status });
      throw e;
    }
  });

  const registerPage = (request: FastifyRequest, reply: FastifyReply, o: { error?: string; field?: string; values?: Record<string, string>; status?: number } = {}) => {
    const v = o.values ?? {};
    const ctx = request.cabinet;
    const bad = (name: string) => (o.field === name ? { 'aria-invalid': 'true' as const, class: 'invalid' } : {});
    return sendPage(reply, (
      <BarePage title="Регистрация">
        <h1>Регистрация оптового покупателя</h1>
        <p>После регистрации вы сразу увидите каталог и базовые цены. Ваши цены и заказы станут доступны, когда менеджер проверит компанию (обычно в течение рабочего дня).</p>
        <Problem text={o.error} />
        <form method="post" class="stack grid2">
          <CsrfField ctx={ctx} />
          <label>Название компании<input name="company" required value={v.company ?? ''} {...bad('company')} /></label>
          <label>ИНН<input name="inn" required inputMode="numeric" pattern="[0-9 ]{10,14}" value={v.inn ?? ''} {...bad('inn')} /></label>
          <label>КПП (для организаций)<input name="kpp" value={v.kpp ?? ''} {...bad('kpp')} /></label>
          <label>Город доставки<select name="city">{ctx.cities.map((c) => <option value={c.code} selected={c.code === (v.city ?? ctx.city?.code)}>{c.name}</option>)}</select></label>
          <label>Контактное лицо<input name="contactName" required value={v.contactName ?? ''} {...bad('contactName')} /></label>
          <label>Телефон<input name="phone" type="tel" value={v.phone ?? ''} /></label>
          <label>Электронная почта (логин)<input name="email" type="email" required value={v.email ?? ''} {...bad('email')} /></label>
          <label>Пароль (не короче 8 символов, буквы и цифры)<input name="password" type="password" required minLength={8} autocomplete="new-password" {...bad('password')} /></label>
          <button type="submit" class="primary">Зарегистрироваться</button>
        </form>
        <p class="links">Уже есть доступ? <a href="/cabinet/login">Войти</a></p>
      </BarePage>
    ), o.status ?? 200);
  };

  app.get('/register', async (request, reply) => registerPage(request, reply));
  app.post('/register', async (request, reply) => {
    const b = request.body;
    const values = Object.fromEntries(['company', 'inn', 'kpp', 'city', 'contactName', 'phone', 'email'].map((k) => [k, field(b, k)]));
    const city = request.cabinet.cities.find((c) => c.code === values.city);
    try {
      const r = await registerBuyer(db, {
        company: values.company!, inn: values.inn!, kpp: values.kpp, contactName: values.contactName!, email: values.email!,
        phone: values.phone || undefined, password: field(b, 'password'), cityId: city?.id ?? request.cabinet.city?.id ?? null,
      });
      await startSignedIn(deps, request, reply, r.contactId);
      return reply.redirect('/cabinet?registered=1', 303);
    } catch (e) {
      if (e instanceof CabinetError) return registerPage(request, reply, { error: e.message, field: e.field, values, status: e.status });
      throw e;
    }
  });

  // The context bar's selects: the legal entity (one of the contact's), the delivery city, the view.
  app.post('/context', async (request, reply) => {
    const ctx = request.cabinet;
    const le = field(request.body, 'legalEntity');
    const city = field(request.body, 'city');
    if (le) {
      requireContact(request);
      const target = ctx.legalEntities.find((l) => l.code === le);
      if (!target) throw new CabinetError(404, 'Такого юридического лица нет среди ваших.');
      await updateSession(db, ctx.session, { legalEntityId: target.id });
      // Remembered for the contact: the next sign-in acts for the same legal entity (its carts, its orders).
      // Not a manager's choice while working as the client: the contact's own preferences stay its own.
      if (!ctx.impersonation) await rememberForContact(db, ctx.contact!.id, { legalEntity: target.code });
    }
    if (city) {
      const target = ctx.cities.find((c) => c.code === city);
      if (!target) throw new CabinetError(404, 'Такого города нет в списке.');
      await updateSession(db, ctx.session, { cityId: target.id });
    }
    const view = field(request.body, 'view');
    if (view) {
      if (view !== 'tiles' && view !== 'table') throw new CabinetError(400, 'Неизвестный вид каталога.');
      const prefs = { ...ctx.session.prefs, view };
      await updateSession(db, ctx.session, { prefs });
      // Remembered for the contact too: the next sign-in (another browser) opens the same view.
      if (ctx.contact && !ctx.impersonation) await rememberForContact(db, ctx.contact.id, { view });
    }
    if (isHtmx(request)) return reply.header('hx-refresh', 'true').code(204).send();
    const back = request.headers.referer ? new URL(request.headers.referer, 'http://x').pathname + new URL(request.headers.referer, 'http://x').search : '/cabinet';
    return reply.redirect(safeNext(back, '/cabinet'), 303);
  });

  // "Write to manager": an e-mail to the client's personal manager, the contact as Reply-To.
  app.post('/manager/message', async (request, reply) => {
    const ctx = requireContact(request);
    const text = field(request.body, 'message');
    // The manager working as the client would write to the manager's own mailbox as the contact.
    if (ctx.impersonation) throw new CabinetError(403, 'Вы работаете как клиент: сообщение «менеджеру» ушло бы вам самим от имени контакта, поэтому оно не отправляется.');
    if (!ctx.manager?.email) throw new CabinetError(404, 'У вас нет персонального менеджера с адресом почты. Позвоните по общему номеру.');
    if (text.length < 2) throw new CabinetError(400, 'Напишите текст сообщения.');
    if (text.length > 5000) throw new CabinetError(400, 'Сообщение слишком длинное (не больше 5000 символов).');
    await enqueueMail(db, {
      kind: 'manager-message', to: ctx.manager.email, replyTo: ctx.contact.email ?? undefined,
      subject: `Сообщение из кабинета: ${ctx.client.name}, ${ctx.contact.name}`,
      text: `${text}\n\n—\n${ctx.contact.name}${ctx.contact.position ? `, ${ctx.contact.position}` : ''}\n${ctx.client.name} (${ctx.client.code})${ctx.legalEntity ? `\nЮрлицо: ${ctx.legalEntity.name}${ctx.legalEntity.inn ? `, ИНН ${ctx.legalEntity.inn}` : ''}` : ''}\n${ctx.contact.email ?? ''}\n`,
    });
    if (isHtmx(request)) return sendFragment(reply, <div class="flash flash-ok" role="status">Сообщение отправлено. Ответ придёт на {ctx.contact.email}.</div>);
    return reply.redirect('/cabinet?sent=1', 303);
  });
}
