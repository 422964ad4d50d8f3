import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * Test files run at once. vitest's default is cores - 1, so a 2-core machine (this project's CI) ran one file at a
 * time and left a core idle while each fork imported tfjs. Two at a time there (TIER2, session 16; docs/design.md);
 * `TYCHE_TEST_WORKERS=1 npm test` restores one at a time.
 */
const workers = Number(process.env.TYCHE_TEST_WORKERS) || Math.max(2, availableParallelism() - 1);

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // the slow statistical tier runs with `npm run test:slow`
    exclude: process.env.TYCHE_SLOW ? ['**/node_modules/**'] : ['**/node_modules/**', 'test/**/*.slow.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // tfjs costs seconds to import; share one worker pool and keep files few.
    pool: 'forks',
    maxWorkers: workers,
  },
});
