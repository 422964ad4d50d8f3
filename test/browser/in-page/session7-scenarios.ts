/**
 * Scenarios run the same way in Node and in a page (bundled by
 * test/browser/browser-session7.test.ts): each returns plain numbers, so the
 * Node side can compare the page's answers with its own for the same seed,
 * and with the exact posterior. Also: aborting long runs, the tensor count
 * after repeated runs, and the messages of bad input.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Normal, backendInfo, infer, model, ops } from '../../../src/index.js';
import { mcseMean } from '../../../src/diagnostics/mcse.js';
import { burglary } from '../../../models/burglary.js';
import eightSchools, { data as schools } from '../../../models/eight-schools.js';

// ---- a conjugate normal: mu ~ N(0, s0), y_i ~ N(mu, 1) ----

const S0 = 2;
const Y = [1.2, 0.4, 2.1, 1.7, 0.9];
/** The conjugate model, written with numbers and `ops`-free arithmetic, so every engine runs it. */
export const conjugate = model(async ({ sample, observe }, y: number[]) => {
  const mu = await sample('mu', Normal(0, S0));
  for (let i = 0; i < y.length; i++) await observe(`y${i}`, Normal(mu, 1), y[i]!);
});
/** Exact posterior of mu and log Z of the conjugate model. */
export function conjugateExact(y: readonly number[] = Y): { mean: number; sd: number; logZ: number } {
  const n = y.length;
  const prec = 1 / (S0 * S0) + n;
  const sum = y.reduce((a, b) => a + b, 0);
  // y ~ N(0, I + S0^2 11'): det = 1 + n S0^2, inverse = I - S0^2/(1 + n S0^2) 11'
  const d = 1 + n * S0 * S0;
  const quad = y.reduce((a, b) => a + b * b, 0) - ((S0 * S0) / d) * sum * sum;
  return { mean: sum / prec, sd: Math.sqrt(1 / prec), logZ: -0.5 * (n * Math.log(2 * Math.PI) + Math.log(d) + quad) };
}

// ---- a random walk observed with noise (program SMC), exact by the Kalman filter ----

const WALK = [0.3, 1.1, 0.8, 2.0, 2.6, 1.9];
/** x_0 ~ N(0, 1), x_t ~ N(x_{t-1}, 1), y_t ~ N(x_t, 1): any control flow, plain numbers. */
export const walk = model(async ({ sample, observe }, y: number[]) => {
  let x = 0;
  for (let t = 0; t < y.length; t++) {
    x = await sample(`x${t}`, Normal(x, 1));
    await observe(`y${t}`, Normal(x, 1), y[t]!);
  }
  return x;
});
/** The Kalman filter's log Z and the filtered mean of the last state. */
export function walkExact(y: readonly number[] = WALK): { logZ: number; lastMean: number } {
  let m = 0;
  let p = 0;
  let logZ = 0;
  for (const yt of y) {
    p += 1; // predict
    const s = p + 1;
    logZ += -0.5 * (Math.log(2 * Math.PI * s) + ((yt - m) * (yt - m)) / s);
    const k = p / s;
    m += k * (yt - m);
    p *= 1 - k;
  }
  return { logZ, lastMean: m };
}

/** One scenario's numbers (and, for statistical ones, the standard error of `value`). */
export interface ScenarioResult {
  readonly numbers: Record<string, number>;
  /** The estimate tested against the exact answer, its MCSE and the exact answer. */
  readonly value?: number;
  readonly se?: number;
  readonly exact?: number;
}

/** Mean of a site over all chains with its MCSE (chains kept apart). */
function chainMean(post: { chainColumns(): Map<string, Float64Array[]> | undefined }, site: string): { mean: number; se: number } {
  const chains = post.chainColumns()!.get(site)!;
  let s = 0;
  let n = 0;
  for (const c of chains) for (const x of c) (s += x), (n += 1);
  return { mean: s / n, se: mcseMean(chains) };
}

