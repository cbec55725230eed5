// A run's row counts as the console shows them: every row read lands in one column (rejected, skipped by
// the snapshot's fingerprint, staged — and a staged row is new, changed or unchanged), the sums are
// written out under the table where they hold, and whether the run compared with a fingerprint is said
// in words. The run's record counts the skipped rows among the unchanged (`rows_unchanged`, the CLI and
// the admin API say so too); here they stand apart, so that no row is counted twice.
import type { VNode } from 'preact';
import { readGuardHold } from '../../pipeline/guard.ts';
import type { RunView } from '../../pipeline/runs.ts';
import { plural } from '../render.tsx';
import { count } from './format.ts';

const OPEN = new Set(['received', 'extracting', 'staged', 'merging']);

/** Whether the page talks about fingerprints for this run (it compared with one, gave one up, or made one). */
export const usesFingerprint = (r: Pick<RunView, 'fingerprint' | 'rows'>): boolean =>
  r.fingerprint.base !== null || r.fingerprint.off || r.fingerprint.written || r.fingerprint.current || r.rows.skipped > 0;

/** The staged rows the merge found equal to the store (the record's unchanged less the skipped ones). */
const comparedUnchanged = (r: Pick<RunView, 'rows'>): number => Math.max(0, r.rows.unchanged - r.rows.skipped);

/** Whether the merge's counts are there (held: what it would write; done: what it wrote). */
const merged = (r: Pick<RunView, 'state' | 'kind'>): boolean => r.kind === 'payload' && (r.state === 'done' || r.state === 'held');

const SKIPPED_TITLE = 'Строки, совпавшие с последним принятым снимком потока: не подготавливались и не сравнивались, в хранилище остались как были';

/** What the merge's counts mean while the run has written nothing (held) or never will (rejected). */
function NotWritten({ r }: { r: RunView }): VNode | null {
  // Only the guard holds a run with its merge's counts; a stage's hold has none to speak of.
  if (!readGuardHold(r.state === 'held' ? r.heldReason : r.decision?.heldReason ?? null)) return null;
  const fin = r.kind === 'finalize';
  if (r.state === 'held') {
    return <p class="muted small" data-not-written>{fin ? 'Удалено — столько удалит одобрение; пока ничего не удалено.' : 'Новых, изменено и удалено — то, что запишет одобрение; пока в хранилище ничего не записано.'}</p>;
  }
  if (r.state === 'rejected') {
    return <p class="muted small" data-not-written>{fin ? 'Удалено — столько удалил бы запуск; он отклонён, ничего не удалено.' : 'Новых, изменено и удалено — то, что записал бы запуск; он отклонён, в хранилище ничего не записано.'}</p>;
  }
  return null;
}

const cell = (key: string, n: number | null, sep = false): VNode => <td class={sep ? 'num sep' : 'num'} data-count={key}>{n === null ? '—' : count(n)}</td>;

/** The run page's counts table; the skipped column only for runs that have to do with a fingerprint. */
export function RunCounts({ r }: { r: RunView }): VNode {
  // A snapshot group's finalize reads no file: it only removes what none of the group's files carried.
  if (r.kind === 'finalize') {
    return (
      <>
        <table class="grid counts">
          <thead><tr><th class="num">Удалено</th><th class="num">В охвате</th></tr></thead>
          <tbody><tr>{cell('removed', r.rows.removed)}{cell('inScope', r.rows.inScope)}</tr></tbody>
        </table>
        <NotWritten r={r} />
      </>
    );
  }
  const fp = usesFingerprint(r);
  return (
    <>
      <table class="grid counts">
        <thead>
          <tr class="groups">
            <th colspan={fp ? 4 : 3}>Чтение файла</th>
            <th colspan={3} class="sep">Сравнение с хранилищем</th>
            <th colspan={2} class="sep">Охват потока</th>
          </tr>
          <tr>
            <th class="num">Прочитано</th><th class="num">Отказы</th>
            {fp && <th class="num" title={SKIPPED_TITLE}>Пропущено<br />по отпечатку</th>}
            <th class="num">Подготовлено</th>
            <th class="num sep">Новых</th><th class="num">Изменено</th><th class="num">Без изменений</th>
            <th class="num sep">Удалено</th><th class="num">В охвате</th>
          </tr>
        </thead>
        <tbody><tr>
          {cell('read', r.rows.read)}{cell('rejected', r.rows.rejected)}{fp && cell('skipped', r.rows.skipped)}{cell('staged', r.rows.staged)}
          {cell('inserted', r.rows.inserted, true)}{cell('updated', r.rows.updated)}{cell('unchanged', comparedUnchanged(r))}
          {cell('removed', r.rows.removed, true)}{cell('inScope', r.rows.inScope)}
        </tr></tbody>
      </table>
      <NotWritten r={r} />
      <CountsSum r={r} fp={fp} />
    </>
  );
}

