/**
 * Fused functions split under V8's optimisation limit (src/backend/jit/split.ts):
 * for each model, the single-chain record NUTS replays, its node count, the
 * fused source compiled whole (characters of both functions), and how many
 * functions the default compile makes; then, for the models named by
 * `--time`, µs of process CPU per value and gradient (`CompiledGraph.runRow`,
 * median of 5 timings of 3000 calls after a warm-up of 20000, whose CPU,
 * V8's optimising threads included, is printed too) for the per-kernel
 * program, the fused function whole and split into pieces of each `--pieces` size, alternated `--rounds`
 * times in one process.
 *
 * Run: `npx tsx bench/fused-split.ts [--time garch,arma] [--pieces 2000,4000,16000] [--rounds 2]`
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/select.js';
import { rngFrom } from '../src/core/rng.js';
import { layoutOf, logDensityTensorFn } from '../src/infer/mcmc/potential.js';
import { CompiledGraph } from '../src/backend/jit/program.js';
import type { FusedOptions } from '../src/backend/jit/fused.js';
import { traceTensorFunction } from '../src/backend/jit/trace.js';
import type { Model } from '../src/core/model.js';
import { garch11, garchData } from '../models/posteriordb/garch11.js';
import { arK, arKData, arKDesign } from '../models/posteriordb/ark.js';
import { arma11, armaData } from '../models/posteriordb/arma11.js';
import { eightSchoolsData, eightSchoolsNoncentered } from '../models/posteriordb/eight-schools.js';
import { hmmExample, hmmExampleData } from '../models/posteriordb/hmm-example.js';
import { median, table } from './util.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const timeModels = new Set(arg('time', 'garch').split(',').filter(Boolean));
const pieces = arg('pieces', '4000').split(',').map(Number);
const rounds = Number(arg('rounds', '2'));

await initBackend('cpu');

const MODELS: [string, unknown, unknown[]][] = [
  ['eight', eightSchoolsNoncentered, [eightSchoolsData]],
  ['garch', garch11, [garchData]],
  ['ark', arK, [arKData, { lags: tf.tensor2d(arKDesign(arKData).lags), response: arKDesign(arKData).response }]],
  ['arma', arma11, [armaData]],
  ['hmm', hmmExample, [hmmExampleData]],
];

async function recordOf(m: Model<never[], unknown>, args: unknown[]) {
  const { layout } = await layoutOf(m, args as never[], rngFrom(1));
  const density = logDensityTensorFn(m, args as never[], layout, undefined);
  const x = tf.tensor1d(new Float32Array(layout.dim).fill(0.1));
  const traced = await traceTensorFunction(density, x);
  x.dispose();
  return { graph: traced.graph, reason: 'reason' in traced ? String(traced.reason) : '', dim: layout.dim };
}

type Program = { sourceLength: number; functions: number };
const programOf = (c: CompiledGraph): Program | undefined => {
  const p = (c as unknown as { program: Program | string }).program;
  return typeof p === 'string' ? undefined : p;
};

function compile(graph: NonNullable<Awaited<ReturnType<typeof recordOf>>['graph']>, split: FusedOptions, fuse = true): CompiledGraph {
  const c = CompiledGraph.compile(graph, { split, fuse });
  if (!(c instanceof CompiledGraph)) throw new Error(c.reason);
  return c;
}

function cpuMs(c0: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(c0);
  return (u.user + u.system) / 1000;
}

const sizeRows: string[][] = [];
const timeRows: string[][] = [];
for (const [name, m, args] of MODELS) {
  const rec = await recordOf(m as Model<never[], unknown>, args);
  if (!rec.graph) {
    sizeRows.push([name, '-', `not traced: ${rec.reason}`, '', '']);
    continue;
  }
  const graph = rec.graph;
  const whole = compile(graph, { splitAbove: Infinity });
  const byDefault = compile(graph, {});
  const pw = programOf(whole);
  const pd = programOf(byDefault);
  sizeRows.push([name, String(graph.nodes.length), pw ? String(pw.sourceLength) : `per-kernel: ${whole.fused}`, pd ? String(pd.functions) : '-', pd ? String(pd.sourceLength) : '-']);
  if (!timeModels.has(name)) continue;
  const q = Float64Array.from({ length: rec.dim }, (_, i) => 0.5 * Math.sin(1.7 * i));
  const out = new Float64Array(1);
  const grad = new Float64Array(rec.dim);
  const variants: [string, FusedOptions][] = [['per-kernel program', {}], ['whole', { splitAbove: Infinity }], ...pieces.map((p): [string, FusedOptions] => [`pieces of ${p}`, { splitAbove: 0, pieceChars: p }])];
  const results = new Map<string, { compile: number[]; warm: number[]; us: number[] }>();
  for (let r = 0; r < rounds; r++) {
    for (const [label, split] of variants) {
      const c0 = process.cpuUsage();
      const c = compile(graph, split, label !== 'per-kernel program');
      const compileMs = cpuMs(c0);
      const w0 = process.cpuUsage();
      for (let i = 0; i < 20000; i++) c.runRow(q, 0, out, 0, grad, 0);
      const warm = cpuMs(w0);
      const reps: number[] = [];
      for (let t = 0; t < 5; t++) {
        const t0 = process.cpuUsage();
        for (let i = 0; i < 3000; i++) c.runRow(q, 0, out, 0, grad, 0);
        reps.push((cpuMs(t0) * 1000) / 3000);
      }
      const e = results.get(label) ?? { compile: [], warm: [], us: [] };
      e.compile.push(compileMs);
      e.warm.push(warm);
      e.us.push(median(reps));
      results.set(label, e);
    }
  }
  for (const [label, e] of results) {
    timeRows.push([name, label, e.compile.map((x) => x.toFixed(0)).join(' / '), e.warm.map((x) => x.toFixed(0)).join(' / '), e.us.map((x) => x.toFixed(1)).join(' / ')]);
  }
}
console.log('fused source per model (single-chain record)');
console.log(table(['model', 'nodes', 'whole: chars', 'default: functions', 'default: chars'], sizeRows));
if (timeRows.length > 0) {
  console.log(`\nper value and gradient (CPU; rounds ${rounds}, alternated)`);
  console.log(table(['model', 'variant', 'compile ms', 'first 20000 calls ms', 'µs (median of 5 x 3000)'], timeRows));
}
