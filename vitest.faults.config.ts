// The fault suite (npm run test:faults): its own PostgreSQL cluster and redis-server per file, restarted
// and killed on purpose. Kept out of `npm test` (vitest.config.ts excludes test/faults): see README.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    pool: 'forks',
    // One file at a time: each case times its fault on a loaded stage, and 2 cores are shared.
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 300_000,
    setupFiles: ['test/setup/node20.ts'],
  },
});