/** The scenarios, by name; every run has a fixed seed. */
export const SCENARIOS: Record<string, () => Promise<ScenarioResult>> = {
  async 'enumerate burglary'() {
    const post = await infer(burglary, { method: 'enumerate' });
    const m = post.moments('burglary');
    post.dispose();
    return { numbers: { pBurglary: m.mean, logZ: post.logZ } };
  },
  async 'importance conjugate'() {
    const post = await infer(conjugate, { method: 'importance', particles: 3000, seed: 3 }, Y);
    const m = post.moments('mu');
    const se = m.sd / Math.sqrt(post.ess);
    const r = { numbers: { mean: m.mean, sd: m.sd, logZ: post.logZ, ess: post.ess }, value: m.mean, se, exact: conjugateExact().mean };
    post.dispose();
    return r;
  },
  async 'smc random walk'() {
    const post = await infer(walk, { method: 'smc', particles: 400, seed: 5 }, WALK);
    const m = post.moments('x5');
    const r = { numbers: { logZ: post.logZ, lastMean: m.mean } };
    post.dispose();
    return r;
  },
  async 'smc random walk (12 seeds)'() {
    const numbers: Record<string, number> = {};
    for (let seed = 0; seed < 12; seed++) {
      const post = await infer(walk, { method: 'smc', particles: 200, seed: 100 + seed }, WALK);
      numbers[`logZ${seed}`] = post.logZ;
      post.dispose();
    }
    return { numbers, exact: walkExact().logZ };
  },
  async 'nuts eight schools (default options)'() {
    const post = await infer(eightSchools, { method: 'nuts', chains: 4, warmup: 150, samples: 150, seed: 1 }, schools);
    const mu = chainMean(post, 'mu');
    post.dispose();
    return { numbers: { mu: mu.mean, muSe: mu.se } };
  },
  async 'nuts conjugate (default options)'() {
    const post = await infer(conjugate, { method: 'nuts', chains: 4, warmup: 200, samples: 300, seed: 2 }, Y);
    const mu = chainMean(post, 'mu');
    post.dispose();
    return { numbers: { mu: mu.mean }, value: mu.mean, se: mu.se, exact: conjugateExact().mean };
  },
  async 'vi conjugate'() {
    const post = await infer(conjugate, { method: 'vi', guide: 'normal', steps: 300, samples: 400, seed: 4 }, Y);
    const m = post.moments('mu');
    post.dispose();
    // draws from the fitted guide: their mean has se sd / sqrt(400) around the guide's own mean
    return { numbers: { mean: m.mean, sd: m.sd }, value: m.mean, se: m.sd / Math.sqrt(400), exact: conjugateExact().mean };
  },
};

/** Run the named scenarios; also reports the live tensor count before and after. */
export async function runScenarios(names: readonly string[]): Promise<{ results: Record<string, ScenarioResult>; tensorsBefore: number; tensorsAfter: number }> {
  const tensorsBefore = tf.memory().numTensors;
  const results: Record<string, ScenarioResult> = {};
  for (const n of names) {
    const f = SCENARIOS[n];
    if (!f) throw new Error(`no scenario "${n}"`);
    results[n] = await f();
  }
  return { results, tensorsBefore, tensorsAfter: tf.memory().numTensors };
}

/** Start a long run, abort it after `afterMs`, and report how long the abort took to land and what it threw. */
export async function abortRun(method: 'nuts' | 'nuts-tensors' | 'smc' | 'vi' | 'importance', afterMs: number): Promise<{ error: string; msToStop: number; tensorsDelta: number }> {
  const before = tf.memory().numTensors;
  const ac = new AbortController();
  const long: Record<string, Record<string, unknown>> = {
    nuts: { method: 'nuts', chains: 4, warmup: 20000, samples: 20000, seed: 1 },
    // the leapfrog on the page's backend (WebGL or wasm) instead of the compiled float64 replay
    'nuts-tensors': { method: 'nuts', chains: 4, warmup: 20000, samples: 20000, seed: 1, compile: false },
    smc: { method: 'smc', particles: 200000, seed: 1 },
    vi: { method: 'vi', guide: 'normal', steps: 10_000_000, seed: 1 },
    importance: { method: 'importance', particles: 5_000_000, seed: 1 },
  };
  const m = method.startsWith('nuts') ? eightSchools : method === 'smc' ? walk : conjugate;
  const args = method.startsWith('nuts') ? [schools] : method === 'smc' ? [WALK] : [Y];
  let abortedAt = 0;
  setTimeout(() => {
    abortedAt = performance.now();
    ac.abort(new DOMException('stopped by the test', 'AbortError'));
  }, afterMs);
  let error = 'no error';
  try {
    const post = await (infer as (m: unknown, o: unknown, ...a: unknown[]) => Promise<{ dispose(): void }>)(m, { ...long[method], signal: ac.signal }, ...args);
    post.dispose();
  } catch (e) {
    error = `${(e as Error).name}: ${(e as Error).message}`;
  }
  const msToStop = abortedAt === 0 ? -1 : performance.now() - abortedAt;
  return { error, msToStop, tensorsDelta: tf.memory().numTensors - before };
}

/** Eight schools with the number of schools fixed at 8, so data of another length is a wrongly shaped observation. */
const fixedEight = model(
  async ({ sample, observe, plate }, y: number[]) => {
    const mu = await sample('mu', Normal(0, 5));
    await plate('school', 8, async (_i, p) => {
      const z = await p.sample('z', Normal(0, 1));
      await p.observe('y', Normal(ops.add(mu, z), 10), tf.tensor1d(y));
    });
  },
  { name: 'fixed-eight' },
);

