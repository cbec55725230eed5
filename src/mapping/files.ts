// Finds mapping files: every mapping under a folder of mappings/, and what a command-line argument
// names (a reference relative to mappings/ or a path to a file anywhere).
import { existsSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { MAPPINGS_DIR } from './load.ts';

/** Mapping references (relative to dir, `/`-separated, sorted) of every *.yaml / *.yml below dir/sub. */
export async function listMappingFiles(dir = MAPPINGS_DIR, sub = ''): Promise<string[]> {
  const root = path.join(dir, sub);
  if (!existsSync(root)) return [];
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

export interface MappingLocation {
  /** Reference to pass to loadMapping together with dir. */
  ref: string;
  dir: string;
  /** How to name it to a person: the reference under mappings/, else the argument as given. */
  display: string;
}

/**
 * An argument is a path to an existing file (relative to the working directory or absolute), or else a
 * reference relative to the mappings folder.
 */
export function locateMapping(arg: string, dir = MAPPINGS_DIR): MappingLocation {
  const abs = path.resolve(arg);
  if (existsSync(abs) && statSync(abs).isFile()) {
    const inside = abs.startsWith(path.resolve(dir) + path.sep);
    if (inside) {
      const ref = path.relative(dir, abs).split(path.sep).join('/');
      return { ref, dir, display: ref };
    }
    return { ref: path.basename(abs), dir: path.dirname(abs), display: arg };
  }
  return { ref: arg, dir, display: arg };
}
