import { defineConfig } from 'vitest/config';
import { ISOLATED } from './test/helpers/isolation.js';

// the slow statistical tier runs with `npm run test:slow`
const slow = Boolean(process.env.TYCHE_SLOW);

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // tfjs costs seconds to import; share one worker pool and keep files few.
    pool: 'forks',
    // TIER, session 15 (docs/design.md): the default tier imports tyche once per worker, not once per
    // file (`isolate: false`), except the files in test/helpers/isolation.ts that need a process of
    // their own; test/tier/isolation.test.ts keeps that list complete. The slow tier stays isolated.
    projects: [
      { extends: true, test: { name: 'isolated', include: [...ISOLATED], isolate: true } },
      {
        extends: true,
        test: {
          name: 'shared',
          include: ['test/**/*.test.ts'],
          exclude: ['**/node_modules/**', ...ISOLATED, ...(slow ? [] : ['test/**/*.slow.test.ts'])],
          isolate: slow,
        },
      },
    ],
  },
});
