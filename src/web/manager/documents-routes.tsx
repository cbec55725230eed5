// The manager's documents: for an own client, publish a contract or supplement (a PDF upload), see the
// scans the client uploaded and download them; the client's orders waiting for confirmation with the
// «Подтвердить» button (confirmOrder: the invoice follows) and each order's invoice state (made, or
// why it waits: the seller's requisites …). /manager/documents lists the contracts of all own clients,
// the ones with a fresh scan first. Authorization is in the services (assertOwnClient, fileForManager).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import type { VNode } from 'preact';
import type { ServerDeps } from '../../api/deps.ts';
import { CabinetError } from '../../cabinet/errors.ts';
import { confirmOrder } from '../../backoffice/confirm-order.ts';
import { CLIENT_DOCUMENT_KINDS, documentKindName, type ClientDocumentKind } from '../../backoffice/document-kinds.ts';
import { clientDocumentsForManager, fileForManager, publishClientDocument, type ClientDocumentView } from '../../backoffice/documents.ts';
import { assertOwnClient, type ManagerSession } from '../../backoffice/managers.ts';
import { invoiceJob } from '../../backoffice/order-documents.ts';
import { readSeller } from '../../backoffice/seller.ts';
import { money, sendPage } from '../render.tsx';
import { sendDocumentFile } from '../cabinet/documents.tsx';
import { ManagerCsrf, ManagerLayout } from './layout.tsx';
import { actorOf, field, idParam, requireManager } from './request.ts';

const TZ = 'Europe/Moscow';
const dateTime = (d: Date): string => d.toLocaleString('ru-RU', { timeZone: TZ, dateStyle: 'short', timeStyle: 'short' });
const day = (d: string | null): string => (d ? d.split('-').reverse().join('.') : '');
const STATUS: Record<string, string> = { published: 'ждёт скан', 'signed-uploaded': 'скан загружен' };

const managerOf = (s: ManagerSession, request: FastifyRequest) => ({ id: s.manager.id, name: s.manager.name, ip: request.ip, userAgent: request.headers['user-agent'] ?? null });

