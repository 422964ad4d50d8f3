/**
 * QUEUE, session 10: holes in `infer`'s one-at-a-time queue, the engines'
 * direct entry points, and the pacing of the last blocking loops.
 *
 * Each test names what it did on the code before (commit c0298a3).
 */
import { beforeAll, describe, expect, test } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/select.js';
import '../../src/backend/gradients.js';
import * as D from '../../src/steer/diffusion/index.js';
import * as St from '../../src/steer/diffusion/steering/index.js';
import { MIX } from '../steer/diffusion/fixtures.js';
import { Bernoulli, Normal, type Posterior, infer, model, ops } from '../../src/index.js';
import * as T from '../../src/index.js';
import { inferenceCallsPending, setSelfWaitBoundMs } from '../../src/infer/one-at-a-time.js';

beforeAll(async () => {
  await initBackend('cpu');
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyPosterior = Posterior<any, any>;

/** `p`, or 'still waiting' after `ms`: a deadlock fails the test instead of hanging the suite. */
function bounded<T>(p: Promise<T>, ms: number): Promise<T | 'still waiting'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'still waiting'>((r) => (timer = setTimeout(() => r('still waiting'), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const inner = model(async ({ sample, observe }) => {
  const p = await sample('p', Normal(0, 1));
  await observe('y', Normal(p, 1), 0.5);
}, { name: 'inner' });

describe('a nested infer the stack cannot see never waits silently for ever', () => {
  const innerMean = (post: AnyPosterior): number => {
    const mean = post.moments('p').mean;
    post.dispose();
    return mean;
  };
  const runInner = (): Promise<AnyPosterior> => infer(inner, { method: 'importance', particles: 5, seed: 1 });
  /** Ways a model can start its inner query where V8's async stack trace does not follow (checked with `insideModelCode`). */
  const HIDDEN: Record<string, () => Promise<AnyPosterior>> = {
    // a callback-style API: the inner call starts in a timer callback
    timer: () => new Promise((resolve, reject) => setTimeout(() => runInner().then(resolve, reject), 0)),
    // a `.then()` inside a `.then()` callback
    'then in then': () => Promise.resolve().then(() => Promise.resolve().then(runInner)),
    // a helper that hands back a promise settled by an async function it does not await
    'un-awaited helper': () => {
      let settle!: (p: Promise<AnyPosterior>) => void;
      const out = new Promise<AnyPosterior>((r) => (settle = r));
      void (async () => {
        await null;
        settle(runInner());
      })();
      return out;
    },
  };
  const hiddenNested = (how: string) =>
    model(async ({ sample, factor }) => {
      const z = (await sample('z', Bernoulli(0.5))) as number;
      const m = innerMean(await HIDDEN[how]!());
      await factor('f', -Math.abs(m - z));
      return z;
    }, { name: `hidden nested (${how})` });

  // the general enumeration runtimes hold no ledger or gradient lock whose async context would mark the inner call
  const ENGINES = [
    ['enumerate (general runtime)', { method: 'enumerate', lean: false }],
    ['enumerate (parallel)', { method: 'enumerate', strategy: 'parallel' }],
  ] as const;
  const CASES = ENGINES.flatMap(([name, opts]) => Object.keys(HIDDEN).map((how) => [name, how, opts] as const));

  test.each(CASES)('%s over a model whose inner infer starts in a %s: a clear error naming the cause, quickly (was: waited for ever)', async (_name, how, opts) => {
    const restore = setSelfWaitBoundMs(300);
    try {
      const before = tf.memory().numTensors;
      const run = infer(hiddenNested(how), opts);
      const out = await bounded(run.then(() => 'resolved', (e: unknown) => e), 5000);
      expect(out).not.toBe('still waiting');
      expect(String((out as Error).message ?? out)).toMatch(/queued behind a running inference.*\.then\(\)/s);
      expect(inferenceCallsPending()).toBe(0);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      restore();
    }
  });

  test('a call queued behind a model that awaits outside I/O on every run waits its turn and is exact (no false self-wait)', async () => {
    const restore = setSelfWaitBoundMs(100);
    try {
      // each run awaits a 30 ms timer (outside I/O): the model stands still for 30 ms at a time, never for the bound
      const slow = model(async ({ sample, factor }) => {
        const a = (await sample('a', Bernoulli(0.3))) as number;
        await new Promise((r) => setTimeout(r, 30));
        const b = (await sample('b', Bernoulli(0.6))) as number;
        await factor('f', 0.5 * a * b);
        return a + b;
      }, { name: 'slow I/O' });
      const alone = await runInner();
      const expected = alone.moments('p').mean;
      alone.dispose();
      const running = infer(slow, { method: 'enumerate', lean: false });
      const queued = runInner();
      const [post, other] = await Promise.all([running, queued]);
      // P(a=1) = 0.3 (0.4 + 0.6 e^0.5) / (0.7 + 0.3 (0.4 + 0.6 e^0.5))
      const w = 0.3 * (0.4 + 0.6 * Math.exp(0.5));
      expect(post.marginal('a').prob(1)).toBeCloseTo(w / (0.7 + w), 12);
      expect(other.moments('p').mean).toBe(expected);
      post.dispose();
      other.dispose();
    } finally {
      restore();
    }
  });
});

describe("the engines' exported functions check their options as infer does (were: skipped every infer check)", () => {
  const gauss = model(async ({ sample, observe }) => {
    const mu = await sample('mu', Normal(0, 1));
    await observe('y', Normal(mu, 1), 0.5);
    return mu;
  }, { name: 'gauss' });
  const coin = model(async ({ sample }) => sample('c', Bernoulli(0.3)), { name: 'coin' });
  /** Each exported engine function, a call with a misspelt option and one with a bad value, as `infer` words them. */
  const CASES: [string, () => Promise<unknown>, RegExp, () => Promise<unknown>, RegExp][] = [
    ['enumerate', () => T.enumerate(coin, { maxExecution: 10 } as never, []), /^infer: unknown option "maxExecution" for method "enumerate" \(did you mean "maxExecutions"\?\)/, () => T.enumerate(coin, { maxExecutions: 0 }, []), /^enumerate: maxExecutions must be a positive integer, got 0/],
    ['importance', () => T.importance(gauss, { particle: 10 } as never, []), /^infer: unknown option "particle" for method "importance" \(did you mean "particles"\?\)/, () => T.importance(gauss, { particles: 2.5 }, []), /^importance: particles must be a positive integer, got 2\.5/],
    ['smcProgram', () => T.smcProgram(gauss, { particle: 10 } as never, []), /^infer: unknown option "particle" for method "smc"/, () => T.smcProgram(gauss, { essThreshold: 2 }, []), /^smc: essThreshold must be/],
    ['mh', () => T.mh(gauss, { sample: 10 } as never, []), /^infer: unknown option "sample" for method "mh" \(did you mean "samples"\?\)/, () => T.mh(gauss, { samples: -1 }, []), /^mh: samples must be a positive integer, got -1/],
    ['tempered', () => T.tempered(gauss, { particle: 10 } as never, []), /^infer: unknown option "particle" for method "tempered"/, () => T.tempered(gauss, { particles: 0 }, []), /^tempered: particles must be a positive integer, got 0/],
    ['hmcEngine', () => T.hmcEngine(gauss, { method: 'nuts', sample: 10 } as never, []), /^infer: unknown option "sample" for method "nuts"/, () => T.hmcEngine(gauss, { method: 'nuts', targetAccept: 1.5 }, []), /^nuts: targetAccept must be a number in \(0, 1\)/],
    ['hmcGibbs', () => T.hmcGibbs(gauss, { sample: 10 } as never, []), /^infer: unknown option "sample" for method "hmc-gibbs"/, () => T.hmcGibbs(gauss, { chains: 0 }, []), /^hmc-gibbs: chains must be a positive integer, got 0/],
    ['vi', () => T.vi(gauss, { step: 10 } as never, []), /^infer: unknown option "step" for method "vi" \(did you mean "steps"\?\)/, () => T.vi(gauss, { optimizer: { lr: 'x' } } as never, []), /^vi: optimizer/],
    ['svgd', () => T.svgd(gauss, { step: 10 } as never, []), /^infer: unknown option "step" for method "svgd"/, () => T.svgd(gauss, { particles: 0 }, []), /^svgd: particles must be an integer >= 2, got 0/],
    ['neutra', () => T.neutra(gauss, { sample: 10 } as never, []), /^infer: unknown option "sample" for method "neutra"/, () => T.neutra(gauss, { viSteps: -2 }, []), /^neutra: viSteps must be a non-negative integer, got -2/],
  ];
  test.each(CASES)('%s: a misspelt option and a bad value are refused before any run, in infer\'s words', async (_name, misspelt, misspeltMessage, bad, badMessage) => {
    await expect(misspelt()).rejects.toThrow(misspeltMessage);
    await expect(bad()).rejects.toThrow(badMessage);
  });

  test('a direct call beside an infer call waits its turn and gives its answer alone (was: ran interleaved)', async () => {
    const alone = await T.importance(gauss, { particles: 200, seed: 3 }, []);
    const expected = alone.moments('mu').mean;
    alone.dispose();
    const [a, b] = await Promise.all([infer(gauss, { method: 'nuts', samples: 20, warmup: 20, chains: 1, seed: 1, compile: false }), T.importance(gauss, { particles: 200, seed: 3 }, [])]);
    expect(b.moments('mu').mean).toBe(expected);
    a.dispose();
    b.dispose();
  });
});

describe('steering (runSMC) and Posterior.predictive wait their turn beside infer', () => {
  const xs = [0, 1, 2, 3, 4];
  const ys = [0.1, 1.2, 1.9, 3.2, 3.9];
  // observed data and a linear predictor as tensors: predictive's values are tensors made during its runs
  const line = model(async ({ sample, observe, plate }, x: number[], y: number[]) => {
    const a = await sample('a', Normal(0, 1));
    const b = await sample('b', Normal(0, 1));
    await plate('data', x.length, () => observe('y', Normal(ops.add(a, ops.mul(b, tf.tensor1d(x))), 1), tf.tensor1d(y)));
    return b;
  }, { name: 'line' });
  // NUTS on the async model holds a gradient scope open across the model's awaits
  const nuts = () => infer(line, { method: 'nuts', samples: 30, warmup: 30, chains: 1, seed: 3, compile: false }, xs, ys);
  const column = (post: AnyPosterior): string => JSON.stringify(Array.from(post.scalarColumns().get('b')!.values));

  test('predictive beside a NUTS run: its tensors live and its values are those it gives alone (was: "Tensor is disposed" on reading them)', async () => {
    const fit = await infer(line, { method: 'importance', particles: 200, seed: 1 }, xs, ys);
    const read = (draws: { values: Record<string, unknown> }[]): string => JSON.stringify(draws.map((d) => Array.from((d.values.y as tf.Tensor).dataSync())));
    const aloneDraws = await fit.predictive(20, { seed: 2 });
    const alone = read(aloneDraws);
    const nutsAlone = await nuts();
    const nutsExpected = column(nutsAlone);
    nutsAlone.dispose();
    const [n, p] = await Promise.all([nuts(), fit.predictive(20, { seed: 2 })]);
    expect(read(p)).toBe(alone);
    expect(column(n)).toBe(nutsExpected);
    n.dispose();
    fit.dispose();
  });

  test('FK steering (runSMC) beside a NUTS run: both give their answers alone (was: "Cannot read properties of undefined (reading \'backend\')")', async () => {
    const SCH = D.vpLinear();
    const steer = async (): Promise<string> => {
      const res = await St.fkSteering(MIX.model(SCH, 'epsilon'), { reward: St.linearReward([0.6, -0.4]), lambda: 1, particles: 32, steps: 20, seed: 1 });
      const out = JSON.stringify([res.logZ, Array.from(res.x.dataSync())]);
      res.x.dispose();
      return out;
    };
    const steerAlone = await steer();
    const nutsAlone = await nuts();
    const nutsExpected = column(nutsAlone);
    nutsAlone.dispose();
    const [n, z] = await Promise.all([nuts(), steer()]);
    expect(z).toBe(steerAlone);
    expect(column(n)).toBe(nutsExpected);
    n.dispose();
  });

  test('the diffusion searches (best-of-N, zero-order, path search, rollover, tree sampling) wait their turn beside a NUTS run: each gives its answer alone', async () => {
    const SCH = D.vpLinear();
    const m = MIX.model(SCH, 'epsilon');
    const reward = St.linearReward([0.6, -0.4]);
    const runs: Record<string, () => Promise<{ x: tf.Tensor }>> = {
      diffusionBestOfN: () => St.diffusionBestOfN(m, { reward, n: 8, steps: 10, seed: 1 }),
      zeroOrderSearch: () => St.zeroOrderSearch(m, { reward, rounds: 2, neighbours: 3, steps: 10, seed: 1 }),
      pathSearch: () => St.pathSearch(m, { reward, width: 2, branches: 2, steps: 10, seed: 1 }),
      rolloverBudgetForcing: () => St.rolloverBudgetForcing(m, { reward, steps: 10, budget: 40, seed: 1 }),
      diffusionTreeSampling: () => St.diffusionTreeSampling(m, { reward, budget: 60, batch: 4, samples: 4, steps: 10, seed: 1 }),
    };
    const nutsAlone = await nuts();
    const nutsExpected = column(nutsAlone);
    nutsAlone.dispose();
    for (const [name, run] of Object.entries(runs)) {
      const once = async (): Promise<string> => {
        const res = await run();
        const out = JSON.stringify(Array.from(res.x.dataSync()));
        res.x.dispose();
        return out;
      };
      const alone = await once();
      const [n, beside] = await Promise.all([nuts(), once()]);
      expect(beside, name).toBe(alone);
      expect(column(n), name).toBe(nutsExpected);
      n.dispose();
    }
  });
});
