/**
 * Batched program SMC at the bench's size: the random walk with T = 100
 * observations and 1000 particles, 40 seeds, against the Kalman filter's
 * exact log Z and E[x_T]; the planted bug (a resampling that forgets the
 * program's live values) fails the same check. `npm run test:slow`.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { infer } from '../../src/infer/registry.js';
import '../../src/infer/smc/program.js';
import { checkAgainstKalman, forgetfulBatched, walk } from './program-helpers.js';

beforeAll(async () => {
  await initBackend();
});

/** A fixed series from the model (LCG + Box-Muller, independent of tyche's streams). */
function simulate(T: number): number[] {
  let s = 11;
  const u = () => ((s = (s * 1103515245 + 12345) % 2147483648) + 1) / 2147483649;
  const n = () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  const ys: number[] = [];
  let x = n();
  for (let t = 0; t < T; t++) {
    if (t > 0) x += n();
    ys.push(x + n());
  }
  return ys;
}

describe('batched program SMC at T = 100, 1000 particles', () => {
  it('log Z unbiased and E[x_T] right over 40 seeds; the forgetful resampling fails', async () => {
    const ys = simulate(100);
    const n = 1000;
    const ok = await checkAgainstKalman(ys, 40, async (seed) => {
      const post = await infer(walk, { method: 'smc', particles: n, seed }, ys);
      expect(post.diagnostics.execution).toBe('batched');
      const out = { logZ: post.logZ, meanX: post.expectation((d) => d.returnValue as number) };
      post.dispose();
      return out;
    });
    expect(ok.ok, ok.detail).toBe(true);
    const planted = await checkAgainstKalman(ys, 40, (seed) => forgetfulBatched(ys, n, seed));
    expect(planted.ok, `planted bug passed: ${planted.detail}`).toBe(false);
    console.log(`batched ${ok.detail}\nplanted ${planted.detail}`);
  }, 600_000);
});
