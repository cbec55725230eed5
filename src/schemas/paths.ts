// Locates the JSON Schemas in the repository's schemas/ folder, the single source of truth for
// canonical entities, flows, mappings and configuration.
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const SCHEMAS_DIR = fileURLToPath(new URL('../../schemas/', import.meta.url));
export const REPO_DIR = path.resolve(SCHEMAS_DIR, '..');

export function schemaPath(name: string): string {
  return path.join(SCHEMAS_DIR, name);
}
