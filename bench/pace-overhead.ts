/**
 * Cost of pacing (yielding to the event loop every ~10 ms and checking the
 * abort signal) in the engines whose loops were not paced before: the
 * median wall time of small runs of importance, smc, tempered, mh and
 * enumerate (wall and CPU time). Run it on two checkouts (before and after a
 * change) and compare; on a shared machine compare CPU time.
 *
 *   npx tsx bench/pace-overhead.ts [reps]
 */
import { Bernoulli, Normal, infer, initBackend, model } from '../src/index.js';

const ys = [0.3, -0.5, 1.2, 0.8, 0.1, 0.4, -0.2, 0.9];
const gauss = model(async ({ sample, observe }) => {
  const mu = await sample('mu', Normal(0, 1));
  for (let i = 0; i < ys.length; i++) await observe(`y${i}`, Normal(mu, 1), ys[i]);
  return mu;
});
const coins = model(async ({ sample, factor }) => {
  let heads = 0;
  for (let i = 0; i < 12; i++) heads += (await sample(`c${i}`, Bernoulli(0.5))) as number;
  await factor('near', -((heads - 4) ** 2) / 4);
  return heads;
});

const runs: [string, () => Promise<unknown>][] = [
  ['importance', () => infer(gauss, { method: 'importance', particles: 4000, seed: 1 })],
  ['smc', () => infer(gauss, { method: 'smc', particles: 1000, seed: 1 })],
  ['tempered', () => infer(gauss, { method: 'tempered', particles: 200, moves: 2, seed: 1 })],
  ['mh', () => infer(gauss, { method: 'mh', samples: 5000, warmup: 500, seed: 1 })],
  ['enumerate', () => infer(coins, { method: 'enumerate' })],
];

await initBackend();
const reps = Number(process.argv[2] ?? 5);
for (const [name, run] of runs) {
  await run(); // warm-up
  const times: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const post = (await run()) as { dispose?: () => void };
    const c = process.cpuUsage(c0);
    times.push(performance.now() - t0);
    cpu.push((c.user + c.system) / 1000);
    post.dispose?.();
  }
  times.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  // CPU time (user + system) is what to compare on a shared machine: wall time includes waiting for a core
  console.log(JSON.stringify({ name, medianMs: times[Math.floor(reps / 2)], minMs: times[0], medianCpuMs: cpu[Math.floor(reps / 2)] }));
}
