// The documents a client's contact sees (the cabinet's documents section and order page) and the ones
// a manager publishes: invoices and closing documents of orders, contracts and supplements with their
// scans. Every read is bounded by the viewer here, in the service: a document of another client, an
// order the contact may not see, or a contract for a subordinate looks absent (undefined → 404).
import { sql, type Kysely, type RawBuilder, type SqlBool } from 'kysely';
import type { Database } from '../db/index.ts';
import { CabinetError } from '../cabinet/errors.ts';
import { audit, type Actor } from './audit.ts';
import { assertOwnClient } from './managers.ts';
import { CLIENT_DOCUMENT_KINDS, documentKindName, type ClientDocumentKind } from './document-kinds.ts';
import { storeFile } from './files.ts';
import { FileRefused, nameFor, sniffUpload } from './file-type.ts';
import { notify } from './notify.ts';

type Db = Kysely<Database>;

export interface DocumentViewer {
  clientId: number;
  contactId: number;
}

/**
 * Whether the contact sees contracts (of a legal entity, or of the client when the column is NULL): the
 * staged rights of src/backoffice/rights.ts — a head of the holding (head in any of its legal entities)
 * sees all; a contact whose authority a head confirmed (stage 2) sees those of that legal entity and the
 * client-wide ones; a stage-1 contact sees none.
 */
export function mayViewContractsSql(contactId: number, legalEntityCol: RawBuilder<unknown> | null): RawBuilder<SqlBool> {
  const head = sql<SqlBool>`EXISTS (SELECT 1 FROM contact_legal_entities x WHERE x.contact_id = ${contactId} AND x.role = 'head')`;
  const confirmedAnywhere = sql<SqlBool>`EXISTS (SELECT 1 FROM contact_rights r WHERE r.contact_id = ${contactId} AND r.authority_confirmed_at IS NOT NULL)`;
  if (legalEntityCol === null) return sql<SqlBool>`(${head} OR ${confirmedAnywhere})`;
  return sql<SqlBool>`(${head} OR (${legalEntityCol} IS NULL AND ${confirmedAnywhere})
    OR EXISTS (SELECT 1 FROM contact_rights r WHERE r.contact_id = ${contactId} AND r.legal_entity_id = ${legalEntityCol} AND r.authority_confirmed_at IS NOT NULL))`;
}

export async function mayViewContracts(db: Db, viewer: DocumentViewer): Promise<boolean> {
  const r = await sql<{ ok: boolean }>`SELECT ${mayViewContractsSql(viewer.contactId, null)} AS ok`.execute(db);
  return r.rows[0]?.ok === true;
}

/**
 * Orders the viewer sees (as src/orders/read.ts and rights.ts: a head of the holding — head in any of the
 * client's legal entities — every order of the client; a subordinate its own; a portal frontend acting
 * for the whole client, contactId null, every order of it).
 */
const orderVisible = (v: { clientId: number; contactId: number | null }) => (v.contactId === null
  ? sql<SqlBool>`o.client_id = ${v.clientId}`
  : sql<SqlBool>`o.client_id = ${v.clientId} AND (o.contact_id = ${v.contactId}
  OR EXISTS (SELECT 1 FROM contact_legal_entities h JOIN legal_entities hl ON hl.id = h.legal_entity_id
    WHERE h.contact_id = ${v.contactId} AND h.role = 'head' AND hl.client_id = ${v.clientId}))`);

