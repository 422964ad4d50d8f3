/**
 * Scalar path versus tensors: what one per-particle model execution costs.
 *
 * The model has 10 Normal sites (5 latent `sample`, 5 `observe`); each
 * execution draws the latents, computes every site's log density through the
 * effect runtime (`execute`, which records a trace) and reads the log joint as
 * a number, as an importance sampler would. It runs
 *   (a) with number parameters and data: the scalar path of `value.ts`;
 *   (b) with the same parameters and data as scalar tensors (tfjs dispatch on
 *       every operation);
 *   (c) for reference, batched: one execution whose parameters carry a
 *       particle axis of size 1000, reported per particle.
 * Each backend runs in its own child process (tfjs fixes its backend once per
 * process). Prints the median microseconds per execution over repeated runs.
 *
 * Run: `npx tsx bench/scalar-vs-tensor.ts [--backends cpu,wasm] [--quick]`
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { type BackendName, initBackend, parseBackendName } from '../src/backend/select.js';
import { execute, model } from '../src/core/model.js';
import { Rng } from '../src/core/rng.js';
import { type Value, toNumber } from '../src/core/value.js';
import { Normal } from '../src/distributions/normal.js';
import { median, nodeArgsFor, table } from './util.js';

const SITES = 5;
const BATCH = 1000;

/** Parameters and data of the model, as numbers or as tensors. */
interface Inputs {
  mu: Value;
  tau: Value;
  sigma: Value;
  ys: Value[];
}

/** z_i ~ Normal(mu, tau), y_i ~ Normal(z_i, sigma), i < 5: 10 Normal sites. */
const perParticle = model(async ({ sample, observe }, inp: Inputs) => {
  for (let i = 0; i < SITES; i++) {
    const z = await sample(`z${i}`, Normal(inp.mu, inp.tau));
    await observe(`y${i}`, Normal(z, inp.sigma), inp.ys[i]);
  }
});

const Y = [0.3, -1.2, 0.8, 2.1, -0.4];

function numberInputs(): Inputs {
  return { mu: 0.5, tau: 1.5, sigma: 0.7, ys: Y };
}
function scalarTensorInputs(): Inputs {
  return { mu: tf.scalar(0.5), tau: tf.scalar(1.5), sigma: tf.scalar(0.7), ys: Y.map((y) => tf.scalar(y)) };
}
function batchedInputs(): Inputs {
  return { mu: tf.fill([BATCH], 0.5), tau: tf.scalar(1.5), sigma: tf.scalar(0.7), ys: Y.map((y) => tf.scalar(y)) };
}

/** One execution; returns the log joint (summed over any batch) as a number. */
async function once(inp: Inputs, rng: Rng): Promise<number> {
  const { trace } = await execute(perParticle, { rng }, inp);
  return toNumber(trace.logJoint());
}

/** Microseconds per execution (medians over blocks): wall clock and CPU time of this process. */
interface Timing {
  wallUs: number;
  cpuUs: number;
}

/** `repeats` timed blocks of `inner` executions each, after a warm-up; medians per execution. */
async function time(inp: Inputs, inner: number, repeats: number, tensors: boolean): Promise<Timing> {
  const rng = new Rng(1);
  const engine = tf.engine();
  const block = async (k: number) => {
    for (let i = 0; i < k; i++) {
      if (tensors) engine.startScope();
      const lj = await once(inp, rng);
      if (tensors) engine.endScope();
      if (!Number.isFinite(lj)) throw new Error(`log joint is ${lj}`);
    }
  };
  await block(Math.max(10, inner >> 2)); // warm-up (JIT, kernel caches)
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await block(inner);
    wall.push(Number(process.hrtime.bigint() - t0) / 1e3 / inner);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / inner);
  }
  return { wallUs: median(wall), cpuUs: median(cpu) };
}

/** What a child process measures on one backend. */
interface ChildResult {
  backend: string;
  numbers: Timing;
  scalarTensors: Timing;
  batchedPerParticle: Timing;
  tensorsAfter: number;
  tensorsBefore: number;
}

async function child(backend: BackendName, quick: boolean): Promise<void> {
  await initBackend(backend);
  const rep = quick ? 5 : 15;
  const numbers = await time(numberInputs(), quick ? 2000 : 10000, rep, false);
  const tIn = scalarTensorInputs();
  const before = tf.memory().numTensors;
  const scalarTensors = await time(tIn, quick ? 100 : 400, rep, true);
  const after = tf.memory().numTensors;
  const batched = await time(batchedInputs(), quick ? 10 : 40, rep, true);
  const out: ChildResult = {
    backend,
    numbers,
    scalarTensors,
    batchedPerParticle: { wallUs: batched.wallUs / BATCH, cpuUs: batched.cpuUs / BATCH },
    tensorsBefore: before,
    tensorsAfter: after,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

function runChild(backend: BackendName, quick: boolean): Promise<ChildResult> {
  const self = fileURLToPath(import.meta.url);
  const args = [...nodeArgsFor(self), '--child', backend, ...(quick ? ['--quick'] : [])];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${backend} child failed: ${stderr || err.message}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop() as string) as ChildResult);
    });
  });
}

function fmt(us: number): string {
  return us >= 100 ? us.toFixed(0) : us >= 10 ? us.toFixed(1) : us.toFixed(2);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const quick = argv.includes('--quick');
  const ci = argv.indexOf('--child');
  if (ci >= 0) return child(parseBackendName(argv[ci + 1], '--child'), quick);
  const bi = argv.indexOf('--backends');
  const backends = (bi >= 0 ? argv[bi + 1].split(',') : ['cpu', 'wasm']).map((b) => parseBackendName(b, '--backends'));

  console.log(`per-particle model: ${SITES} latent + ${SITES} observed Normal sites, execute() + trace.logJoint() read as a number`);
  console.log(`median microseconds per model execution, wall clock / CPU time, ${quick ? 'quick' : 'full'} run, Node ${process.version}\n`);
  const head = ['backend', 'numbers', 'scalar tensors', 'tensor/number', `batched x${BATCH}, per particle`];
  const rows: string[][] = [];
  const cell = (t: Timing) => `${fmt(t.wallUs)} / ${fmt(t.cpuUs)}`;
  for (const b of backends) {
    const r = await runChild(b, quick);
    if (r.tensorsAfter !== r.tensorsBefore) console.warn(`warning: ${b}: ${r.tensorsAfter - r.tensorsBefore} tensors leaked in the scalar-tensor runs`);
    const ratio = (x: keyof Timing) => (r.scalarTensors[x] / r.numbers[x]).toFixed(0);
    rows.push([b, cell(r.numbers), cell(r.scalarTensors), `${ratio('wallUs')}x / ${ratio('cpuUs')}x`, cell(r.batchedPerParticle)]);
  }
  console.log(table(head, rows));
}

await main();
