// The documents section of the cabinet: invoices and closing documents of the orders the contact sees,
// contracts and supplements (for those who see contracts) with their scan status, filters by kind and
// period; a contract's page to download it and upload the signed scan. Files are served only through
// a row the viewer may see (services in src/backoffice/documents.ts): a forged or foreign id is a 404.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { VNode } from 'preact';
import type { ServerDeps } from '../../api/deps.ts';
import { CabinetError } from '../../cabinet/errors.ts';
import type { SignedInContext } from '../../cabinet/context.ts';
import { ORDER_DOCUMENT_KINDS, CLIENT_DOCUMENT_KINDS } from '../../backoffice/document-kinds.ts';
import { clientDocumentFile, clientDocumentForContact, listDocuments, mayViewContracts, orderDocumentFile, uploadScan, type ClientDocumentView, type DocumentFile, type DocumentFilter } from '../../backoffice/documents.ts';
import { contentDisposition, openStoredFile } from '../../backoffice/files.ts';
import { MAX_SCAN_BYTES } from '../../backoffice/file-type.ts';
import { sql } from 'kysely';
import { money, sendPage } from '../render.tsx';
import { Layout } from './layout.tsx';
import { requireContact } from './request.ts';

const TZ = 'Europe/Moscow';
const day = (iso: string | Date | null): string => (iso ? (typeof iso === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(iso) ? iso.split('-').reverse().join('.') : new Date(iso).toLocaleDateString('ru-RU', { timeZone: TZ })) : '—');
const dateTime = (d: Date): string => d.toLocaleString('ru-RU', { timeZone: TZ, dateStyle: 'short', timeStyle: 'short' });
const ID = /^[1-9][0-9]{0,14}$/;

/** A download through a row the viewer may see: attachment, the stored type, nosniff, no caching. */
export async function sendDocumentFile(reply: FastifyReply, dataDir: string, db: ServerDeps['db'], f: DocumentFile | undefined, inline = false): Promise<FastifyReply> {
  const opened = f ? await openStoredFile(db, dataDir, f.sha256) : undefined;
  if (!f || !opened) throw new CabinetError(404, 'Документ не найден');
  return reply.header('content-type', f.contentType).header('content-length', String(opened.file.sizeBytes))
    .header('content-disposition', contentDisposition(f.fileName, inline)).header('x-content-type-options', 'nosniff')
    .header('cache-control', 'private, no-store').send(opened.stream);
}

const viewerOf = (ctx: SignedInContext) => ({ clientId: ctx.client.id, contactId: ctx.contact.id });

function idParam(request: FastifyRequest): number {
  const id = (request.params as { id: string }).id;
  if (!ID.test(id)) throw new CabinetError(404, 'Документ не найден');
  return Number(id);
}

const STATUS_TEXT: Record<string, string> = { published: 'Ждёт подписанный скан', 'signed-uploaded': 'Скан загружен' };

function ContractPage({ ctx, cart, doc, flash }: { ctx: SignedInContext; cart: Parameters<typeof Layout>[0]['cart']; doc: ClientDocumentView; flash?: { kind: 'ok' | 'error'; text: string } | null }): VNode {
  return (
    <Layout ctx={ctx} cart={cart} title={doc.title} active="documents" flash={flash ?? null}>
      <p><a href="/cabinet/documents">← Все документы</a></p>
      <h1>{doc.title}</h1>
      <div class="cards">
        <section class="card">
          <dl class="requisites">
            <dt>Вид</dt><dd>{doc.kindName}</dd>
            {doc.number && <><dt>Номер</dt><dd>{doc.number}</dd></>}
            {doc.date && <><dt>Дата</dt><dd>{day(doc.date)}</dd></>}
            {doc.legalEntity && <><dt>Юрлицо</dt><dd>{doc.legalEntity}</dd></>}
            {doc.agreement && <><dt>Соглашение</dt><dd>{doc.agreement}</dd></>}
            <dt>Опубликован</dt><dd>{dateTime(doc.publishedAt)}{doc.publishedBy ? `, менеджер ${doc.publishedBy}` : ''}</dd>
            <dt>Статус</dt><dd><span class={`doc-status doc-status-${doc.status}`}>{STATUS_TEXT[doc.status]}</span></dd>
          </dl>
          <p><a class="button primary" href={`/cabinet/documents/contracts/${doc.id}/file`} download>Скачать {doc.fileName}</a></p>
        </section>
        <section class="card">
          <h2>Подписанный скан</h2>
          <p class="hint">Скачайте документ, подпишите, отсканируйте и загрузите сюда: PDF, JPEG или PNG, не больше {MAX_SCAN_BYTES / 1024 / 1024} МБ. Менеджер получит уведомление.</p>
          <form class="upload-form" method="post" action={`/cabinet/documents/contracts/${doc.id}/scan?_csrf=${encodeURIComponent(ctx.session.csrf)}`} enctype="multipart/form-data">
            <label for="scan-file">Файл скана</label>
            <div class="upload-row">
              <input id="scan-file" type="file" name="file" accept=".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png" required />
              <button type="submit" class="primary">Загрузить скан</button>
            </div>
          </form>
          {doc.scans.length > 0 && (
            <ul class="documents scans">
              {doc.scans.map((s) => <li><a href={`/cabinet/documents/scans/${s.id}/file`}>{s.fileName}</a> <small class="muted">{dateTime(s.uploadedAt)}{s.uploadedBy ? `, ${s.uploadedBy}` : ''}, {Math.max(1, Math.round(s.sizeBytes / 1024))} КБ</small></li>)}
            </ul>
          )}
        </section>
      </div>
    </Layout>
  );
}

