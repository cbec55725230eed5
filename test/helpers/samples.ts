// Real exports from real systems, kept verbatim under test/fixtures/samples (sources and licenses in
// the README there), so the suite runs from any clean clone; and small hand-made 1C offers packages.
import path from 'node:path';

export const SAMPLES_DIR = path.resolve(import.meta.dirname, '../fixtures/samples');
export const ONEC_SAMPLES = path.join(SAMPLES_DIR, 'onec');

/** An offers package (UTF-8, 2.07) made of the given inner XML; `full` sets СодержитТолькоИзменения="false". */
export function offersPackage(inner: string, full: boolean): Buffer {
  return Buffer.from(`\uFEFF<?xml version="1.0" encoding="UTF-8"?>
<КоммерческаяИнформация xmlns="urn:1C.ru:commerceml_2" ВерсияСхемы="2.07" ДатаФормирования="2024-05-01T10:00:00">
\t<ПакетПредложений СодержитТолькоИзменения="${full ? 'false' : 'true'}">
\t\t<Ид>test#</Ид>
\t\t<Наименование>Пакет предложений</Наименование>
${inner}
\t</ПакетПредложений>
</КоммерческаяИнформация>
`, 'utf8');
}