/** The documents of one order the viewer sees (the portal API's order documents); undefined when it does not see the order. */
export async function orderDocuments(db: Db, viewer: { clientId: number; contactId: number | null }, orderNumber: string): Promise<DocumentRow[] | undefined> {
  const o = (await sql<{ id: number }>`SELECT o.id FROM orders o WHERE o.number = ${orderNumber} AND ${orderVisible(viewer)}`.execute(db)).rows[0];
  if (!o) return undefined;
  const r = await sql<{ id: number; kind: string; number: string | null; date: string | null; amount: string | null; has_file: boolean; file_name: string | null; at: Date }>`
    SELECT d.id, d.kind, d.number, to_char(d.date, 'YYYY-MM-DD') AS date, d.amount::text AS amount, d.sha256 IS NOT NULL AS has_file, d.file_name, d.created_at AS at
    FROM order_documents d WHERE d.order_id = ${o.id} ORDER BY d.date NULLS LAST, d.id`.execute(db);
  return r.rows.map((d) => ({ scope: 'order', id: Number(d.id), kind: d.kind, kindName: documentKindName(d.kind), title: null, number: d.number, date: d.date, amount: d.amount,
    orderNumber, legalEntity: null, hasFile: d.has_file, fileName: d.file_name, status: null, scans: 0, at: d.at }));
}

export interface DocumentRow {
  /** 'order' documents belong to an order; 'client' ones are contracts and supplements. */
  scope: 'order' | 'client';
  id: number;
  kind: string;
  kindName: string;
  title: string | null;
  number: string | null;
  date: string | null;
  amount: string | null;
  orderNumber: string | null;
  legalEntity: string | null;
  hasFile: boolean;
  fileName: string | null;
  /** Contracts: published → signed-uploaded. */
  status: string | null;
  scans: number;
  at: Date;
}

export interface DocumentFilter {
  /** A kind code ('invoice', 'upd', 'contract' …), or 'closing' for every closing document. */
  kind?: string;
  from?: string;
  to?: string;
}

const CLOSING = ['upd', 'waybill', 'invoice-facture', 'act', 'shipment'];

/** The viewer's documents, newest first (at most `limit`). */
export async function listDocuments(db: Db, viewer: DocumentViewer, f: DocumentFilter = {}, limit = 200): Promise<DocumentRow[]> {
  const kinds = f.kind === undefined ? null : f.kind === 'closing' ? CLOSING : [f.kind];
  const wantOrders = kinds === null || kinds.some((k) => !(k in CLIENT_DOCUMENT_KINDS));
  const wantClient = kinds === null || kinds.some((k) => k in CLIENT_DOCUMENT_KINDS);
  const from = f.from ?? null;
  const to = f.to ?? null;
  const rows: DocumentRow[] = [];
  if (wantOrders) {
    const r = await sql<{ id: number; kind: string; number: string | null; date: string | null; amount: string | null; order_number: string; le: string; has_file: boolean; file_name: string | null; at: Date }>`
      SELECT d.id, d.kind, d.number, to_char(d.date, 'YYYY-MM-DD') AS date, d.amount::text AS amount, o.number AS order_number, le.name AS le,
        d.sha256 IS NOT NULL AS has_file, d.file_name, d.created_at AS at
      FROM order_documents d JOIN orders o ON o.id = d.order_id JOIN legal_entities le ON le.id = o.legal_entity_id
      WHERE ${orderVisible(viewer)}
        AND (${kinds}::text[] IS NULL OR d.kind = ANY(${kinds}::text[]))
        AND (${from}::date IS NULL OR coalesce(d.date, d.created_at::date) >= ${from}::date)
        AND (${to}::date IS NULL OR coalesce(d.date, d.created_at::date) <= ${to}::date)
      ORDER BY coalesce(d.date, d.created_at::date) DESC, d.id DESC LIMIT ${limit}`.execute(db);
    for (const d of r.rows) {
      rows.push({ scope: 'order', id: Number(d.id), kind: d.kind, kindName: documentKindName(d.kind), title: null, number: d.number, date: d.date, amount: d.amount,
        orderNumber: d.order_number, legalEntity: d.le, hasFile: d.has_file, fileName: d.file_name, status: null, scans: 0, at: d.at });
    }
  }
  if (wantClient) {
    const r = await sql<{ id: number; kind: string; title: string; number: string | null; date: string | null; le: string | null; status: string; scans: number; file_name: string; at: Date }>`
      SELECT c.id, c.kind, c.title, c.number, to_char(c.date, 'YYYY-MM-DD') AS date, le.name AS le, c.status, c.file_name, c.published_at AS at,
        (SELECT count(*)::int FROM client_document_scans s WHERE s.document_id = c.id) AS scans
      FROM client_documents c LEFT JOIN legal_entities le ON le.id = c.legal_entity_id
      WHERE c.client_id = ${viewer.clientId} AND ${mayViewContractsSql(viewer.contactId, sql`c.legal_entity_id`)}
        AND (${kinds}::text[] IS NULL OR c.kind = ANY(${kinds}::text[]))
        AND (${from}::date IS NULL OR coalesce(c.date, c.published_at::date) >= ${from}::date)
        AND (${to}::date IS NULL OR coalesce(c.date, c.published_at::date) <= ${to}::date)
      ORDER BY c.published_at DESC, c.id DESC LIMIT ${limit}`.execute(db);
    for (const c of r.rows) {
      rows.push({ scope: 'client', id: Number(c.id), kind: c.kind, kindName: documentKindName(c.kind), title: c.title, number: c.number, date: c.date, amount: null,
        orderNumber: null, legalEntity: c.le, hasFile: true, fileName: c.file_name, status: c.status, scans: c.scans, at: c.at });
    }
  }
  const key = (d: DocumentRow) => d.date ?? d.at.toISOString().slice(0, 10);
  return rows.sort((a, b) => key(b).localeCompare(key(a)) || b.at.getTime() - a.at.getTime()).slice(0, limit);
}

