// Text a spreadsheet program must never take for a formula: price lists (XLSX), reject reports (CSV).

/**
 * Formula injection (OWASP "CSV injection"): a text starting with = + - @ tab or CR is prefixed with
 * `'`. exceljs writes every string as a string cell (never a formula), so Excel and LibreOffice show
 * it as text already; the prefix also keeps it inert when the sheet is saved as CSV and opened again,
 * and in a CSV we write ourselves it is the only guard. src/cabinet/uploads.ts strips it when a price
 * list comes back (unguardCell).
 */
export function guardCell(s: string): string {
  return /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
}

/** One field of a `;`-separated CSV (Excel's Russian locale): guarded, quoted when it must be. */
export function csvField(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? String(v) : guardCell(v);
  return /[";\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
