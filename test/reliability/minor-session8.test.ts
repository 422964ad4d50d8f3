/**
 * MINOR, session 8: regressions for small error-message and validation
 * defects, each shown failing on the code before its fix.
 *
 * 1. `seed: NaN` and `seed: Infinity` were accepted by infer and every
 *    steering entry point (String(NaN) seeded a stream): the shared options
 *    check (src/core/options.ts) refuses them, naming `seed`.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { checkOptions } from '../../src/core/options.js';
import { type Ctx, Normal, infer, model } from '../../src/index.js';
import { STEER_OPTION_ENTRIES, messageOf } from './steer-option-entries.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('1. a seed that is NaN or infinite is refused, naming seed, by every entry point', () => {
  const tiny = model(async ({ sample }: Ctx) => sample('mu', Normal(0, 1)), { name: 'tiny' });

  it('infer (every method goes through the same check)', async () => {
    for (const method of ['importance', 'nuts', 'smc', 'vi'])
      for (const seed of [NaN, Infinity, -Infinity])
        expect(await messageOf(() => infer(tiny, { method, seed } as never))).toBe(`infer: seed must be a finite number or a string, got ${seed}`);
    expect(await messageOf(() => infer(tiny, { method: 'importance', particles: 10, seed: -3.5 }))).toBe('no error');
  });

  it('every steering entry point that takes a seed', async () => {
    const problems: string[] = [];
    for (const [name, run] of STEER_OPTION_ENTRIES) {
      if (name === 'generate') continue; // takes `rng`, not `seed`
      for (const seed of [NaN, Infinity]) {
        const msg = await messageOf(() => run({ seed }));
        if (msg !== `${name}: seed must be a finite number or a string, got ${seed}`) problems.push(`${name} seed ${seed}: ${msg}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('the check itself: finite numbers and strings pass', () => {
    expect(() => checkOptions('f', { seed: 0 }, ['seed'])).not.toThrow();
    expect(() => checkOptions('f', { seed: 'NaN' }, ['seed'])).not.toThrow();
    expect(() => checkOptions('f', { seed: NaN }, ['seed'])).toThrow('f: seed must be a finite number or a string, got NaN');
  });
});
