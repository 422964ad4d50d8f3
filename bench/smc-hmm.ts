/**
 * SMC on the 1-D random walk of ../shared/peers/hmm.json (T = 100):
 * x_0 ~ N(m0, s0^2), x_t ~ N(x_{t-1}, q^2), y_t ~ N(x_t, r^2).
 *
 * Side by side, in one process, at 1000 and 10000 particles:
 *   - tyche, batched tensors: `particleFilter` on `linearGaussianStateSpace`
 *     (the particle core with a tensor state `[N]`);
 *   - tyche, Float64Array: the same particle core with a plain typed-array
 *     state and a step written as JS loops;
 *   - hand-written: a self-contained Float64Array bootstrap filter without the
 *     core (the no-library lower bound);
 *   - WebPPL's `Infer({method: 'SMC'})`, if `node_modules/webppl` exists
 *     (timed inside the WebPPL program: compilation excluded).
 * All tyche variants resample systematically when ESS < N/2; they are timed
 * round-robin so that changes in machine load hit them alike. Each row gives
 * the median wall time over runs (after warm-up runs), particle-steps per
 * second, and |logZ - exact| (mean and sd over runs with different seeds;
 * exact from the Kalman filter, -190.8597 for hmm.json).
 *
 * Run: `npx tsx bench/smc-hmm.ts [--runs 5] [--webppl-runs 3] [--webppl-runs-10k 1] [--peers DIR]`
 * (backend: `TYCHE_BACKEND`, default the best available).
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { initBackend } from '../src/backend/select.js';
import { Rng } from '../src/core/rng.js';
import { type FeynmanKac, kalmanFilter, linearGaussian1D, type LinearGaussian1D, linearGaussianStateSpace, particleFilter, runSMC } from '../src/infer/smc/index.js';
import { median, table } from './util.js';
import { loadWebppl, runWebppl } from './webppl.js';

function arg(flag: string, dflt: string): string {
  const i = process.argv.indexOf(flag);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : dflt;
}

const RUNS = Number(arg('--runs', '5'));
const WEBPPL_RUNS = Number(arg('--webppl-runs', '3'));
const WEBPPL_RUNS_10K = Number(arg('--webppl-runs-10k', '1'));
const PEERS = arg('--peers', new URL('../../shared/peers', import.meta.url).pathname);
const SIZES = [1000, 10000];
/** Peer figures from ../shared/peers/README.md (hand-written Float64Array filter, same machine kind). */
const HANDWRITTEN_README_S: Record<number, number> = { 1000: 0.022, 10000: 0.118 };

interface Data {
  params: LinearGaussian1D;
  ys: number[];
  source: string;
}

function loadData(): Data {
  const file = `${PEERS}/hmm.json`;
  if (existsSync(file)) {
    const d = JSON.parse(readFileSync(file, 'utf8')) as { m0: number; s0: number; q: number; r: number; y: number[] };
    return { params: { m0: d.m0, s0: d.s0, q: d.q, r: d.r }, ys: d.y, source: file };
  }
  // the same model, simulated with a fixed seed
  const rng = new Rng(1);
  const ys: number[] = [];
  let x = rng.normal();
  for (let t = 0; t < 100; t++) {
    if (t > 0) x += rng.normal();
    ys.push(x + rng.normal());
  }
  return { params: { m0: 0, s0: 1, q: 1, r: 1 }, ys, source: 'simulated (hmm.json not found)' };
}

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** The random walk as a particle-core model on a Float64Array (one number per particle). */
function typedArrayFK(p: LinearGaussian1D, ys: number[]): FeynmanKac<Float64Array> {
  let lp = new Float64Array(0);
  const c = -Math.log(p.r) - HALF_LOG_2PI;
  const k = -0.5 / (p.r * p.r);
  return {
    init(n, rng) {
      lp = new Float64Array(n);
      const x = new Float64Array(n);
      for (let i = 0; i < n; i++) x[i] = p.m0 + p.s0 * rng.normal();
      return x;
    },
    step(x, t, rng) {
      // the core owns the state: moving it in place is allowed
      if (t > 0) for (let i = 0; i < x.length; i++) x[i] += p.q * rng.normal();
      const y = ys[t];
      for (let i = 0; i < x.length; i++) lp[i] = c + k * (y - x[i]) * (y - x[i]);
      return { state: x, logPotential: lp };
    },
    done: (t) => t >= ys.length,
  };
}

