/**
 * The inference-time scaling experiment on the shipped arithmetic model:
 * accuracy against budget (number of solutions the LM generates) for particle
 * filtering with the PRM (proper twist ratio; and its_hub's replacement
 * variant), entropic PF, particle Gibbs, best-of-N with the outcome reward,
 * beam search with the PRM and self-consistency, on held-out problems with
 * exact answers, every method with the same seeds. Prints a table with Monte
 * Carlo error bars (binomial standard error over problems x repeats) and
 * writes the data the notebook plots.
 *
 * npx tsx scripts/lm/scaling.ts [--problems 24] [--budgets 1,2,4,8,16,32,64] [--methods pf,epf,pg,bon,beam,sc,pf-its]
 *                               [--reps 1] [--out notebooks/data/inference-scaling.json] [--quick]
 *
 * SIGINT/SIGTERM stop within one token; rows finished so far are already in --out.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { initBackend } from '../../src/backend/select.js';
import { arithmeticProblems, extractAnswer } from '../../src/steer/lm/arithmetic.js';
import { wrapLanguageModel } from '../../src/steer/lm/cached.js';
import { type ScalingResult, beamSearchSteps, bestOfNSteps, particleFilterSteps, particleGibbsSteps, selfConsistencySteps } from '../../src/steer/lm/scaling/index.js';
import { loadProcessRewardModel, loadTransformerLM, readModelFiles } from '../../src/steer/lm/transformer/files.js';

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : dflt;
};
const quick = argv.includes('--quick');
const P = Number(arg('problems', quick ? '4' : '24'));
const budgets = arg('budgets', quick ? '1,4' : '1,2,4,8,16,32,64').split(',').map(Number);
const methods = arg('methods', 'pf,epf,pg,bon,beam,sc,pf-its').split(',');
const reps = Number(arg('reps', '1'));
const out = arg('out', quick ? '/tmp/inference-scaling-quick.json' : 'notebooks/data/inference-scaling.json');
const heldOutSeed = arg('problem-seed', 'scaling-heldout');

const METHOD_NAMES: Record<string, string> = {
  pf: 'particle filtering (PRM ratio, log link)',
  'pf-its': "particle filtering (its_hub: logit, weights replaced)",
  epf: 'entropic PF (ESS schedule)',
  pg: 'particle Gibbs (2 sweeps, ancestor sampling off)',
  bon: 'best-of-N (outcome reward)',
  beam: 'beam search (PRM)',
  sc: 'self-consistency (majority vote)',
};
for (const m of methods) if (!METHOD_NAMES[m]) throw new Error(`scaling: unknown method ${m}; known: ${Object.keys(METHOD_NAMES).join(', ')}`);

const ac = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => ac.abort(new Error(`scaling: stopped by ${sig}`)));

const backend = await initBackend('wasm');
const lm = wrapLanguageModel(loadTransformerLM('arith-char'));
const prm = loadProcessRewardModel('arith-prm');
const lmMeta = readModelFiles('arith-char').header.metadata ?? {};
const prmMeta = readModelFiles('arith-prm').header.metadata ?? {};
const problems = arithmeticProblems(P, heldOutSeed);
const answerOf = (s: string): number | null => extractAnswer(s);

async function run(method: string, budget: number, prompt: string, seed: string): Promise<ScalingResult> {
  const common = { seed, answerOf, maxSteps: 6, signal: ac.signal };
  switch (method) {
    case 'pf':
      return particleFilterSteps(lm, prm, prompt, { ...common, particles: budget });
    case 'pf-its':
      return particleFilterSteps(lm, prm, prompt, { ...common, particles: budget, weights: 'replace', select: 'best' });
    case 'epf':
      return particleFilterSteps(lm, prm, prompt, { ...common, particles: budget, annealing: { schedule: 'ess' } });
    case 'pg': {
      const K = budget >= 2 ? 2 : 1;
      return particleGibbsSteps(lm, prm, prompt, { ...common, particles: budget / K, iterations: K });
    }
    case 'bon':
      return bestOfNSteps(lm, prm, prompt, { ...common, budget });
    case 'beam':
      return beamSearchSteps(lm, prm, prompt, { ...common, budget });
    default:
      return selfConsistencySteps(lm, prompt, { ...common, budget });
  }
}

interface Row {
  method: string;
  label: string;
  budget: number;
  n: number;
  correct: number;
  accuracy: number;
  se: number;
  tokensPerProblem: number;
  rewardCallsPerProblem: number;
  secondsPerProblem: number;
}
const rows: Row[] = [];
const save = (): void => {
  mkdirSync(dirname(out), { recursive: true });
  const meta = {
    task: 'held-out arithmetic problems (src/steer/lm/arithmetic.ts), exact answers',
    problemSeed: heldOutSeed,
    problems: P,
    reps,
    budgets,
    lm: { name: 'arith-char', steps: lmMeta.steps, greedyAccuracy: lmMeta.greedyAccuracy, sampledAccuracy: lmMeta.sampledAccuracy },
    prm: { name: 'arith-prm', steps: prmMeta.steps, stepAccuracy: prmMeta.stepAccuracy },
    backend: backend.name,
    errorBars: 'binomial standard error sqrt(acc (1 - acc) / n), n = problems x reps; the same seeds for every method',
  };
  writeFileSync(out, JSON.stringify({ meta, rows }, null, 1) + '\n');
};

console.log(`backend ${backend.name}; arith-char at ${lmMeta.steps} steps (greedy accuracy ${lmMeta.greedyAccuracy}), arith-prm at ${prmMeta.steps} steps (step accuracy ${prmMeta.stepAccuracy}); ${P} problems x ${reps} reps`);
for (const budget of budgets) {
  for (const method of methods) {
    let correct = 0;
    let tokens = 0;
    let calls = 0;
    const t0 = Date.now();
    for (let r = 0; r < reps; r++) {
      for (let i = 0; i < P; i++) {
        const p = problems[i]!;
        const res = await run(method, budget, p.prompt, `scaling/${i}/${r}/${budget}`);
        if (res.answer === p.answer) correct++;
        tokens += res.cost.tokens;
        calls += res.cost.rewardCalls;
        lm.clearCache();
      }
    }
    const n = P * reps;
    const acc = correct / n;
    rows.push({
      method,
      label: METHOD_NAMES[method]!,
      budget,
      n,
      correct,
      accuracy: acc,
      se: Math.sqrt((acc * (1 - acc)) / n),
      tokensPerProblem: tokens / n,
      rewardCallsPerProblem: calls / n,
      secondsPerProblem: (Date.now() - t0) / 1000 / n,
    });
    const row = rows[rows.length - 1]!;
    console.log(
      `${method.padEnd(7)} N=${String(budget).padStart(2)}  accuracy ${row.accuracy.toFixed(3)} ± ${row.se.toFixed(3)}  (${correct}/${n})  tokens/problem ${row.tokensPerProblem.toFixed(0).padStart(5)}  PRM calls/problem ${row.rewardCallsPerProblem.toFixed(0).padStart(4)}  ${row.secondsPerProblem.toFixed(2)} s/problem`,
    );
    save();
  }
}
console.log(`wrote ${out}`);
lm.dispose();
prm.dispose();
