// exceljs, loaded when a spreadsheet is first read or written rather than when the module graph is:
// importing it took ~0.4 s of every CLI command's 2.0 s start on this machine (a CPU profile of
// `magistral --help`), and only the cabinet's price lists and uploads use it.
type ExcelJS = typeof import('exceljs');

let excel: Promise<ExcelJS> | undefined;

/** The exceljs namespace (a CommonJS module: a dynamic import gives it as `default`). */
export function loadExcel(): Promise<ExcelJS> {
  excel ??= import('exceljs').then((m) => (m as unknown as { default?: ExcelJS }).default ?? m);
  return excel;
}