/** A self-contained bootstrap filter (systematic resampling when ESS < N/2): the no-library baseline. */
function handWritten(p: LinearGaussian1D, ys: number[], n: number, rng: Rng): number {
  let x = new Float64Array(n);
  let xNew = new Float64Array(n);
  const lw = new Float64Array(n).fill(-Math.log(n));
  const w = new Float64Array(n).fill(1 / n);
  const c = -Math.log(p.r) - HALF_LOG_2PI;
  const k = -0.5 / (p.r * p.r);
  let logZ = 0;
  for (let i = 0; i < n; i++) x[i] = p.m0 + p.s0 * rng.normal();
  for (let t = 0; t < ys.length; t++) {
    if (t > 0) {
      // ESS of the normalised weights
      let s2 = 0;
      for (let i = 0; i < n; i++) s2 += w[i] * w[i];
      if (1 / s2 < n / 2) {
        const u0 = rng.uniform();
        let j = 0;
        let cum = w[0];
        for (let m = 0; m < n; m++) {
          const u = (m + u0) / n;
          while (cum <= u && j < n - 1) cum += w[++j];
          xNew[m] = x[j];
        }
        [x, xNew] = [xNew, x];
        lw.fill(-Math.log(n));
      }
      for (let i = 0; i < n; i++) x[i] += p.q * rng.normal();
    }
    let mx = -Infinity;
    for (let i = 0; i < n; i++) {
      lw[i] += c + k * (ys[t] - x[i]) * (ys[t] - x[i]);
      if (lw[i] > mx) mx = lw[i];
    }
    let s = 0;
    for (let i = 0; i < n; i++) {
      w[i] = Math.exp(lw[i] - mx);
      s += w[i];
    }
    const lse = mx + Math.log(s);
    logZ += lse;
    for (let i = 0; i < n; i++) {
      lw[i] -= lse;
      w[i] /= s;
    }
  }
  return logZ;
}

interface Row {
  impl: string;
  n: number;
  seconds: number[];
  errors: number[];
}

type Impl = { readonly name: string; readonly once: (seed: number) => Promise<number> };

/**
 * Time implementations round-robin (run r of every implementation before run
 * r + 1 of any), so that a change in machine load hits them alike.
 */
async function timeInterleaved(impls: readonly Impl[], n: number, runs: number, exact: number): Promise<Row[]> {
  for (const impl of impls) {
    // warm-up: let the JIT settle (up to 30 runs or 2 s; tfjs and V8 need a few dozen steps)
    const warmStart = performance.now();
    for (let w = 0; w < 30 && performance.now() - warmStart < 2000; w++) await impl.once(-1 - w);
  }
  const rows: Row[] = impls.map((impl) => ({ impl: impl.name, n, seconds: [], errors: [] }));
  for (let r = 0; r < runs; r++) {
    for (let k = 0; k < impls.length; k++) {
      const t0 = performance.now();
      const logZ = await impls[k].once(r);
      rows[k].seconds.push((performance.now() - t0) / 1000);
      rows[k].errors.push(logZ - exact);
    }
  }
  return rows;
}

