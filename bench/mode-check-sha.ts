/**
 * sha256 of seeded NUTS draws at the default init (MODEWARN session 19: recording the ascent ends for the hidden-mode
 * check must not change a draw). Give the root of a checkout (its own src/ is imported):
 *
 *   npx tsx bench/mode-check-sha.ts /path/to/checkout
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
const root = process.argv[2]!;
const { initBackend } = await import(`${root}/src/backend/select.js`);
const { infer, model, Normal, HalfNormal, ops } = await import(`${root}/src/index.js`);
const { eightSchoolsNoncentered, eightSchoolsData } = await import(`${root}/models/posteriordb/eight-schools.js`);
await initBackend('cpu');
const xs = [-1.5, -1.1, -0.7, -0.3, 0.1, 0.4, 0.8, 1.2, 1.6, 2.0];
const ys = [-2.2, -1.0, -0.9, 0.1, 0.6, 0.9, 1.9, 2.1, 3.4, 3.6];
const linreg = model(async ({ sample, observe }: any) => {
  const a = await sample('a', Normal(0, 5));
  const b = await sample('b', Normal(0, 5));
  const s = await sample('sigma', HalfNormal(2));
  await observe('y', Normal(ops.add(a, ops.mul(b, tf.tensor1d(xs))), s), tf.tensor1d(ys));
});
for (const [name, m, args] of [['linreg', linreg, []], ['eight', eightSchoolsNoncentered, [eightSchoolsData]]] as const) {
  for (const vectorize of [true, false]) {
    const post = await infer(m as any, { method: 'nuts', seed: 7, warmup: 300, samples: 300, vectorize } as any, ...(args as unknown as any[]));
    const h = createHash('sha256');
    for (const [k, col] of (post as any).chainColumns()) { h.update(k); for (const c of col) h.update(Buffer.from(Float64Array.from(c).buffer)); }
    console.log(name, `vectorize ${vectorize}`, h.digest('hex').slice(0, 16), 'warnings', post.warnings.length, (post.diagnostics as any).modeCheck ? JSON.stringify((post.diagnostics as any).modeCheck) : '');
    post.dispose();
  }
}