function Contracts({ docs }: { docs: ClientDocumentView[] }): VNode {
  if (!docs.length) return <p class="empty">Договоров и соглашений пока не опубликовано.</p>;
  return (
    <table class="grid contracts">
      <thead><tr><th>Документ</th><th>Юрлицо / соглашение</th><th>Опубликован</th><th>Статус</th><th>Сканы клиента</th></tr></thead>
      <tbody>
        {docs.map((d) => (
          <tr data-contract={d.id}>
            <td><a href={`/manager/documents/contracts/${d.id}/file`}>{d.title}</a><div><small class="muted">{d.kindName}{d.number ? ` № ${d.number}` : ''}{d.date ? ` от ${day(d.date)}` : ''}</small></div></td>
            <td>{d.legalEntity ?? 'все юрлица'}{d.agreement ? <div><small class="muted">{d.agreement}</small></div> : null}</td>
            <td>{dateTime(d.publishedAt)}{d.publishedBy ? <div><small class="muted">{d.publishedBy}</small></div> : null}</td>
            <td><span class={`badge ${d.status === 'signed-uploaded' ? 'badge-ok' : 'badge-warn'}`}>{STATUS[d.status]}</span></td>
            <td>{d.scans.length ? (
              <ul class="scans">{d.scans.map((s) => <li><a href={`/manager/documents/scans/${s.id}/file`}>{s.fileName}</a> <small class="muted">{dateTime(s.uploadedAt)}{s.uploadedBy ? `, ${s.uploadedBy}` : ''}</small></li>)}</ul>
            ) : <span class="muted">нет</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

interface OrderRow { id: number; number: string; status: string; status_name: string; total: string; currency: string; created_at: Date; le: string; invoice_id: number | null }

export async function managerDocumentsRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { db } = deps;
  const dataDir = deps.config.MAGISTRAL_DATA_DIR;

  const clientPage = async (request: FastifyRequest, flash: { kind: 'ok' | 'error'; text: string } | null, form: Record<string, string> = {}): Promise<VNode> => {
    const s = requireManager(request);
    const clientId = idParam(request);
    const client = await assertOwnClient(db, actorOf(request), clientId, 'documents.view');
    const docs = await clientDocumentsForManager(db, managerOf(s, request), clientId);
    const les = await db.selectFrom('legal_entities').select(['id', 'name', 'inn']).where('client_id', '=', clientId).where('deleted', '=', false).orderBy('name').execute();
    const ags = await db.selectFrom('agreements').select(['id', 'name', 'code']).where('client_id', '=', clientId).where('deleted', '=', false).orderBy('name').execute();
    const orders = (await sql<OrderRow>`
      SELECT o.id, o.number, o.status, st.name AS status_name, o.total::text AS total, o.currency, o.created_at, le.name AS le,
        (SELECT d.id FROM order_documents d WHERE d.order_id = o.id AND d.kind = 'invoice' AND d.source = 'portal') AS invoice_id
      FROM orders o JOIN order_statuses st ON st.code = o.status JOIN legal_entities le ON le.id = o.legal_entity_id
      WHERE o.client_id = ${clientId} AND NOT o.cancelled ORDER BY o.id DESC LIMIT 20`.execute(db)).rows;
    const jobs = new Map<number, Awaited<ReturnType<typeof invoiceJob>>>();
    for (const o of orders) jobs.set(Number(o.id), await invoiceJob(db, Number(o.id)));
    const seller = await readSeller(db);
    return (
      <ManagerLayout s={s} title={`Документы — ${client.name}`} active="documents" flash={flash}>
        <div class="documents-page">
        <p><a href={`/manager/clients/${clientId}`}>← Карточка клиента</a></p>
        <h1>Документы клиента «{client.name}»</h1>
        {!seller.ok && <div class="notice notice-warn">Счета на оплату не формируются: {seller.missing.join(', ')}. Задайте реквизиты продавца: <code>magistral settings set seller.… …</code></div>}
        <h2>Заказы</h2>
        {!orders.length ? <p class="empty">Заказов нет.</p> : (
          <table class="grid orders">
            <thead><tr><th>Заказ</th><th>Юрлицо</th><th>Статус</th><th class="num">Сумма</th><th>Счёт на оплату</th><th></th></tr></thead>
            <tbody>
              {orders.map((o) => {
                const job = jobs.get(Number(o.id));
                return (
                  <tr data-order={o.number}>
                    <td>{o.number}<div><small class="muted">{dateTime(o.created_at)}</small></div></td>
                    <td>{o.le}</td>
                    <td>{o.status_name}</td>
                    <td class="num">{money(o.total, o.currency)}</td>
                    <td class="invoice-state">{o.invoice_id ? <a href={`/manager/documents/order/${o.invoice_id}/file`}>Счёт {o.number} (PDF)</a>
                      : job ? (job.state === 'failing' ? <span class="badge badge-error" title={job.lastError ?? ''}>не сформирован: {job.lastError}</span> : <span class="muted">формируется…</span>)
                        : <span class="muted">после подтверждения</span>}</td>
                    <td>{(o.status === 'new' || o.status === 'accepted') && (
                      <form method="post" action={`/manager/orders/${encodeURIComponent(o.number)}/confirm`}>
                        <ManagerCsrf s={s} /><input type="hidden" name="back" value={`/manager/clients/${clientId}/documents`} />
                        <button type="submit" class="primary">Подтвердить</button>
                      </form>
                    )}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
        <h2>Договоры и соглашения</h2>
        <Contracts docs={docs} />
        <form class="card publish-form" method="post" action={`/manager/clients/${clientId}/documents?_csrf=${encodeURIComponent(s.csrf)}`} enctype="multipart/form-data">
          <h3>Опубликовать договор или соглашение</h3>
          <p class="hint">PDF до 10 МБ. Руководители клиента получат письмо, скачают документ в кабинете и загрузят подписанный скан.</p>
          <div class="form-grid">
            <label>Вид <select name="kind">{Object.entries(CLIENT_DOCUMENT_KINDS).map(([k, v]) => <option value={k} selected={form.kind === k}>{v}</option>)}</select></label>
            <label>Название <input type="text" name="title" required maxLength={300} value={form.title ?? ''} placeholder="Договор поставки № 15/2026" /></label>
            <label>Номер <input type="text" name="number" maxLength={100} value={form.number ?? ''} /></label>
            <label>Дата <input type="date" name="date" value={form.date ?? ''} /></label>
            <label>Юрлицо <select name="legalEntity"><option value="">все юрлица клиента</option>{les.map((l) => <option value={String(l.id)} selected={form.legalEntity === String(l.id)}>{l.name}{l.inn ? `, ИНН ${l.inn}` : ''}</option>)}</select></label>
            <label>Соглашение <select name="agreement"><option value="">—</option>{ags.map((a) => <option value={String(a.id)} selected={form.agreement === String(a.id)}>{a.name}</option>)}</select></label>
            <label>Файл PDF <input type="file" name="file" accept=".pdf,application/pdf" required /></label>
          </div>
          <button type="submit" class="primary">Опубликовать</button>
        </form>
        </div>
      </ManagerLayout>
    );
  };

  app.get('/clients/:id/documents', async (request, reply) => {
    const q = request.query as { published?: string; confirmed?: string; changed?: string };
    const flash = q.published ? { kind: 'ok' as const, text: 'Документ опубликован, руководителям клиента отправлено письмо.' }
      : q.confirmed ? { kind: 'ok' as const, text: q.changed === '1' ? `Заказ ${q.confirmed.slice(0, 40)} подтверждён: счёт на оплату формируется и уйдёт клиенту письмом.` : `Заказ ${q.confirmed.slice(0, 40)} уже подтверждён раньше.` }
        : null;
    return sendPage(reply, await clientPage(request, flash));
  });

  app.post('/clients/:id/documents', async (request, reply) => {
    const s = requireManager(request);
    const clientId = idParam(request);
    await assertOwnClient(db, actorOf(request), clientId, 'contract.publish');
    if (!request.isMultipart()) throw new CabinetError(400, 'Выберите PDF-файл документа.');
    const form: Record<string, string> = {};
    let upload: { name: string; content: Buffer } | undefined;
    try {
      for await (const part of request.parts()) {
        if (part.type === 'file') upload = { name: part.filename, content: await part.toBuffer() };
        else form[part.fieldname] = String(part.value ?? '').trim();
      }
    } catch (e) {
      if ((e as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') return sendPage(reply, await clientPage(request, { kind: 'error', text: 'Файл слишком большой: можно не больше 10 МБ.' }, form), 413);
      throw e;
    }
    if (!upload || !upload.name) return sendPage(reply, await clientPage(request, { kind: 'error', text: 'Выберите PDF-файл документа.' }, form), 400);
    const num = (v: string | undefined) => (v && /^[0-9]{1,15}$/.test(v) ? Number(v) : null);
    try {
      await publishClientDocument(db, dataDir, managerOf(s, request), {
        clientId, kind: (form.kind ?? 'contract') as ClientDocumentKind, title: form.title ?? '', number: form.number || null, date: form.date || null,
        legalEntityId: num(form.legalEntity), agreementId: num(form.agreement), fileName: upload.name, content: upload.content,
      });
    } catch (e) {
      if (e instanceof CabinetError && e.status === 400) return sendPage(reply, await clientPage(request, { kind: 'error', text: e.message }, form), 400);
      throw e;
    }
    return reply.redirect(`/manager/clients/${clientId}/documents?published=1`, 303);
  });

  app.post('/orders/:number/confirm', async (request, reply) => {
    const s = requireManager(request);
    const number = (request.params as { number: string }).number.slice(0, 60);
    const r = await confirmOrder(db, managerOf(s, request), number);
    const back = field(request.body, 'back');
    const to = /^\/manager\/[A-Za-z0-9/_-]*$/.test(back) ? back : '/manager';
    return reply.redirect(`${to}?${new URLSearchParams({ confirmed: r.number, changed: r.changed ? '1' : '0' })}`, 303);
  });

  app.get('/documents', async (request, reply) => {
    const s = requireManager(request);
    const rows = (await sql<{ id: number; client_id: number; client: string; kind: string; title: string; status: string; published_at: Date; last_scan: Date | null }>`
      SELECT c.id, c.client_id, cl.name AS client, c.kind, c.title, c.status, c.published_at,
        (SELECT max(s.uploaded_at) FROM client_document_scans s WHERE s.document_id = c.id) AS last_scan
      FROM client_documents c JOIN clients cl ON cl.id = c.client_id WHERE cl.manager_id = ${s.manager.id}
      ORDER BY last_scan DESC NULLS LAST, c.published_at DESC LIMIT 300`.execute(db)).rows;
    return sendPage(reply, (
      <ManagerLayout s={s} title="Договоры и сканы" active="documents">
        <h1>Договоры и сканы</h1>
        <p class="hint">Документы, опубликованные для ваших клиентов; сверху — с недавно загруженными сканами.</p>
        {!rows.length ? <p class="empty">Пока ничего не опубликовано. Опубликовать договор можно в карточке клиента, раздел «Документы».</p> : (
          <table class="grid">
            <thead><tr><th>Клиент</th><th>Документ</th><th>Опубликован</th><th>Статус</th><th>Последний скан</th></tr></thead>
            <tbody>
              {rows.map((r) => (
                <tr>
                  <td><a href={`/manager/clients/${r.client_id}/documents`}>{r.client}</a></td>
                  <td><a href={`/manager/documents/contracts/${r.id}/file`}>{r.title}</a> <small class="muted">{documentKindName(r.kind)}</small></td>
                  <td>{dateTime(r.published_at)}</td>
                  <td><span class={`badge ${r.status === 'signed-uploaded' ? 'badge-ok' : 'badge-warn'}`}>{STATUS[r.status]}</span></td>
                  <td>{r.last_scan ? dateTime(r.last_scan) : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </ManagerLayout>
    ));
  });

  app.get('/documents/contracts/:id/file', async (request, reply) => {
    const s = requireManager(request);
    return sendDocumentFile(reply, dataDir, db, await fileForManager(db, managerOf(s, request), { contractId: idParam(request) }));
  });
  app.get('/documents/scans/:id/file', async (request, reply) => {
    const s = requireManager(request);
    return sendDocumentFile(reply, dataDir, db, await fileForManager(db, managerOf(s, request), { scanId: idParam(request) }));
  });
  app.get('/documents/order/:id/file', async (request, reply) => {
    const s = requireManager(request);
    const id = idParam(request);
    const d = (await sql<{ sha256: string; file_name: string | null; content_type: string | null }>`
      SELECT d.sha256, d.file_name, d.content_type FROM order_documents d JOIN orders o ON o.id = d.order_id JOIN clients c ON c.id = o.client_id
      WHERE d.id = ${id} AND d.sha256 IS NOT NULL AND c.manager_id = ${s.manager.id}`.execute(db)).rows[0];
    return sendDocumentFile(reply, dataDir, db, d ? { sha256: d.sha256, fileName: d.file_name ?? 'document.pdf', contentType: d.content_type ?? 'application/pdf' } : undefined);
  });
}