function webpplProgram(p: LinearGaussian1D, ys: number[], n: number, runs: number): string {
  return `
var ys = ${JSON.stringify(ys)};
var T = ys.length;
var model = function() {
  var loop = function(t, xPrev) {
    if (t === T) { return xPrev; }
    var x = t === 0 ? sample(Gaussian({mu: ${p.m0}, sigma: ${p.s0}})) : sample(Gaussian({mu: xPrev, sigma: ${p.q}}));
    observe(Gaussian({mu: x, sigma: ${p.r}}), ys[t]);
    return loop(t + 1, x);
  };
  return loop(0, 0);
};
${n < 10000 ? `Infer({method: 'SMC', particles: ${n}}, model); // warm-up, untimed` : '// no warm-up at 10000 particles (one run takes tens of seconds)'}
repeat(${runs}, function() {
  var t0 = performance.now();
  var d = Infer({method: 'SMC', particles: ${n}}, model);
  return {ms: performance.now() - t0, logZ: d.normalizationConstant};
});
`;
}

function fmt(x: number, digits = 3): string {
  return x.toFixed(digits);
}

async function main(): Promise<void> {
  const info = await initBackend();
  const data = loadData();
  const exact = kalmanFilter(linearGaussian1D(data.params), data.ys).logLikelihood;
  const T = data.ys.length;
  const webppl = loadWebppl();
  console.log(`SMC on the random walk (T = ${T}), data: ${data.source}; exact log Z (Kalman) = ${fmt(exact, 4)}`);
  console.log(`tyche backend ${info.name}; Node ${process.version}; WebPPL ${webppl ? webppl.version : 'not installed'}; ${RUNS} runs per tyche row`);

  const model = linearGaussianStateSpace(data.params, data.ys);
  const fk = typedArrayFK(data.params, data.ys);
  const rows: Row[] = [];
  for (const n of SIZES) {
    const impls: Impl[] = [
      {
        name: 'tyche batched tensors',
        once: async (seed) => {
          const res = await particleFilter(model, { particles: n, seed: `bench-${seed}`, filteringMeans: false });
          res.dispose();
          return res.logZ;
        },
      },
      {
        name: 'tyche Float64Array state',
        once: async (seed) => (await runSMC(fk, { particles: n, seed: `bench-${seed}`, genealogy: false })).logZ,
      },
      { name: 'hand-written (no core)', once: async (seed) => handWritten(data.params, data.ys, n, new Rng(`bench-${seed}`)) },
    ];
    rows.push(...(await timeInterleaved(impls, n, RUNS, exact)));
    if (webppl) {
      const runs = n >= 10000 ? WEBPPL_RUNS_10K : WEBPPL_RUNS;
      if (runs > 0) {
        const out = await runWebppl<{ ms: number; logZ: number }[]>(webppl.wp, webpplProgram(data.params, data.ys, n, runs));
        rows.push({ impl: 'WebPPL SMC', n, seconds: out.map((o) => o.ms / 1000), errors: out.map((o) => o.logZ - exact) });
      }
    }
  }

  const tableRows = rows.map((r) => {
    const s = median(r.seconds);
    const abs = r.errors.map(Math.abs);
    const meanAbs = abs.reduce((a, b) => a + b, 0) / abs.length;
    const meanErr = r.errors.reduce((a, b) => a + b, 0) / r.errors.length;
    const sdErr = r.errors.length > 1 ? Math.sqrt(r.errors.reduce((a, b) => a + (b - meanErr) ** 2, 0) / (r.errors.length - 1)) : NaN;
    const wp = rows.find((o) => o.impl === 'WebPPL SMC' && o.n === r.n);
    const vsWebppl = wp && r !== wp ? `${fmt(median(wp.seconds) / s, 1)}x` : '-';
    const vsHand = `${fmt(HANDWRITTEN_README_S[r.n] / s, 2)}x`;
    return [r.impl, String(r.n), String(r.seconds.length), fmt(s, 4), (r.n * T / s).toExponential(2), fmt(meanAbs), `${fmt(meanErr)} ± ${fmt(sdErr)}`, vsWebppl, vsHand];
  });
  console.log();
  console.log(table(['implementation', 'particles', 'runs', 'median s', 'particle-steps/s', '|logZ err|', 'logZ err (mean ± sd)', 'speed vs WebPPL', 'vs README hand-written'], tableRows));
  console.log(`\nREADME peer figures: WebPPL 0.38 s at 1000, 10.5-44 s at 10000; hand-written 0.022 s / 0.118 s.`);
  console.log('Goals (issue 3): >= 10x WebPPL at 1000, >= 100x at 10000, batched no slower than the hand-written filter at 10000.');
}

await main();
