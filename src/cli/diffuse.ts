/**
 * `tyche diffuse`: sample from or steer a shipped diffusion/flow model
 * (`digits`, `toy2d`) toward a reward, write a PNG of the samples (and of the
 * particles over time for `plain` and `fk`), and a JSON of rewards, weights
 * and network evaluations; with `--compare`, every method at the same
 * budget.
 *
 * ```sh
 * npx tyche diffuse --model digits --class 3 --method fk --particles 16 --steps 50 --out out/
 * npx tyche diffuse --model toy2d --region 1,2,-1,1 --method dts --budget 4000
 * npx tyche diffuse --model digits --class 7 --compare --particles 8 --steps 25
 * ```
 *
 * @module
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs-core';
import { STEER_METHODS } from '../steer/diffusion/steering/method-names.js';
import { UsageError } from './args.js';
import { parseCommandOptions } from './parse-options.js';
import type { CliIO } from './run.js';

/** Help text of `tyche diffuse`. */
export const DIFFUSE_HELP = `tyche diffuse: sample from or steer a shipped diffusion model toward a reward

Usage: tyche diffuse [--model digits|toy2d] [reward] [options]

Reward (at most one; none = plain sampling, reward reported as 0):
  --class K           digits: log-probability of class K (0-9) under the shipped clean classifier
  --symmetry          digits: left-right mirror symmetry, -mean squared difference to the mirror image
  --inpaint top|left  digits: match that half of a held-out digit (Gaussian, sd 0.25); see --digit
  --region X0,X1,Y0,Y1  toy2d: minus the squared distance to the box [X0,X1] x [Y0,Y1]
Options:
  --model NAME        digits (default; 8x8, DDPM) or toy2d (2-D flow, sampled through its SDE)
  --method M          plain, fk (default), tds (needs --class), best-of-n, zero-order, zero-order-path, path, rollover, dts, dts-star
  --compare           run every method at the same budget and print a table (tds only with --class)
  --particles N       samples / particles (default 16); the budget is N x steps unless --budget
  --steps N           sampler steps (default 50)
  --budget E          network evaluations (denoiser calls) each method spends (default particles x steps);
                      the table says what each spent and why when a unit of its cost does not fit
  --lambda L          tilt strength for fk and dts (target p(x) exp(L r(x)); default 1)
  --potential P       fk potential: diff (default), max, add, rt
  --cond K            condition the model on class K (digits 0-9, toy2d 0-2; default unconditional)
  --digit I           held-out digit used by --inpaint (default 0)
  --frames K          also draw the particles at K times (frames.png; default 6; 0 = none): the population
                      (plain, fk, tds), the kept sample's trajectory (searches, rollover), the draws' paths
                      in the tree (dts, dts-star); path search has none (it goes back in time)
  --seed S            random seed (default 0)
  --out DIR           where to write samples.png, frames.png and diffuse.json (default diffuse-out)
`;

const METHODS = STEER_METHODS;

function num(name: string, s: string | undefined, dflt: number, check: (n: number) => boolean, want: string): number {
  if (s === undefined) return dflt;
  const n = Number(s);
  if (s.trim() === '' || !Number.isFinite(n) || !check(n)) throw new UsageError(`diffuse: --${name} must be ${want}, got ${JSON.stringify(s)}`);
  return n;
}
const int = (name: string, s: string | undefined, dflt: number, min: number) => num(name, s, dflt, (n) => Number.isInteger(n) && n >= min, `an integer >= ${min}`);

/** The parsed command. */
export interface DiffuseCommand {
  readonly model: 'digits' | 'toy2d';
  readonly reward: { kind: 'none' } | { kind: 'class'; label: number } | { kind: 'symmetry' } | { kind: 'inpaint'; half: 'top' | 'left'; digit: number } | { kind: 'region'; box: [number, number, number, number] };
  readonly methods: (typeof METHODS)[number][];
  readonly particles: number;
  readonly steps: number;
  readonly budget: number;
  readonly lambda: number;
  readonly potential: 'diff' | 'max' | 'add' | 'rt';
  readonly cond?: number;
  readonly frames: number;
  readonly seed: number;
  readonly out: string;
}

