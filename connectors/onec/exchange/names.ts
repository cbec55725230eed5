// File names as 1C sends them (`import0_1.xml`, `import_files/ab/abcd.jpg`): kept as relative paths
// under the session's directory, never anything that could leave it.
import { MagistralError } from '../../../src/port/index.ts';

export class NameRefused extends MagistralError {
  constructor(message: string) {
    super('MAG_ERR_FILE_NAME', message);
    this.name = 'NameRefused';
  }
}

const MAX_NAME = 512;
const MAX_SEGMENT = 255;

/**
 * Checks a sender's file name and returns it normalised (`\` → `/`): a relative path of plain
 * segments. Refuses `..`, `.`, empty segments, absolute paths, drive letters, NUL and other control
 * characters, and names too long. The message names the rule, never echoes raw control bytes.
 */
export function checkFileName(raw: string): string {
  if (!raw) throw new NameRefused('file name is empty');
  if (raw.length > MAX_NAME) throw new NameRefused(`file name is longer than ${MAX_NAME} characters`);
  if (/[\u0000-\u001f\u007f]/.test(raw)) throw new NameRefused('file name contains NUL or control characters');
  const name = raw.replace(/\\/g, '/');
  if (name.startsWith('/')) throw new NameRefused('absolute file names are refused');
  if (/^[A-Za-z]:/.test(name)) throw new NameRefused('file names with a drive letter are refused');
  const segments = name.split('/');
  for (const s of segments) {
    if (s === '..') throw new NameRefused("'..' in a file name is refused");
    if (s === '' || s === '.') throw new NameRefused('empty or "." segments in a file name are refused');
    if (s.length > MAX_SEGMENT) throw new NameRefused(`a file name segment is longer than ${MAX_SEGMENT} characters`);
    if (/[:*?"<>|]/.test(s)) throw new NameRefused('file name contains one of : * ? " < > |');
  }
  return segments.join('/');
}

/** Shows a refused name in a message without control characters. */
export function printableName(raw: string): string {
  return raw.replace(/[\u0000-\u001f\u007f]/g, '?').slice(0, 200);
}

export const isArchiveName = (name: string): boolean => /\.zip$/i.test(name);