export interface DocumentFile {
  sha256: string;
  fileName: string;
  contentType: string;
}

/** The file of an order's document, when the viewer sees that order; else undefined (404). */
export async function orderDocumentFile(db: Db, viewer: { clientId: number; contactId: number | null }, id: number): Promise<DocumentFile | undefined> {
  const r = await sql<{ sha256: string; file_name: string | null; content_type: string | null; kind: string; number: string | null }>`
    SELECT d.sha256, d.file_name, d.content_type, d.kind, d.number FROM order_documents d JOIN orders o ON o.id = d.order_id
    WHERE d.id = ${id} AND d.sha256 IS NOT NULL AND ${orderVisible(viewer)}`.execute(db);
  const d = r.rows[0];
  if (!d) return undefined;
  return { sha256: d.sha256, fileName: d.file_name ?? `${documentKindName(d.kind)} ${d.number ?? ''}.pdf`.replace(' .pdf', '.pdf'), contentType: d.content_type ?? 'application/pdf' };
}

/** A contract's file for a contact who may see it; else undefined (404). */
export async function clientDocumentFile(db: Db, viewer: DocumentViewer, id: number): Promise<DocumentFile | undefined> {
  const r = await sql<{ sha256: string; file_name: string }>`
    SELECT c.sha256, c.file_name FROM client_documents c
    WHERE c.id = ${id} AND c.client_id = ${viewer.clientId} AND ${mayViewContractsSql(viewer.contactId, sql`c.legal_entity_id`)}`.execute(db);
  const d = r.rows[0];
  return d ? { sha256: d.sha256, fileName: d.file_name, contentType: 'application/pdf' } : undefined;
}

export interface ScanView {
  id: number;
  fileName: string;
  contentType: string;
  sizeBytes: number;
  uploadedBy: string | null;
  uploadedAt: Date;
}

async function scansOf(db: Db, documentId: number): Promise<ScanView[]> {
  const r = await sql<{ id: number; file_name: string; content_type: string; size_bytes: number; who: string | null; uploaded_at: Date }>`
    SELECT s.id, s.file_name, s.content_type, s.size_bytes, c.name AS who, s.uploaded_at FROM client_document_scans s
    LEFT JOIN contacts c ON c.id = s.uploaded_by WHERE s.document_id = ${documentId} ORDER BY s.uploaded_at, s.id`.execute(db);
  return r.rows.map((s) => ({ id: Number(s.id), fileName: s.file_name, contentType: s.content_type, sizeBytes: Number(s.size_bytes), uploadedBy: s.who, uploadedAt: s.uploaded_at }));
}

