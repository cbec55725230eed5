// Integration tests talk to the real PostgreSQL and Redis: generous timeouts, one fork per file.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx', 'src/**/*.test.ts', 'connectors/**/*.test.ts', 'workers/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
    setupFiles: ['test/setup/node20.ts'],
  },
});
