// Lint config: typescript-eslint's recommended rules on all project sources, type-aware promise rules,
// and the boundary of the connector port: code under connectors/ reaches the core only through src/port.
import tseslint from 'typescript-eslint';

const PORT_ONLY = 'connectors use the core only through the connector port: import from src/port/index.ts (or add what is missing to the port)';

export default tseslint.config(
  { ignores: ['node_modules/**', '.data/**', 'scratch/**', '.scratch/**', 'ops/bench/data/**', 'src/schemas/types.gen.ts'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // Type-aware: a promise nobody awaits or catches loses its error (and, in a worker, the run it carried).
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    files: ['connectors/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          // Anything under src/ but the port and the generated canonical types.
          { regex: '(^|/)src/(?!port/|schemas/types\\.gen\\.ts$)', message: PORT_ONLY },
          // The generated canonical types: type-only.
          { regex: '(^|/)src/schemas/types\\.gen\\.ts$', allowTypeImports: true, message: 'canonical types may be imported from src/schemas/types.gen.ts with `import type` only' },
          { regex: '(^|/)workers/', message: 'connectors do not depend on the worker runtime' },
        ],
      }],
    },
  },
);
