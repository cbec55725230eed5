// Finds import circles among the project's own TypeScript modules (src, connectors, workers, bin, ops):
// `npm run lint` fails on any, type-only imports included, so modules keep one direction of dependency.
// Usage: tsx ops/lint/import-cycles.ts [--json]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DIRS = ['src', 'connectors', 'workers', 'bin', 'ops'];
// `import … from '…'`, `export … from '…'`, `import('…')`, bare `import '…'` — relative specifiers only.
const SPEC = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;

function walk(dir: string, out: string[]): void {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) walk(full, out);
    else if (/\.(tsx?|js)$/.test(name) && !name.endsWith('.d.ts')) out.push(full);
  }
}

export function importGraph(root = ROOT): Map<string, string[]> {
  const files: string[] = [];
  for (const d of DIRS) {
    try {
      walk(path.join(root, d), files);
    } catch {
      // a folder this checkout does not have
    }
  }
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const text = readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    const deps: string[] = [];
    for (const m of text.matchAll(SPEC)) {
      const target = path.resolve(path.dirname(f), m[1]!);
      if (known.has(target)) deps.push(target);
    }
    graph.set(f, [...new Set(deps)]);
  }
  return graph;
}

/** Every elementary circle found by a depth-first search, each reported once (rotated to its smallest file). */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles = new Map<string, string[]>();
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 1);
    stack.push(n);
    for (const d of graph.get(n) ?? []) {
      if (state.get(d) === 1) {
        const cyc = stack.slice(stack.indexOf(d));
        const min = cyc.reduce((a, b) => (a < b ? a : b));
        const rot = [...cyc.slice(cyc.indexOf(min)), ...cyc.slice(0, cyc.indexOf(min))];
        cycles.set(rot.join('>'), rot);
      } else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const n of [...graph.keys()].sort()) if (!state.has(n)) visit(n);
  return [...cycles.values()];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const cycles = findCycles(importGraph());
  const rel = (f: string) => path.relative(ROOT, f);
  if (process.argv.includes('--json')) console.log(JSON.stringify(cycles.map((c) => c.map(rel))));
  else for (const c of cycles) console.error(`import circle: ${[...c, c[0]!].map(rel).join(' → ')}`);
  if (cycles.length) {
    console.error(`${cycles.length} import circle${cycles.length > 1 ? 's' : ''}`);
    process.exitCode = 1;
  }
}
