// Integration tests talk to the real PostgreSQL and Redis: generous timeouts, one fork per file.
import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx', 'src/**/*.test.ts', 'connectors/**/*.test.ts', 'workers/**/*.test.ts'],
    // The fault suite restarts servers of its own and times faults into stages: it runs alone, after
    // this suite (npm run test:faults, vitest.faults.config.ts; ops/test.sh calls it).
    exclude: [...configDefaults.exclude, 'test/faults/**'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
    setupFiles: ['test/setup/node20.ts'],
  },
});
