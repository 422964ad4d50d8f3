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
 * npx tsx scripts/lm/scaling.ts [--problems 24] [--budgets 1,2,4,8,16,32,64] [--methods pf,pf-best,pf-reward,epf,pg,bon,beam,sc,pf-its]
 *                               [--reps 1] [--out notebooks/data/inference-scaling.json] [--quick]
 *                               [--lm arith-char] [--prm arith-prm] (shipped names or paths of saved models)
 *
 * SIGINT/SIGTERM stop within one token; rows finished so far are already in --out.
 *
 * `--testbed noisy-set` swaps in a controlled test bed where the answers are
 * known to be reachable: per problem, an exact weighted-set LM over the
 * correct worked solution (probability --correct, default 0.15) and 40
 * corrupted ones (`corruptedSolution`: right steps up to a first planted
 * mistake), and a noisy oracle PRM from the exact step checker (a prefix whose
 * steps are all right scores U(0.45, 0.95), else U(0.05, 0.55), the noise a
 * fixed function of the text). `--sharpness k` raises the partial scores to
 * the power k (an overconfident PRM on early steps; complete scores unchanged).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { initBackend } from '../../src/backend/select.js';
import { Rng } from '../../src/core/rng.js';
import { ARITH_ALPHABET, type ArithProblem, arithmeticProblems, checkSolution, corruptedSolution, extractAnswer } from '../../src/steer/lm/arithmetic.js';
import type { LanguageModel } from '../../src/steer/lm/types.js';
import { TokenVocabulary } from '../../src/steer/lm/vocab.js';
import { WeightedSetLM } from '../../src/steer/lm/weighted-set.js';
import { wrapLanguageModel } from '../../src/steer/lm/cached.js';
import { type ScalingResult, type StepRewardModel, beamSearchSteps, bestOfNSteps, particleFilterSteps, particleGibbsSteps, selfConsistencySteps } from '../../src/steer/lm/scaling/index.js';
import { loadProcessRewardModel, loadTransformerLM, readModelFiles } from '../../src/steer/lm/transformer/files.js';

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : dflt;
};
const quick = argv.includes('--quick');
const P = Number(arg('problems', quick ? '4' : '24'));
const budgets = arg('budgets', quick ? '1,4' : '1,2,4,8,16,32,64').split(',').map(Number);
const methods = arg('methods', 'pf,pf-best,pf-reward,epf,pg,bon,beam,sc,pf-its').split(',');
const reps = Number(arg('reps', '1'));
const out = arg('out', quick ? '/tmp/inference-scaling-quick.json' : 'notebooks/data/inference-scaling.json');
const heldOutSeed = arg('problem-seed', 'scaling-heldout');
const lmName = arg('lm', 'arith-char');
const testbed = arg('testbed', 'shipped');
const pCorrect = Number(arg('correct', '0.15'));
const sharpness = Number(arg('sharpness', '1'));
if (testbed !== 'shipped' && testbed !== 'noisy-set') throw new Error(`scaling: --testbed must be shipped or noisy-set, got ${testbed}`);
const prmName = arg('prm', 'arith-prm');

const METHOD_NAMES: Record<string, string> = {
  pf: 'particle filtering (PRM ratio, log link, vote)',
  'pf-best': 'particle filtering (PRM ratio, log link, best weight)',
  'pf-reward': 'particle filtering (PRM ratio, log link, best final PRM score)',
  'pf-its': "particle filtering (its_hub: logit, weights replaced)",
  epf: 'entropic PF (ESS schedule)',
  'pf-lam': 'PF with look-ahead modulation (N/2 particles: the look-ahead doubles generation)',
  pg: 'particle Gibbs (2 sweeps, ancestor sampling off)',
  bon: 'best-of-N (outcome reward)',
  beam: 'beam search (PRM)',
  sc: 'self-consistency (majority vote)',
};
for (const m of methods) if (!METHOD_NAMES[m]) throw new Error(`scaling: unknown method ${m}; known: ${Object.keys(METHOD_NAMES).join(', ')}`);

const ac = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => ac.abort(new Error(`scaling: stopped by ${sig}`)));

const backend = await initBackend('wasm');
const lm = wrapLanguageModel(loadTransformerLM(lmName));
const prm = loadProcessRewardModel(prmName);
const lmMeta = readModelFiles(lmName).header.metadata ?? {};
const prmMeta = readModelFiles(prmName).header.metadata ?? {};
const problems = arithmeticProblems(P, heldOutSeed);
const answerOf = (s: string): number | null => extractAnswer(s);