export async function documentsRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const { db } = deps;
  const dataDir = deps.config.MAGISTRAL_DATA_DIR;

  app.get('/documents', async (request, reply) => {
    const ctx = requireContact(request);
    const q = request.query as Record<string, string | undefined>;
    const contracts = await mayViewContracts(db, viewerOf(ctx));
    const kinds: Array<[string, string]> = [
      ['invoice', ORDER_DOCUMENT_KINDS.invoice], ['closing', 'Закрывающие (все)'],
      ['upd', ORDER_DOCUMENT_KINDS.upd], ['waybill', ORDER_DOCUMENT_KINDS.waybill], ['invoice-facture', ORDER_DOCUMENT_KINDS['invoice-facture']], ['act', ORDER_DOCUMENT_KINDS.act],
      ['payment', ORDER_DOCUMENT_KINDS.payment],
      ...(contracts ? ([['contract', CLIENT_DOCUMENT_KINDS.contract], ['supplement', CLIENT_DOCUMENT_KINDS.supplement]] as Array<[string, string]>) : []),
    ];
    const okDate = (v: string | undefined) => (v && /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`)) ? v : undefined);
    if ((q.from && !okDate(q.from)) || (q.to && !okDate(q.to))) throw new CabinetError(400, 'Неверный период: укажите даты в формате ДД.ММ.ГГГГ');
    const filter: DocumentFilter = {};
    if (q.kind && kinds.some(([k]) => k === q.kind)) filter.kind = q.kind;
    if (okDate(q.from)) filter.from = q.from!;
    if (okDate(q.to)) filter.to = q.to!;
    const docs = await listDocuments(db, viewerOf(ctx), filter);
    const any = Object.keys(filter).length > 0;
    const many = ctx.legalEntities.length > 1;
    return sendPage(reply, (
      <Layout ctx={ctx} cart={request.cabinetCart} title="Документы" active="documents">
        <h1>Документы</h1>
        <p class="hint">Счета на оплату, закрывающие документы по заказам{contracts ? ', договоры и дополнительные соглашения' : ''}.
          {!contracts && ' Договоры видит руководитель.'}</p>
        <form method="get" action="/cabinet/documents" class="orders-filters">
          <label>Вид
            <select name="kind"><option value="">все</option>{kinds.map(([k, name]) => <option value={k} selected={k === filter.kind}>{name}</option>)}</select>
          </label>
          <label>С <input type="date" name="from" value={filter.from ?? ''} /></label>
          <label>По <input type="date" name="to" value={filter.to ?? ''} /></label>
          <button type="submit" class="primary">Показать</button>
          {any && <a href="/cabinet/documents" class="button">Сбросить</a>}
        </form>
        {!docs.length ? <p class="empty">{any ? 'Документов с такими условиями нет.' : 'Документов пока нет: счёт появится, когда заказ подтвердят.'}</p> : (
          <table class="orders-table documents-table">
            <thead><tr><th>Документ</th><th>Дата</th><th>Заказ</th>{many && <th>Юрлицо</th>}<th class="num">Сумма</th><th>Статус</th><th></th></tr></thead>
            <tbody>
              {docs.map((d) => (
                <tr data-doc={`${d.scope}-${d.id}`}>
                  <td>
                    {d.scope === 'client'
                      ? <a href={`/cabinet/documents/contracts/${d.id}`}>{d.title}</a>
                      : <>{d.kindName}{d.number ? ` № ${d.number}` : ''}</>}
                    {d.scope === 'client' && <div><small class="muted">{d.kindName}{d.number ? ` № ${d.number}` : ''}</small></div>}
                  </td>
                  <td>{day(d.date ?? d.at)}</td>
                  <td>{d.orderNumber ? <a href={`/cabinet/orders/${encodeURIComponent(d.orderNumber)}`}>{d.orderNumber}</a> : '—'}</td>
                  {many && <td>{d.legalEntity ?? 'все юрлица'}</td>}
                  <td class="num">{d.amount ? money(d.amount, 'RUB') : ''}</td>
                  <td>{d.status ? <span class={`doc-status doc-status-${d.status}`}>{STATUS_TEXT[d.status]}</span> : ''}</td>
                  <td>{d.hasFile
                    ? <a href={d.scope === 'client' ? `/cabinet/documents/contracts/${d.id}/file` : `/cabinet/documents/order/${d.id}/file`}>Скачать</a>
                    : <small class="muted">только реквизиты</small>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Layout>
    ));
  });

  app.get('/documents/order/:id/file', async (request, reply) => {
    const ctx = requireContact(request);
    return sendDocumentFile(reply, dataDir, db, await orderDocumentFile(db, viewerOf(ctx), idParam(request)));
  });

  app.get('/documents/contracts/:id/file', async (request, reply) => {
    const ctx = requireContact(request);
    return sendDocumentFile(reply, dataDir, db, await clientDocumentFile(db, viewerOf(ctx), idParam(request)));
  });

  app.get('/documents/scans/:id/file', async (request, reply) => {
    const ctx = requireContact(request);
    const scanId = idParam(request);
    // A scan through its contract: the viewer must see the contract.
    const s = (await sql<{ document_id: number; sha256: string; file_name: string; content_type: string }>`
      SELECT document_id, sha256, file_name, content_type FROM client_document_scans WHERE id = ${scanId}`.execute(db)).rows[0];
    const doc = s ? await clientDocumentForContact(db, viewerOf(ctx), Number(s.document_id)) : undefined;
    return sendDocumentFile(reply, dataDir, db, doc && s ? { sha256: s.sha256, fileName: s.file_name, contentType: s.content_type } : undefined);
  });

  app.get('/documents/contracts/:id', async (request, reply) => {
    const ctx = requireContact(request);
    const doc = await clientDocumentForContact(db, viewerOf(ctx), idParam(request));
    if (!doc) throw new CabinetError(404, 'Документ не найден');
    const uploaded = (request.query as { uploaded?: string }).uploaded;
    return sendPage(reply, <ContractPage ctx={ctx} cart={request.cabinetCart} doc={doc} flash={uploaded ? { kind: 'ok', text: 'Скан загружен. Менеджер получил уведомление.' } : null} />);
  });

  app.post('/documents/contracts/:id/scan', async (request, reply) => {
    const ctx = requireContact(request);
    const id = idParam(request);
    const viewer = viewerOf(ctx);
    const doc = await clientDocumentForContact(db, viewer, id);
    if (!doc) throw new CabinetError(404, 'Документ не найден');
    const refuse = async (text: string, status = 400) => sendPage(reply, <ContractPage ctx={ctx} cart={request.cabinetCart} doc={doc} flash={{ kind: 'error', text }} />, status);
    if (!request.isMultipart()) return refuse('Выберите файл скана и нажмите «Загрузить скан».');
    let file;
    let content: Buffer;
    try {
      file = await request.file();
      if (!file || !file.filename) return refuse('Выберите файл скана и нажмите «Загрузить скан».');
      content = await file.toBuffer();
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'FST_REQ_FILE_TOO_LARGE' || (e as { statusCode?: number }).statusCode === 413) return refuse(`Скан слишком большой: можно не больше ${MAX_SCAN_BYTES / 1024 / 1024} МБ.`, 413);
      throw e;
    }
    try {
      await uploadScan(db, dataDir, { ...viewer, name: ctx.contact.name, ip: request.ip, impersonationId: ctx.impersonation?.id ?? null }, id, file.filename, content);
    } catch (e) {
      if (e instanceof CabinetError && e.status === 400) return refuse(e.message);
      throw e;
    }
    return reply.redirect(`/cabinet/documents/contracts/${id}?uploaded=1`, 303);
  });
}