/** Parse and check the arguments after `diffuse` (no TensorFlow.js needed). */
export function parseDiffuse(argv: readonly string[]): DiffuseCommand | 'help' {
  const values = parseCommandOptions('diffuse', argv, {
        model: { type: 'string' },
        class: { type: 'string' },
        symmetry: { type: 'boolean' },
        inpaint: { type: 'string' },
        region: { type: 'string' },
        method: { type: 'string' },
        compare: { type: 'boolean' },
        particles: { type: 'string' },
        steps: { type: 'string' },
        budget: { type: 'string' },
        lambda: { type: 'string' },
        potential: { type: 'string' },
        cond: { type: 'string' },
        digit: { type: 'string' },
        frames: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      });
  if (values.help) return 'help';
  const model = values.model ?? 'digits';
  if (model !== 'digits' && model !== 'toy2d') throw new UsageError(`diffuse: --model must be digits or toy2d, got ${JSON.stringify(model)}`);
  const given = [values.class !== undefined, values.symmetry === true, values.inpaint !== undefined, values.region !== undefined].filter(Boolean).length;
  if (given > 1) throw new UsageError('diffuse: give at most one reward (--class, --symmetry, --inpaint, --region)');
  let reward: DiffuseCommand['reward'] = { kind: 'none' };
  const digitsOnly = (opt: string) => {
    if (model !== 'digits') throw new UsageError(`diffuse: --${opt} needs --model digits (toy2d takes --region)`);
  };
  if (values.class !== undefined) {
    digitsOnly('class');
    reward = { kind: 'class', label: num('class', values.class, 0, (n) => Number.isInteger(n) && n >= 0 && n <= 9, 'a digit class 0-9') };
  } else if (values.symmetry) {
    digitsOnly('symmetry');
    reward = { kind: 'symmetry' };
  } else if (values.inpaint !== undefined) {
    digitsOnly('inpaint');
    if (values.inpaint !== 'top' && values.inpaint !== 'left') throw new UsageError(`diffuse: --inpaint must be top or left, got ${JSON.stringify(values.inpaint)}`);
    reward = { kind: 'inpaint', half: values.inpaint, digit: int('digit', values.digit, 0, 0) };
  } else if (values.region !== undefined) {
    if (model !== 'toy2d') throw new UsageError('diffuse: --region needs --model toy2d (digits take --class, --symmetry or --inpaint)');
    const parts = values.region.split(',').map((s) => Number(s));
    if (parts.length !== 4 || !parts.every(Number.isFinite) || !(parts[0]! <= parts[1]! && parts[2]! <= parts[3]!)) {
      throw new UsageError(`diffuse: --region must be X0,X1,Y0,Y1 with X0 <= X1 and Y0 <= Y1, got ${JSON.stringify(values.region)}`);
    }
    reward = { kind: 'region', box: parts as [number, number, number, number] };
  }
  const method = values.method ?? 'fk';
  if (!(METHODS as readonly string[]).includes(method)) throw new UsageError(`diffuse: --method must be one of ${METHODS.join(', ')}, got ${JSON.stringify(method)}`);
  if (values.compare && values.method !== undefined) throw new UsageError('diffuse: give --method or --compare, not both');
  if (method === 'tds' && reward.kind !== 'class') throw new UsageError('diffuse: --method tds needs --class K (it conditions on the classifier: noisy twist, clean final weight)');
  const particles = int('particles', values.particles, 16, 1);
  const steps = int('steps', values.steps, 50, 1);
  const budget = int('budget', values.budget, particles * steps, steps);
  const lambda = num('lambda', values.lambda, 1, (n) => n > 0, 'a positive number');
  const potential = values.potential ?? 'diff';
  if (!['diff', 'max', 'add', 'rt'].includes(potential)) throw new UsageError(`diffuse: --potential must be one of diff, max, add, rt, got ${JSON.stringify(potential)}`);
  const classes = model === 'digits' ? 10 : 3;
  const cond = values.cond === undefined ? undefined : num('cond', values.cond, 0, (n) => Number.isInteger(n) && n >= 0 && n < classes, `a class 0-${classes - 1} of ${model}`);
  const out = values.out ?? 'diffuse-out';
  const st = (() => {
    try {
      return statSync(resolve(out));
    } catch {
      return undefined;
    }
  })();
  if (st && !st.isDirectory()) throw new UsageError(`diffuse: --out ${out} is a file; give a directory`);
  return {
    model,
    reward,
    methods: values.compare ? METHODS.filter((m) => m !== 'tds' || reward.kind === 'class') : [method as (typeof METHODS)[number]],
    particles,
    steps,
    budget,
    lambda,
    potential: potential as DiffuseCommand['potential'],
    cond,
    frames: int('frames', values.frames, 6, 0),
    seed: int('seed', values.seed, 0, 0),
    out,
  };
}