/** The controlled test bed of one problem (see the header): an exact LM over solutions and a noisy oracle PRM. */
const setVocab = TokenVocabulary.characters(ARITH_ALPHABET);
function noisyTestbed(p: ArithProblem): { lm: LanguageModel; prm: StepRewardModel } {
  const rng = new Rng(`noisy-set/${p.expression}`);
  const members = [{ value: p.solution, weight: pCorrect }];
  for (let k = 0; k < 40; k++) members.push({ value: corruptedSolution(p, rng).solution, weight: (1 - pCorrect) / 40 });
  const oracle: StepRewardModel = {
    name: 'noisy-oracle',
    score: async (texts, o = {}) =>
      texts.map((t) => {
        const c = checkSolution(p.expression, t.slice(p.prompt.length));
        const right = o.complete ? c.answerCorrect : c.correct.every(Boolean);
        const u = new Rng(`oracle/${t}/${o.complete ? 1 : 0}`).uniform();
        const r = right ? 0.45 + 0.5 * u : 0.05 + 0.5 * u;
        return o.complete ? r : r ** sharpness; // sharpness > 1: overconfident partial scores
      }),
  };
  return { lm: wrapLanguageModel(new WeightedSetLM(setVocab, members, 'noisy-set')), prm: oracle };
}

async function run(method: string, budget: number, problem: ArithProblem, seed: string): Promise<ScalingResult> {
  const bed = testbed === 'noisy-set' ? noisyTestbed(problem) : { lm, prm };
  const { lm: model, prm: reward } = bed;
  // the weighted-set LM holds solutions only: the prompt goes to the reward model, not the LM
  const prompt = testbed === 'noisy-set' ? '' : problem.prompt;
  const rewardText = testbed === 'noisy-set' ? (_: string, sol: string) => problem.prompt + sol : undefined;
  const common = { seed, answerOf, maxSteps: 6, signal: ac.signal, rewardText };
  return runWith(model, reward, method, budget, prompt, common);
}

async function runWith(
  lm: LanguageModel,
  prm: StepRewardModel,
  method: string,
  budget: number,
  prompt: string,
  common: { seed: string; answerOf: (s: string) => number | null; maxSteps: number; signal: AbortSignal; rewardText?: (p: string, s: string) => string },
): Promise<ScalingResult> {
  switch (method) {
    case 'pf':
      return particleFilterSteps(lm, prm, prompt, { ...common, particles: budget });
    case 'pf-best':
      return particleFilterSteps(lm, prm, prompt, { ...common, particles: budget, select: 'best' });
    case 'pf-reward':
      return particleFilterSteps(lm, prm, prompt, { ...common, particles: budget, select: 'reward' });
    case 'pf-its':
      return particleFilterSteps(lm, prm, prompt, { ...common, particles: budget, weights: 'replace', select: 'best' });
    case 'epf':
      return particleFilterSteps(lm, prm, prompt, { ...common, particles: budget, annealing: { schedule: 'ess' } });
    case 'pf-lam':
      return particleFilterSteps(lm, prm, prompt, { ...common, particles: Math.max(1, Math.floor(budget / 2)), lookahead: { strength: 1 } });
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
    testbed: testbed === 'noisy-set' ? `controlled: exact weighted-set LM (correct solution ${pCorrect}, 40 corrupted), noisy oracle PRM` : 'shipped arith-char and arith-prm',
    problemSeed: heldOutSeed,
    problems: P,
    reps,
    budgets,
    lm: testbed === 'noisy-set' ? { name: 'weighted set per problem', correctProbability: pCorrect, corrupted: 40 } : { name: lmName, steps: lmMeta.steps, greedyAccuracy: lmMeta.greedyAccuracy, sampledAccuracy: lmMeta.sampledAccuracy },
    prm: testbed === 'noisy-set' ? { name: 'noisy oracle', right: 'U(0.45, 0.95)', wrong: 'U(0.05, 0.55)', partialScoresToThePower: sharpness } : { name: prmName, steps: prmMeta.steps, stepAccuracy: prmMeta.stepAccuracy },
    backend: backend.name,
    errorBars: 'binomial standard error sqrt(acc (1 - acc) / n), n = problems x reps; the same seeds for every method',
  };
  writeFileSync(out, JSON.stringify({ meta, rows }, null, 1) + '\n');
};

console.log(
  testbed === 'noisy-set'
    ? `testbed noisy-set (exact weighted-set LM, correct solution ${pCorrect}, noisy oracle PRM); ${P} problems x ${reps} reps`
    : `testbed shipped; backend ${backend.name}; ${lmName} at ${lmMeta.steps} steps (greedy accuracy ${lmMeta.greedyAccuracy}), ${prmName} at ${prmMeta.steps} steps (step accuracy ${prmMeta.stepAccuracy}); ${P} problems x ${reps} reps`,
);
for (const budget of budgets) {
  for (const method of methods) {
    let correct = 0;
    let tokens = 0;
    let calls = 0;
    const t0 = Date.now();
    for (let r = 0; r < reps; r++) {
      for (let i = 0; i < P; i++) {
        const p = problems[i]!;
        const res = await run(method, budget, p, `scaling/${i}/${r}/${budget}`);
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