/** Inputs that are wrong; each must throw the same message in the page as in Node. */
export const BAD_INPUTS: Record<string, () => Promise<unknown>> = {
  'wrong observed shape (7 effects for 8 schools, nuts)': () => infer(fixedEight, { method: 'nuts', chains: 2, warmup: 10, samples: 10, seed: 1 }, [1, 2, 3, 4, 5, 6, 7]),
  'wrong observed shape (7 effects for 8 schools, smc)': () => infer(fixedEight, { method: 'smc', particles: 10, seed: 1 }, [1, 2, 3, 4, 5, 6, 7]),
  'data arrays of different lengths (eight schools, 7 standard errors for 8 effects)': () => infer(eightSchools, { method: 'nuts', chains: 2, warmup: 10, samples: 10, seed: 1 }, { y: schools.y, sigma: schools.sigma.slice(0, 7) }),
  'NaN in the data (importance)': () => infer(conjugate, { method: 'importance', particles: 100, seed: 1 }, [1, Number.NaN, 2]),
  'NaN in the data (nuts)': () => infer(conjugate, { method: 'nuts', chains: 2, warmup: 10, samples: 10, seed: 1 }, [1, Number.NaN, 2]),
  'an unknown option': () => infer(conjugate, { method: 'smc', particles: 100, seed: 1, particels: 10 } as never, Y),
  'an unknown method': () => infer(conjugate, { method: 'nutz' }, Y),
};

/** The message each bad input throws (`name: message`), or 'no error'. */
export async function badInputErrors(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [k, f] of Object.entries(BAD_INPUTS)) {
    out[k] = await f().then(
      (p) => {
        (p as { dispose?: () => void }).dispose?.();
        return 'no error';
      },
      (e: unknown) => `${(e as Error).name}: ${(e as Error).message}`,
    );
  }
  return out;
}

/** The backend the page (or Node) runs on. */
export function backendName(): string {
  return backendInfo()?.name ?? tf.getBackend();
}

/** `p`, or 'still waiting' after `ms`: a deadlock fails the check instead of hanging the page. */
function bounded<T>(p: Promise<T>, ms: number): Promise<T | 'still waiting'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'still waiting'>((r) => (timer = setTimeout(() => r('still waiting'), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** How one bounded run ended: 'ok', 'still waiting' (a deadlock), or the error. */
async function outcome(run: () => Promise<{ dispose(): void }>, ms = 8_000): Promise<string> {
  try {
    const out = await bounded(run(), ms);
    if (out === 'still waiting') return out;
    out.dispose();
    return 'ok';
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
}

/**
 * Engines whose lock requests nest (SURFACES, session 11): without
 * `AsyncLocalStorage` (a page), MH on a continuous model hung on its first
 * step, and a model's nested `infer` hung under importance, MH, NUTS and VI.
 * Reports how each run ended, the inner query's mean inside each outer run
 * and alone (same seed: they must be equal), and the tensor count change.
 */
export async function nestingRuns(): Promise<{ outcomes: Record<string, string>; innerMeans: Record<string, number[]>; alone: number; tensorsDelta: number }> {
  const before = tf.memory().numTensors;
  const innerMean = async (): Promise<number> => {
    const post = await infer(conjugate, { method: 'importance', particles: 50, seed: 9 }, Y);
    const m = post.moments('mu').mean;
    post.dispose();
    return m;
  };
  const alone = await innerMean();
  const outcomes: Record<string, string> = {};
  const innerMeans: Record<string, number[]> = {};
  outcomes['mh conjugate'] = await outcome(() => infer(conjugate, { method: 'mh', samples: 200, seed: 6 }, Y));
  const outers: Record<string, Record<string, unknown>> = {
    importance: { method: 'importance', particles: 3, seed: 1 },
    mh: { method: 'mh', samples: 5, seed: 1 },
    nuts: { method: 'nuts', samples: 5, warmup: 5, chains: 1, seed: 1 },
    smc: { method: 'smc', particles: 3, seed: 1 },
    vi: { method: 'vi', steps: 3, seed: 1 },
  };
  for (const [name, options] of Object.entries(outers)) {
    const seen: number[] = (innerMeans[name] = []);
    const outer = model(async ({ sample }) => {
      await sample('a', Normal(0, 1));
      seen.push(await innerMean());
    }, { name: 'outer' });
    outcomes[`nested infer under ${name}`] = await outcome(() => (infer as (m: unknown, o: unknown) => Promise<{ dispose(): void }>)(outer, options));
  }
  // two deep (SURFACES, session 12): top -> mid's query (depth 1) -> the inner query (depth 2), which waited on
  // its parent in the page's one line of nested calls and failed after 30 s; each inner answer is still its answer alone
  for (const name of ['importance', 'smc']) {
    const seen: number[] = (innerMeans[`two deep under ${name}`] = []);
    const mid = model(async ({ sample }) => {
      await sample('b', Normal(0, 1));
      seen.push(await innerMean());
    }, { name: 'mid' });
    const top = model(async ({ sample }) => {
      await sample('a', Normal(0, 1));
      const post = await infer(mid, { method: 'importance', particles: 2, seed: 4 });
      post.dispose();
    }, { name: 'top' });
    outcomes[`nested infer two deep under ${name}`] = await outcome(() => (infer as (m: unknown, o: unknown) => Promise<{ dispose(): void }>)(top, outers[name]));
  }
  return { outcomes, innerMeans, alone, tensorsDelta: tf.memory().numTensors - before };
}