/** Run `tyche diffuse` with the arguments after `diffuse`. */
export async function diffuseMain(argv: readonly string[], io: CliIO): Promise<void> {
  const cmd = parseDiffuse(argv);
  if (cmd === 'help') {
    io.stdout.write(DIFFUSE_HELP);
    return;
  }
  // the library is loaded only now, so that argument errors never wait for TensorFlow.js
  const { initBackend } = await import('../backend/select.js');
  await initBackend();
  const tf = await import('@tensorflow/tfjs-core');
  const D = await import('../steer/diffusion/index.js');
  const files = await import('../steer/diffusion/files.js');
  const { imageGrid, savePng, scatterImage } = await import('../io/png.js');
  const model = files.loadDenoiser(cmd.model);
  const reward = await makeReward(cmd, tf, D, files);
  const likelihood = cmd.reward.kind === 'class' ? classLikelihood(tf, files, cmd.reward.label) : undefined;
  const sampler = cmd.model === 'toy2d' ? D.flowSde() : D.ddpm();
  const cond = cmd.cond === undefined ? undefined : (n: number) => D.labels(n, cmd.cond!);
  mkdirSync(resolve(cmd.out), { recursive: true });
  io.stderr.write(`tyche diffuse: ${model.name}, reward: ${reward.name}, ${cmd.methods.length > 1 ? 'all methods' : cmd.methods[0]}, ${cmd.particles} particles, ${cmd.steps} steps, budget ${cmd.budget} evaluations, seed ${cmd.seed}\n`);
  const keep = cmd.frames > 0 ? Array.from({ length: cmd.frames }, (_, i) => Math.round(((i + 1) * cmd.steps) / cmd.frames)) : [];
  const rows: string[][] = [];
  const notes: string[] = [];
  const report: Record<string, unknown>[] = [];
  const dim = model.eventShape.reduce((a, b) => a * b, 1);
  for (const method of cmd.methods) {
    const t0 = performance.now();
    const run = await D.steerAtBudget(model, method, { reward, likelihood, budget: cmd.budget, steps: cmd.steps, lambda: cmd.lambda, potential: cmd.potential, sampler, samples: cmd.particles, cond, seed: cmd.seed, keep: [0, ...keep] });
    const ms = performance.now() - t0;
    const x = Float32Array.from(await run.x.data());
    run.x.dispose();
    const n = run.rewards.length;
    let mean = 0;
    for (let i = 0; i < n; i++) mean += run.weights[i]! * run.rewards[i]!;
    const best = Math.max(...run.rewards);
    const diversity = meanPairwiseDistance(x, n, dim);
    rows.push([method, String(n), mean.toFixed(3), best.toFixed(3), diversity.toFixed(3), String(run.evaluations), String(run.rewardCalls), ms.toFixed(0)]);
    if (run.budgetNote) notes.push(`${method}: ${run.budgetNote}`);
    report.push({ method, samples: n, meanReward: mean, bestReward: best, diversity, evaluations: run.evaluations, rewardCalls: run.rewardCalls, budgetNote: run.budgetNote, ms, rewards: [...run.rewards], weights: [...run.weights], x: [...x] });
    const tag = cmd.methods.length > 1 ? `-${method}` : '';
    const picture = cmd.model === 'digits' ? imageGrid(x, n, 8, 8, { columns: Math.min(n, 8), scale: 4 }) : scatterImage(x, { size: 256 });
    savePng(join(cmd.out, `samples${tag}.png`), picture);
    if (run.frames.length > 0) {
      if (cmd.model === 'digits') {
        // one row per kept time, up to 8 particles each; one sample's trajectory as one row
        const per = Math.min(8, run.frames[0]!.x.length / dim);
        const pick = new Float32Array(run.frames.length * per * dim);
        run.frames.forEach((f, r) => pick.set(f.x.subarray(0, per * dim), r * per * dim));
        savePng(join(cmd.out, `frames${tag}.png`), imageGrid(pick, run.frames.length * per, 8, 8, { columns: per === 1 ? run.frames.length : per, scale: 4 }));
      } else {
        const all = new Float32Array(run.frames.reduce((a, f) => a + f.x.length, 0));
        const groups: number[] = [];
        let at = 0;
        run.frames.forEach((f, k) => {
          all.set(f.x, at);
          at += f.x.length;
          for (let i = 0; i < f.x.length / 2; i++) groups.push(k);
        });
        savePng(join(cmd.out, `frames${tag}.png`), scatterImage(all, { size: 256, groups }));
      }
    }
  }
  const head = ['method', 'samples', 'mean reward', 'best reward', 'diversity', 'evaluations', 'reward calls', 'ms'];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (i === 0 ? v.padEnd(width[i]!) : v.padStart(width[i]!))).join('  ');
  // the budget counts network (denoiser) evaluations; reward calls are shown, not budgeted
  io.stdout.write(`budget: ${cmd.budget} network evaluations (denoiser calls) per method; 'reward calls' counts the rows the method's reward scored (not budgeted)\n`);
  io.stdout.write(`${line(head)}\n${rows.map(line).join('\n')}\n`);
  if (notes.length > 0) io.stdout.write(`not spent exactly:\n${notes.map((n) => `  ${n}`).join('\n')}\n`);
  writeFileSync(join(cmd.out, 'diffuse.json'), JSON.stringify({ model: model.name, reward: reward.name, lambda: cmd.lambda, steps: cmd.steps, budget: cmd.budget, seed: cmd.seed, cond: cmd.cond ?? null, runs: report }, null, 1));
  io.stderr.write(`wrote ${join(cmd.out, 'diffuse.json')} and the PNG pictures in ${cmd.out}\n`);
}