/** The sums under the table, each only where it holds (a group merge's counts are the group's, say). */
function CountsSum({ r, fp }: { r: RunView; fp: boolean }): VNode | null {
  const { read, rejected, skipped, staged, inserted, updated } = r.rows;
  if (r.kind !== 'payload' || r.state === 'received' || r.state === 'extracting') return null;
  const same = comparedUnchanged(r);
  const lines: VNode[] = [];
  if (read > 0 && rejected + skipped + staged === read) {
    lines.push(<li>Прочитано {count(read)} = отказы {count(rejected)}{fp ? <> + пропущено по отпечатку {count(skipped)}</> : null} + подготовлено {count(staged)}.</li>);
  }
  if (merged(r) && staged > 0 && inserted + updated + same === staged) {
    lines.push(<li>Подготовлено {count(staged)} = новых {count(inserted)} + изменено {count(updated)} + без изменений {count(same)}.</li>);
  }
  if (merged(r) && skipped > 0) {
    lines.push(<li>Всего без изменений {count(skipped + same)}: {count(skipped)} пропущено по отпечатку и {count(same)} {plural(same, 'подготовленная, совпавшая', 'подготовленных, совпавших', 'подготовленных, совпавших')} с хранилищем.</li>);
  }
  return (
    <>
      {lines.length ? <ul class="counts-sum" data-counts-sum>{lines}</ul> : null}
      {skipped > 0 && (
        <p class="muted" data-skipped-hint>
          «Пропущено по отпечатку» — строки, совпавшие с последним принятым снимком потока строка в строку: они не подготавливались
          и не сравнивались с хранилищем, их значения в хранилище остались прежними.
        </p>
      )}
    </>
  );
}

/** Whether and how the run used a fingerprint, in words (null: a run fingerprints have nothing to do with). */
export function FingerprintFact({ r }: { r: RunView }): VNode | null {
  if (!usesFingerprint(r)) return null;
  const { base, off, current } = r.fingerprint;
  const open = OPEN.has(r.state);
  let read: VNode;
  if (off && base !== null && open) {
    read = <>Отпечаток запуска <a href={`/console/runs/${base}`}>№{base}</a> не совпал с хранилищем: запуск читается заново полностью, без отпечатка.</>;
  } else if (off) {
    read = <>Прочитан полностью, без отпечатка: отпечаток потока не подошёл (хранилище изменилось после последнего принятого снимка или порядок строк в файле слишком от него отличается), поэтому все строки подготовлены и сравнены с хранилищем.</>;
  } else if (base !== null) {
    read = <>Сравнён с отпечатком запуска <a href={`/console/runs/${base}`}>№{base}</a> — последним принятым снимком потока: {count(r.rows.skipped)} {plural(r.rows.skipped, 'строка совпала', 'строки совпали', 'строк совпали')} с ним и {plural(r.rows.skipped, 'пропущена', 'пропущены', 'пропущены')}.</>;
  } else if (r.loadPath === 'direct') {
    read = <>Загружен в пустую таблицу: сравнивать было не с чем.</>;
  } else {
    read = <>Прочитан полностью: действующего отпечатка у потока не было (первый снимок, или прежний отпечаток сброшен изменением в хранилище).</>;
  }
  return (
    <>
      <dt>Отпечаток снимка</dt>
      <dd data-fingerprint>
        {read}
        {current ? <div class="muted" data-fingerprint-current>Строки этого запуска стали отпечатком потока: следующий снимок пропустит те, что совпадут с ними.</div> : null}
      </dd>
    </>
  );
}

/** A list's read count, with the rows of it skipped by a fingerprint beneath. */
export function ReadCount({ read, skipped }: { read: number; skipped: number }): VNode {
  return (
    <td class="num">
      <span data-read>{count(read)}</span>
      {skipped > 0 && <div class="muted small" data-skipped title={SKIPPED_TITLE}>{count(skipped)} пропущено по отпечатку</div>}
    </td>
  );
}
