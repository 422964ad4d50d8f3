import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // tfjs costs seconds to import; share one worker pool and keep files few.
    pool: 'forks',
  },
});
