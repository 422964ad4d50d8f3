/**
 * sha256 of seeded NUTS draws on worker threads at the default init (MODEWORKERS session 19: carrying the ascent
 * ends back from the workers for the hidden-mode check must not change a draw), with the sequential run's beside
 * them (the same draws). Give the root of a checkout (its own src/ and test/fixtures/worker-model.ts are used):
 *
 *   npx tsx bench/mode-workers-sha.ts /path/to/checkout
 */
import { createHash } from 'node:crypto';
const root = process.argv[2]!;
const { initBackend } = await import(`${root}/src/backend/select.js`);
const { infer } = await import(`${root}/src/index.js`);
const { branching, BRANCHING_DATA } = await import(`${root}/test/fixtures/worker-model.js`);
await initBackend('cpu');
const module = new URL(`file://${root}/test/fixtures/worker-model.ts`);
for (const workers of [{ module, exportName: 'branching', threads: 2 }, undefined]) {
  const post = await infer(branching, { method: 'nuts', seed: 7, chains: 4, warmup: 300, samples: 300, vectorize: false, ...(workers ? { workers } : {}) } as any, BRANCHING_DATA);
  const h = createHash('sha256');
  for (const [k, col] of (post as any).chainColumns()) { h.update(k); for (const c of col) h.update(Buffer.from(Float64Array.from(c).buffer)); }
  const d = post.diagnostics as any;
  console.log(workers ? 'workers   ' : 'sequential', h.digest('hex').slice(0, 16), 'modeCheck', d.modeCheck ? JSON.stringify(d.modeCheck) : 'none');
  post.dispose();
}