export interface ClientDocumentView {
  id: number;
  clientId: number;
  kind: ClientDocumentKind;
  kindName: string;
  title: string;
  number: string | null;
  date: string | null;
  legalEntity: string | null;
  agreement: string | null;
  fileName: string;
  status: 'published' | 'signed-uploaded';
  publishedBy: string | null;
  publishedAt: Date;
  scans: ScanView[];
}

async function clientDocumentViews(db: Db, where: RawBuilder<SqlBool>): Promise<ClientDocumentView[]> {
  const r = await sql<{ id: number; client_id: number; kind: ClientDocumentKind; title: string; number: string | null; date: string | null; le: string | null; ag: string | null; file_name: string; status: 'published' | 'signed-uploaded'; by: string | null; published_at: Date }>`
    SELECT c.id, c.client_id, c.kind, c.title, c.number, to_char(c.date, 'YYYY-MM-DD') AS date, le.name AS le, ag.name AS ag, c.file_name, c.status, m.name AS by, c.published_at
    FROM client_documents c LEFT JOIN legal_entities le ON le.id = c.legal_entity_id LEFT JOIN agreements ag ON ag.id = c.agreement_id
    LEFT JOIN managers m ON m.id = c.published_by WHERE ${where} ORDER BY c.published_at DESC, c.id DESC`.execute(db);
  const out: ClientDocumentView[] = [];
  for (const c of r.rows) {
    out.push({ id: Number(c.id), clientId: Number(c.client_id), kind: c.kind, kindName: documentKindName(c.kind), title: c.title, number: c.number, date: c.date, legalEntity: c.le, agreement: c.ag,
      fileName: c.file_name, status: c.status, publishedBy: c.by, publishedAt: c.published_at, scans: await scansOf(db, Number(c.id)) });
  }
  return out;
}

/** One contract with its scans for a contact who may see it; else undefined (404). */
export async function clientDocumentForContact(db: Db, viewer: DocumentViewer, id: number): Promise<ClientDocumentView | undefined> {
  return (await clientDocumentViews(db, sql<SqlBool>`c.id = ${id} AND c.client_id = ${viewer.clientId} AND ${mayViewContractsSql(viewer.contactId, sql`c.legal_entity_id`)}`))[0];
}

// --- The manager's side -------------------------------------------------------------------------

export interface ManagerActor {
  id: number;
  name?: string | null;
  ip?: string | null;
  userAgent?: string | null;
}

const managerActor = (m: ManagerActor): Actor => ({ kind: 'manager', id: m.id, name: m.name ?? null, ip: m.ip ?? null, userAgent: m.userAgent ?? null });

/** The client when it is the manager's own; 404 when unknown, 403 (audited) when another manager's. */
async function ownClient(db: Db, m: ManagerActor, clientId: number, action: string): Promise<{ id: number; name: string }> {
  return assertOwnClient(db, managerActor(m) as Actor & { kind: 'manager' }, clientId, action);
}

/** Contracts of an own client with their scans (the manager's client card). */
export async function clientDocumentsForManager(db: Db, m: ManagerActor, clientId: number): Promise<ClientDocumentView[]> {
  await ownClient(db, m, clientId, 'documents.view');
  return clientDocumentViews(db, sql<SqlBool>`c.client_id = ${clientId}`);
}

