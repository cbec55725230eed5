// "New document" e-mails for closing documents whose file arrived through a flow (file.documents →
// orderDocuments): to the order's contact (or, for an order placed without one, the heads of its legal
// entity). A row's `noticed_sha256` is the file the buyers were last told about; it is set in the same
// transaction as the e-mails, so each file is announced once, and a replaced file (the ERP corrected the
// УПД) is announced again. Written inside the merge's own transaction (src/pipeline/merge.ts): the
// e-mails exist exactly when the documents do. The workers' timer runs it too, for files that arrived
// another way without their e-mails. Generated invoices have their own
// e-mail (order confirmed, the invoice attached) and are not announced here.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/index.ts';
import { documentKindName } from './document-kinds.ts';
import { notify } from './notify.ts';
import { orderRecipients } from './order-events.ts';

type Db = Kysely<Database>;

/** Announces the files not announced yet (rows another worker is announcing are skipped). Answers how many documents. */
export async function documentNotices(db: Db, limit = 500): Promise<number> {
  return db.transaction().execute((trx) => documentNoticesIn(trx, { limit }));
}

/**
 * The same inside a transaction the caller holds (`trx` is a transaction, or Kysely on the merge's client);
 * `runId`: only the rows that run wrote, all of them (the merge announces its own documents); `ids`: only
 * these rows (a batch upload announces what it accepted).
 */
export async function documentNoticesIn(trx: Db, opts: { limit?: number; runId?: number; ids?: readonly number[] } = {}): Promise<number> {
  if (opts.ids && !opts.ids.length) return 0;
  const docs = (await sql<{ id: number; order_id: number; order_number: string; kind: string; number: string | null; date: string | null; sha256: string }>`
    SELECT d.id::int, d.order_id::int, o.number AS order_number, d.kind, d.number, to_char(d.date, 'DD.MM.YYYY') AS date, d.sha256
    FROM order_documents d JOIN orders o ON o.id = d.order_id
    WHERE d.sha256 IS NOT NULL AND d.noticed_sha256 IS DISTINCT FROM d.sha256 AND d.source IS DISTINCT FROM 'portal'
      AND (${opts.runId ?? null}::bigint IS NULL OR d.run_id = ${opts.runId ?? null}::bigint)
      AND (${opts.ids ? `{${opts.ids.join(',')}}` : null}::bigint[] IS NULL OR d.id = ANY(${opts.ids ? `{${opts.ids.join(',')}}` : null}::bigint[]))
    ORDER BY d.id LIMIT ${opts.limit ?? null}::int
    FOR UPDATE OF d SKIP LOCKED`.execute(trx)).rows;
  for (const d of docs) {
    const title = `${documentKindName(d.kind)}${d.number ? ` № ${d.number}` : ''}`;
    for (const contactId of await orderRecipients(trx, d.order_id)) {
      await notify(trx, {
        kind: 'document-new', to: { contactId },
        subject: `Заказ ${d.order_number}: ${title}`,
        text: `Здравствуйте!\n\nПо заказу ${d.order_number} получен документ: ${title}${d.date ? ` от ${d.date}` : ''}.\nОн в личном кабинете: страница заказа и раздел «Документы».\n`,
        // The key the batch upload uses too: a file announced there is not announced again here.
        dedupeKey: `document-new:${d.id}:${d.sha256}:${contactId}`,
      });
    }
    await sql`UPDATE order_documents SET noticed_sha256 = sha256 WHERE id = ${d.id}`.execute(trx);
  }
  return docs.length;
}