/** Mean Euclidean distance between pairs of samples (0 for one sample). */
function meanPairwiseDistance(x: Float32Array, n: number, d: number): number {
  if (n < 2) return 0;
  let acc = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += (x[i * d + k]! - x[j * d + k]!) ** 2;
      acc += Math.sqrt(s);
    }
  }
  return acc / ((n * (n - 1)) / 2);
}

type Tf = typeof tfTypes;
type Diff = typeof import('../steer/diffusion/index.js');
type Files = typeof import('../steer/diffusion/files.js');

/** log p(label | x) from the shipped clean classifier, with the noisy classifier as its noise-aware twist (for TDS). */
function classLikelihood(tf: Tf, files: Files, label: number): import('../steer/diffusion/index.js').LogLikelihood {
  const clean = files.loadClassifier('digits-classifier');
  const noisy = files.loadClassifier('digits-noisy-classifier');
  const pick = (lp: tfTypes.Tensor) => tf.reshape(tf.slice(lp, [0, label], [-1, 1]), [-1]);
  return { name: `digit class ${label}`, logProb: (x) => pick(clean.logProbs(x)), noisy: (x, t) => pick(noisy.logProbs(x, t)) };
}

/** The reward the command asks for. */
async function makeReward(cmd: DiffuseCommand, tf: Tf, D: Diff, files: Files): Promise<import('../steer/diffusion/index.js').Reward> {
  const r = cmd.reward;
  switch (r.kind) {
    case 'none':
      return { name: 'none', evaluate: (x) => new Float64Array(x.shape[0]!) };
    case 'class':
      return D.classifierReward(files.loadClassifier('digits-classifier'), r.label);
    case 'symmetry':
      return D.tensorReward('mirror symmetry', (x) => {
        const img = tf.reshape(x, [-1, 8, 8]);
        return tf.neg(tf.mean(tf.reshape(tf.square(tf.sub(img, tf.reverse(img, 2))), [-1, 64]), 1));
      });
    case 'inpaint': {
      const { test } = files.splitDigits(files.loadDigits());
      if (r.digit >= test.n) throw new UsageError(`diffuse: --digit must be below ${test.n} (the held-out digits), got ${r.digit}`);
      const target = Float32Array.from(test.images.subarray(r.digit * 64, r.digit * 64 + 64));
      const mask = Float32Array.from({ length: 64 }, (_, i) => (r.half === 'top' ? i < 32 : i % 8 < 4) ? 1 : 0);
      const sd = 0.25;
      return D.tensorReward(`inpaint ${r.half} half of held-out digit ${r.digit} (label ${test.labels[r.digit]})`, (x) =>
        tf.mul(tf.sum(tf.mul(tf.square(tf.sub(tf.reshape(x, [-1, 64]), tf.tensor2d(target, [1, 64]))), tf.tensor2d(mask, [1, 64])), 1), -0.5 / (sd * sd)),
      );
    }
    case 'region': {
      const [x0, x1, y0, y1] = r.box;
      return D.tensorReward(`box [${x0}, ${x1}] x [${y0}, ${y1}]`, (x) => {
        const px = tf.slice(x, [0, 0], [-1, 1]);
        const py = tf.slice(x, [0, 1], [-1, 1]);
        const dx = tf.relu(tf.maximum(tf.sub(x0, px), tf.sub(px, x1)));
        const dy = tf.relu(tf.maximum(tf.sub(y0, py), tf.sub(py, y1)));
        return tf.neg(tf.reshape(tf.add(tf.square(dx), tf.square(dy)), [-1]));
      });
    }
  }
}