/** A contract's or a scan's file for the manager of its client; else undefined (404). */
export async function fileForManager(db: Db, m: ManagerActor, what: { contractId: number } | { scanId: number }): Promise<DocumentFile | undefined> {
  if ('contractId' in what) {
    const r = await sql<{ sha256: string; file_name: string }>`SELECT c.sha256, c.file_name FROM client_documents c JOIN clients cl ON cl.id = c.client_id
      WHERE c.id = ${what.contractId} AND cl.manager_id = ${m.id}`.execute(db);
    const d = r.rows[0];
    return d ? { sha256: d.sha256, fileName: d.file_name, contentType: 'application/pdf' } : undefined;
  }
  const r = await sql<{ sha256: string; file_name: string; content_type: string }>`SELECT s.sha256, s.file_name, s.content_type FROM client_document_scans s
    JOIN client_documents c ON c.id = s.document_id JOIN clients cl ON cl.id = c.client_id WHERE s.id = ${what.scanId} AND cl.manager_id = ${m.id}`.execute(db);
  const d = r.rows[0];
  return d ? { sha256: d.sha256, fileName: d.file_name, contentType: d.content_type } : undefined;
}

export interface PublishInput {
  clientId: number;
  kind: ClientDocumentKind;
  title: string;
  number?: string | null;
  /** `YYYY-MM-DD`. */
  date?: string | null;
  legalEntityId?: number | null;
  agreementId?: number | null;
  fileName: string;
  content: Uint8Array;
}

/**
 * A manager publishes a contract or supplement (PDF) for an own client: stored, recorded, audited, and
 * the client's heads (who see contracts) get a 'document-new' e-mail — in one transaction.
 */
export async function publishClientDocument(db: Db, dataDir: string, m: ManagerActor, p: PublishInput): Promise<number> {
  const client = await ownClient(db, m, p.clientId, 'contract.publish');
  if (!(p.kind in CLIENT_DOCUMENT_KINDS)) throw new CabinetError(400, 'Выберите вид документа: договор или дополнительное соглашение', 'kind');
  const title = p.title.trim();
  if (!title) throw new CabinetError(400, 'Укажите название документа, например «Договор поставки № 15/2026»', 'title');
  if (title.length > 300) throw new CabinetError(400, 'Название документа длиннее 300 знаков', 'title');
  if (p.date && !(/^\d{4}-\d{2}-\d{2}$/.test(p.date) && !Number.isNaN(Date.parse(`${p.date}T00:00:00Z`)))) throw new CabinetError(400, 'Дата документа указана неверно', 'date');
  if (p.legalEntityId != null) {
    const le = await db.selectFrom('legal_entities').select('id').where('id', '=', p.legalEntityId).where('client_id', '=', client.id).executeTakeFirst();
    if (!le) throw new CabinetError(400, 'Юрлицо не принадлежит этому клиенту', 'legalEntity');
  }
  if (p.agreementId != null) {
    const ag = await db.selectFrom('agreements').select('id').where('id', '=', p.agreementId).where('client_id', '=', client.id).executeTakeFirst();
    if (!ag) throw new CabinetError(400, 'Соглашение не принадлежит этому клиенту', 'agreement');
  }
  try {
    sniffUpload(p.content, p.fileName, { what: 'Документ', allowed: ['application/pdf'] });
  } catch (e) {
    if (e instanceof FileRefused) throw new CabinetError(400, e.message, 'file');
    throw e;
  }
  const fileName = nameFor(p.fileName, 'application/pdf');
  return db.transaction().execute(async (trx) => {
    const file = await storeFile(trx, dataDir, p.content, 'application/pdf');
    const row = await trx.insertInto('client_documents').values({
      client_id: client.id, legal_entity_id: p.legalEntityId ?? null, agreement_id: p.agreementId ?? null, kind: p.kind, title,
      number: p.number?.trim() || null, date: p.date || null, sha256: file.sha256, file_name: fileName, published_by: m.id,
    }).returning('id').executeTakeFirstOrThrow();
    const id = Number(row.id);
    await audit(trx, managerActor(m), { action: 'contract.publish', clientId: client.id, details: { document: id, kind: p.kind, title, sha256: file.sha256 } });
    const heads = await sql<{ id: number }>`
      SELECT DISTINCT x.contact_id AS id FROM contact_legal_entities x JOIN legal_entities le ON le.id = x.legal_entity_id
      JOIN contacts c ON c.id = x.contact_id AND NOT c.deleted
      WHERE le.client_id = ${client.id} AND x.role = 'head' AND (${p.legalEntityId ?? null}::bigint IS NULL OR x.legal_entity_id = ${p.legalEntityId ?? null})`.execute(trx);
    for (const h of heads.rows) {
      await notify(trx, {
        kind: 'document-new', to: { contactId: Number(h.id) },
        subject: `Новый документ: ${title}`,
        text: `Здравствуйте!\n\nМенеджер опубликовал ${documentKindName(p.kind).toLowerCase()} «${title}». Скачайте его в личном кабинете (раздел «Документы»), подпишите и загрузите скан там же.\n`,
        dedupeKey: `document-new:client:${id}:${h.id}`,
      });
    }
    return id;
  });
}

