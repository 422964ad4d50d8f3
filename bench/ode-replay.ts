/**
 * ODE models on the compiled path: the posteriordb translations
 * `lotka_volterra` (rk45, 8 parameters, 20 output times) and
 * `one_comp_mm_elim_abs` (rk45, 4 parameters) written for one chain. Their
 * `odeSolve` is a custom op (src/backend/jit/custom-kernels.ts), so the
 * model's record replays in float64 with the solver's own sensitivities.
 * Prints ms of process CPU time per log density + gradient, median of 5
 * timed blocks at nearby points: the float64 replay against the float32
 * model run on tfjs (cpu backend, `compile: false`) in the same run, and
 * the ratio. The machine is shared: CPU time is the steadier figure.
 *
 * Run: `npx tsx bench/ode-replay.ts`
 *
 * @module
 */
import { initBackend } from '../src/backend/select.js';
import { rngFrom } from '../src/core/rng.js';
import { layoutOf, logDensityFn, replayedChainsLogDensityFn } from '../src/infer/mcmc/potential.js';
import { lotkaVolterra, lynxHareData } from '../models/posteriordb/lotka-volterra.js';
import { oneCompData, oneCompMmElimAbs } from '../models/posteriordb/one-comp.js';
import type { Model } from '../src/core/model.js';

const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]!;
const cpuMs = (start: NodeJS.CpuUsage): number => {
  const c = process.cpuUsage(start);
  return (c.user + c.system) / 1000;
};

async function main(): Promise<void> {
  await initBackend('cpu');
  const cases: [string, Model<never[], unknown>, unknown[]][] = [
    ['lotka_volterra', lotkaVolterra as unknown as Model<never[], unknown>, [lynxHareData]],
    ['one_comp_mm_elim_abs', oneCompMmElimAbs as unknown as Model<never[], unknown>, [oneCompData]],
  ];
  console.log('| model | replay float64 (ms CPU) | tfjs float32 (ms CPU) | tfjs / replay |');
  console.log('| --- | --- | --- | --- |');
  for (const [name, m, args] of cases) {
    const { layout } = await layoutOf(m, args as never[], rngFrom(1));
    const replay = replayedChainsLogDensityFn(m, args as never[], layout, 1);
    const tfjs = logDensityFn(m, args as never[], layout, { compile: false });
    const q = new Float64Array(layout.dim).map((_, i) => 0.1 * Math.sin(i + 1));
    await replay(q);
    await tfjs(q);
    if (replay.compileStatus() !== true) throw new Error(`${name}: not compiled: ${String(replay.compileStatus())}`);
    const r: number[] = [];
    const t: number[] = [];
    for (let block = 0; block < 5; block++) {
      let start = process.cpuUsage();
      for (let i = 0; i < 100; i++) replay.replayOnly(q.map((v) => v + 0.0003 * i));
      r.push(cpuMs(start) / 100);
      start = process.cpuUsage();
      for (let i = 0; i < 20; i++) await tfjs(q.map((v) => v + 0.0003 * i));
      t.push(cpuMs(start) / 20);
    }
    console.log(`| ${name} | ${median(r).toFixed(3)} | ${median(t).toFixed(3)} | ${(median(t) / median(r)).toFixed(1)}x |`);
  }
}

void main();
