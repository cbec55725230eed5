// The invoice worker: for each invoice job (written by order-events.ts in the transaction of the move
// to 'confirmed') it makes the invoice PDF, stores it, records the order's document and writes the 'order-confirmed'
// e-mail with the invoice attached — all in one transaction; a failure is retried with backoff and its
// reason kept on the job for the manager and the console.
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/index.ts';
import type { Logger } from '../telemetry/logger.ts';
import { storeFile } from './files.ts';
import { InvoiceNotReady, invoiceData, invoiceFileName, printMoney, renderInvoicePdf } from './invoice.ts';
import { notify } from './notify.ts';
import { orderRecipients } from './order-events.ts';

type Db = Kysely<Database>;

export interface InvoiceJobView {
  state: 'waiting' | 'done' | 'failing';
  attempts: number;
  lastError: string | null;
  nextAttemptAt: Date;
}

/** The invoice job of an order (for the manager's page and the console), or undefined when none was made. */
export async function invoiceJob(db: Db, orderId: number): Promise<InvoiceJobView | undefined> {
  const j = await db.selectFrom('document_jobs').selectAll().where('kind', '=', 'invoice').where('order_id', '=', orderId).executeTakeFirst();
  if (!j) return undefined;
  return { state: j.done_at ? 'done' : j.last_error ? 'failing' : 'waiting', attempts: j.attempts, lastError: j.last_error, nextAttemptAt: j.next_attempt_at };
}

export interface InvoiceWorker {
  /** Makes the invoices that are due; returns how many were made. Never two runs at once in one process. */
  runDue(): Promise<number>;
}

/**
 * Attempts before a job is left alone (a day and more of hourly retries: an order whose lines never add
 * up to its total); setting a seller requisite gives waiting jobs their attempts back.
 */
export const INVOICE_MAX_ATTEMPTS = 30;
const MAX_ATTEMPTS = INVOICE_MAX_ATTEMPTS;

/** Backoff of a failing job: 1, 2, 4 … minutes, at most an hour. */
const backoffMinutes = (attempts: number): number => Math.min(60, 2 ** attempts);

export function invoiceWorker(db: Db, config: Pick<Config, 'MAGISTRAL_DATA_DIR' | 'MAGISTRAL_PUBLIC_URL' | 'PORT'>, log: Logger): InvoiceWorker {
  let running: Promise<number> | undefined;
  const once = async (): Promise<number> => {
    let made = 0;
    for (;;) {
      const more = await db.transaction().execute(async (trx) => {
        // Locked and skipped by others: several worker processes never make one invoice twice.
        const job = (await sql<{ id: number; order_id: number; attempts: number }>`
          SELECT id, order_id, attempts FROM document_jobs WHERE done_at IS NULL AND next_attempt_at <= now() AND attempts < ${MAX_ATTEMPTS}
          ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`.execute(trx)).rows[0];
        if (!job) return false;
        await sql`SAVEPOINT invoice`.execute(trx);
        try {
          const outcome = await makeInvoice(trx, config, Number(job.order_id));
          await sql`RELEASE SAVEPOINT invoice`.execute(trx);
          await sql`UPDATE document_jobs SET done_at = now(), attempts = attempts + 1, last_error = ${outcome === 'made' ? null : outcome} WHERE id = ${job.id}`.execute(trx);
          if (outcome === 'made') made++;
        } catch (e) {
          await sql`ROLLBACK TO SAVEPOINT invoice`.execute(trx);
          const reason = e instanceof InvoiceNotReady ? e.message : `ошибка формирования счёта: ${(e as Error).message}`;
          await sql`UPDATE document_jobs SET attempts = attempts + 1, last_error = ${reason},
            next_attempt_at = now() + make_interval(mins => ${backoffMinutes(job.attempts)}) WHERE id = ${job.id}`.execute(trx);
          log.warn({ order: job.order_id, attempt: job.attempts + 1, reason }, 'invoice not made; will retry');
        }
        return true;
      });
      if (!more) return made;
    }
  };
  return {
    runDue() {
      running ??= once().finally(() => { running = undefined; });
      return running;
    },
  };
}

/** 'made', or why nothing was needed (recorded on the job). */
async function makeInvoice(trx: Transaction<Database>, config: Pick<Config, 'MAGISTRAL_DATA_DIR' | 'MAGISTRAL_PUBLIC_URL' | 'PORT'>, orderId: number): Promise<'made' | string> {
  const state = (await sql<{ cancelled: boolean; status: string; has: boolean }>`
    SELECT o.cancelled, o.status, EXISTS (SELECT 1 FROM order_documents d WHERE d.order_id = o.id AND d.kind = 'invoice' AND d.source = 'portal') AS has
    FROM orders o WHERE o.id = ${orderId} FOR UPDATE`.execute(trx)).rows[0];
  if (!state) return 'заказ удалён';
  if (state.has) return 'счёт уже сформирован';
  if (state.cancelled || state.status === 'cancelled') return 'заказ отменён до формирования счёта';
  const data = await invoiceData(trx, orderId);
  const pdf = await renderInvoicePdf(data);
  const file = await storeFile(trx, config.MAGISTRAL_DATA_DIR, pdf, 'application/pdf');
  const fileName = invoiceFileName(data);
  await sql`INSERT INTO order_documents (order_id, kind, number, date, amount, file_name, sha256, content_type, size_bytes, source)
    VALUES (${orderId}, 'invoice', ${data.number}, ${data.date}::date, ${data.total}::numeric, ${fileName}, ${file.sha256}, 'application/pdf', ${file.sizeBytes}, 'portal')`.execute(trx);
  const base = config.MAGISTRAL_PUBLIC_URL ?? `http://127.0.0.1:${config.PORT}`;
  for (const contactId of await orderRecipients(trx, orderId)) {
    await notify(trx as unknown as Db, {
      kind: 'order-confirmed', to: { contactId },
      subject: `Заказ ${data.orderNumber} подтверждён — счёт на оплату № ${data.number}`,
      text: `Здравствуйте!\n\nЗаказ ${data.orderNumber} подтверждён. Счёт на оплату № ${data.number} на сумму ${printMoney(data.total)} руб. `
        + `(в т. ч. НДС ${data.vatPercent} %: ${printMoney(data.vat)} руб.) — во вложении.\n${data.words}.\n\n`
        + `Заказ и его документы: ${base}/cabinet/orders/${encodeURIComponent(data.orderNumber)}\n`,
      attachments: [{ sha256: file.sha256, fileName, contentType: 'application/pdf' }],
      dedupeKey: `order-confirmed:${orderId}:${contactId}`,
    });
  }
  return 'made';
}