/**
 * A contact uploads the signed scan of a contract it sees: PDF, JPEG or PNG by content, at most 10 MB.
 * Stored, recorded (the contract becomes signed-uploaded), audited, and the client's manager gets a
 * 'contract-scan' e-mail — in one transaction. A refused file leaves nothing behind.
 */
export async function uploadScan(db: Db, dataDir: string, viewer: DocumentViewer & { name?: string | null; ip?: string | null; impersonationId?: number | null }, documentId: number, fileName: string, content: Uint8Array): Promise<ScanView> {
  const doc = await clientDocumentForContact(db, viewer, documentId);
  if (!doc) throw new CabinetError(404, 'Документ не найден');
  let type;
  try {
    type = sniffUpload(content, fileName, { what: 'Скан' });
  } catch (e) {
    if (e instanceof FileRefused) throw new CabinetError(400, e.message, 'file');
    throw e;
  }
  const name = nameFor(fileName, type);
  return db.transaction().execute(async (trx) => {
    const file = await storeFile(trx, dataDir, content, type);
    const row = await trx.insertInto('client_document_scans').values({
      document_id: doc.id, sha256: file.sha256, file_name: name, content_type: type, size_bytes: file.sizeBytes, uploaded_by: viewer.contactId,
    }).returning(['id', 'uploaded_at']).executeTakeFirstOrThrow();
    await trx.updateTable('client_documents').set({ status: 'signed-uploaded' }).where('id', '=', doc.id).execute();
    await audit(trx, { kind: 'contact', id: viewer.contactId, name: viewer.name ?? null, ip: viewer.ip ?? null, impersonationId: viewer.impersonationId ?? null },
      { action: 'contract.scan.upload', clientId: viewer.clientId, details: { document: doc.id, scan: Number(row.id), sha256: file.sha256, type } });
    const c = (await sql<{ manager_id: number | null; client: string; contact: string }>`
      SELECT cl.manager_id, cl.name AS client, ct.name AS contact FROM clients cl, contacts ct WHERE cl.id = ${viewer.clientId} AND ct.id = ${viewer.contactId}`.execute(trx)).rows[0];
    if (c?.manager_id != null) {
      await notify(trx, {
        kind: 'contract-scan', to: { managerId: Number(c.manager_id) },
        subject: `Скан подписанного документа: ${doc.title} — ${c.client}`,
        text: `Клиент «${c.client}» (${c.contact}) загрузил скан документа «${doc.title}»: файл ${name}, ${(file.sizeBytes / 1024).toFixed(0)} КБ.\n`
          + `Скан — в карточке клиента в рабочем месте менеджера (/manager/clients/${viewer.clientId}).\n`,
        dedupeKey: `contract-scan:${Number(row.id)}`,
      });
    }
    return { id: Number(row.id), fileName: name, contentType: type, sizeBytes: file.sizeBytes, uploadedBy: c?.contact ?? null, uploadedAt: row.uploaded_at };
  });
}
