import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // the slow statistical tier runs with `npm run test:slow`
    exclude: process.env.TYCHE_SLOW ? ['**/node_modules/**'] : ['**/node_modules/**', 'test/**/*.slow.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // tfjs costs seconds to import; share one worker pool and keep files few.
    pool: 'forks',
  },
});
