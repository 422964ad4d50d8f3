/**
 * Cost of SMC over async programs as the number of observations grows.
 *
 * Particles are live executions; a particle resampled k > 1 times is copied
 * by replaying its recorded choices up to the current observation. This
 * bench runs the 1-D random walk (x_t ~ N(x_{t-1}, 1), y_t ~ N(x_t, 1))
 * written as an ordinary async model with T observe sites, and prints the
 * time per particle-step, the number of replayed copies and the replayed
 * site visits per particle-step, for T = 25 .. 200. If replay made the cost
 * quadratic in T, time per particle-step would grow linearly with T.
 *
 * Run: npx tsx bench/smc-program.ts
 */
import { Normal, infer, initBackend, model } from '../src/index.js';

function simulate(T: number, seed: number): number[] {
  // a fixed pseudo-random series (LCG + Box-Muller), independent of tyche's streams
  let s = seed;
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

const walk = model(async ({ sample, observe }, ys: number[]) => {
  let x = await sample('x0', Normal(0, 1));
  for (let t = 0; t < ys.length; t++) {
    if (t > 0) x = await sample(`x${t}`, Normal(x, 1));
    await observe(`y${t}`, Normal(x, 1), ys[t]);
  }
  return x;
});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  await initBackend();
  const particles = 1000;
  console.log(`SMC over an async program, ${particles} particles, systematic resampling at ESS < N/2`);
  console.log('T     median s   us/particle-step   replayed copies/step   replayed copies per particle');
  for (const T of [25, 50, 100, 200]) {
    const ys = simulate(T, 7);
    const times: number[] = [];
    let replays = 0;
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      const post = await infer(walk, { method: 'smc', particles, seed: r }, ys);
      times.push((performance.now() - t0) / 1000);
      replays = post.diagnostics.replays as number;
    }
    const med = median(times);
    // a copy made at checkpoint t replays about 2t sites (t samples and t observes), so the
    // time per particle-step grows with T when copies are frequent
    const perStep = (med * 1e6) / (particles * T);
    console.log(
      `${String(T).padEnd(5)} ${med.toFixed(3).padStart(8)}   ${perStep.toFixed(2).padStart(16)}   ${(replays / T).toFixed(1).padStart(20)}   ${(replays / particles).toFixed(2).padStart(28)}`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
