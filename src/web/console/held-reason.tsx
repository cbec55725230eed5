// Why a run was held, in Russian. The run records the reason as the logs have it (English, `held_reason`):
// the guard's holds are read back (readGuardHold) and said with their numbers as they were when the run was
// held; any other reason is a stage's HoldRunError (a connector asking for a person), said to be that, its
// own words kept. The logged text stays on the page as a technical line (or a list's tooltip).
import type { VNode } from 'preact';
import { readGuardHold, type GuardHold } from '../../pipeline/guard.ts';
import { plural } from '../render.tsx';
import { count, percentRu } from './format.ts';

const pct = (percent: number): string => percentRu(percent / 100);
const rowsOf = (n: number): string => `${count(n)} ${plural(n, 'строки', 'строк', 'строк')}`;

/** The reason in one Russian sentence, for lists and a decision (the logged text as its tooltip). */
export function HeldShort({ reason }: { reason: string | null }): VNode {
  const h = readGuardHold(reason);
  let text: string;
  if (h?.kind === 'change') text = `Изменил бы ${count(h.changed)} из ${rowsOf(h.inScope)} в охвате потока: ${pct(h.percent)} при пороге ${pct(h.limitPercent)}.`;
  else if (h?.kind === 'removal') text = `Удалил бы ${count(h.removed)} из ${rowsOf(h.inScope)} в охвате потока, которых не было ни в одном файле выгрузки: ${pct(h.percent)} при пороге ${pct(h.limitPercent)}.`;
  else text = reason ? 'Источник или этап обработки попросил проверки человеком.' : 'Причина не записана.';
  return <span data-held-short title={reason ?? undefined}>{text}</span>;
}

function GuardSentence({ h }: { h: GuardHold }): VNode {
  const limit = <>а порог потока {pct(h.limitPercent)} (<code>guard.maxChangeRatio</code>)</>;
  if (h.kind === 'change') {
    return (
      <>
        Изменил бы {count(h.changed)} из {rowsOf(h.inScope)} в охвате потока — {pct(h.percent)}, {limit}.
        Новых {count(h.inserted)}, изменится {count(h.updated)}, удалится {count(h.removed)}.
      </>
    );
  }
  return <>Удалил бы {count(h.removed)} из {rowsOf(h.inScope)} в охвате потока — {pct(h.percent)}, {limit}: этих строк не было ни в одном файле выгрузки.</>;
}

/** What stopping means for the store and what a decision does, per kind of hold. */
function WhatItMeans({ h }: { h: GuardHold | null }): VNode {
  if (h?.kind === 'change') {
    return (
      <p data-held-what>Проверка потока (guard) остановила запуск: он изменил бы больше строк, чем разрешено. В хранилище пока ничего не записано.
        Одобрение запишет ровно эти изменения; отклонение отбросит запуск, следующие запуски потока пойдут дальше.</p>
    );
  }
  if (h?.kind === 'removal') {
    return (
      <p data-held-what>Проверка потока (guard) остановила удаление по итогам выгрузки, пришедшей несколькими файлами (например, сеанс обмена с 1С):
        в файлах не оказалось больше строк, чем разрешено удалить. Строки из файлов выгрузки уже записаны; ждёт только удаление.
        Одобрение удалит эти строки; отклонение оставит их на месте, следующие запуски потока пойдут дальше.</p>
    );
  }
  return (
    <p data-held-what>В хранилище пока ничего не записано; следующие запуски потока ждут решения. Одобрение прочитает файлы
      запуска заново, уже без остановки, и запишет их строки; отклонение отбросит запуск, следующие запуски потока пойдут дальше.</p>
  );
}

/** The run page's «why held»: the reason in Russian, what it means, the logged text as a technical line. */
export function HeldExplanation({ reason }: { reason: string | null }): VNode {
  const h = readGuardHold(reason);
  return (
    <>
      <div class="flash flash-error" role="alert">
        {/* data-guard: the guard's own numbers (a stage's reason has none). */}
        <p data-held-ru {...(h ? { 'data-guard': true } : {})}>
          {h ? <GuardSentence h={h} />
            : reason ? 'Запуск остановил не порог потока, а источник или этап обработки: он попросил, чтобы запуск сначала посмотрел человек. Его причина — в технической строке ниже.'
              : 'Причина не записана.'}
        </p>
        {reason && <div class="muted small" data-held-tech>Техническая причина (как в журнале): <code data-held-reason>{reason}</code></div>}
      </div>
      <WhatItMeans h={h} />
    </>
  );
}

/** Whether the page shows a sample of the changes: the merge's guard takes one, nothing else does. */
export const heldSampleKind = (reason: string | null): 'sample' | 'removal' | 'none' => {
  const h = readGuardHold(reason);
  return h?.kind === 'change' ? 'sample' : h?.kind === 'removal' ? 'removal' : 'none';
};
