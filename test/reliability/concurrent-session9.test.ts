/**
 * CONCUR, session 9: concurrent `infer` calls.
 *
 * `Promise.all([infer(m1, { method: 'nuts' }), infer(m2, { method: 'importance' })])`
 * crashed with "Cannot read properties of undefined (reading 'backend')", and
 * smc beside vi returned a different answer with no error: tfjs has one
 * engine-wide scope stack and one tape, and an engine that holds a scope open
 * across an await (a gradient through an async model, a tidy around a model
 * run) owned, and disposed, the other call's tensors, or recorded them. `infer`
 * now runs calls one at a time, first come first served
 * (src/infer/one-at-a-time.ts); a call made inside a running inference (a
 * model that runs `infer` itself) runs at once as part of it.
 *
 * On the code before (registry.ts at 97045ff, no queue) 9 of these 15 fail:
 * nuts+importance, nuts+nuts and hmc-gibbs+importance crash, smc+vi and
 * nuts+smc give other answers without an error, the order test, both error
 * cases and the running-abort case fail. enumerate+mh happened not to
 * collide; the queued-abort and nested-inference tests guard the queue
 * itself (the nested ones hung, timing out, on a first version of the queue
 * that told nested calls apart by V8's async stack trace).
 */
import { beforeAll, describe, expect, test } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/select.js';
import { Bernoulli, Beta, Normal, type Posterior, infer, model, ops } from '../../src/index.js';
import { inferenceCallsPending } from '../../src/infer/one-at-a-time.js';
import { registerEngine } from '../../src/infer/registry.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const gauss = model(async ({ sample, observe }) => {
  const mu = await sample('mu', Normal(0, 1));
  await observe('y', Normal(mu, 1), 0.5);
  return mu;
}, { name: 'gauss' });

const coin = model(async ({ sample, observe }, flips: number[]) => {
  const p = await sample('p', Beta(2, 2));
  for (let i = 0; i < flips.length; i++) await observe(`f${i}`, Bernoulli(p), flips[i]!);
  return p;
}, { name: 'coin' });

const twoBits = model(async ({ sample, observe }) => {
  const a = await sample('a', Bernoulli(0.3));
  const b = await sample('b', Bernoulli(0.6));
  await observe('y', Normal(ops.add(a, b), 1), 1.2);
  return a;
}, { name: 'twoBits' });

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyPosterior = Posterior<any, any>;

const mixed = model(async ({ sample, observe }) => {
  const z = await sample('z', Bernoulli(0.5));
  const mu = await sample('mu', Normal(ops.mul(z, 2), 1));
  await observe('y', Normal(mu, 1), 1.5);
  return mu;
}, { name: 'mixed' });

const flips = [1, 0, 1, 1, 1];
const quiet = { warn: console.warn };

/** Named runs: each is deterministic given its seed. */
const RUNS = {
  nuts: () => infer(gauss, { method: 'nuts', samples: 40, warmup: 40, chains: 1, seed: 1 }),
  nutsCoin: () => infer(coin, { method: 'nuts', samples: 40, warmup: 40, chains: 1, seed: 2, compile: false }, flips),
  importance: () => infer(coin, { method: 'importance', particles: 1000, seed: 3 }, flips),
  smc: () => infer(coin, { method: 'smc', particles: 200, seed: 4 }, flips),
  vi: () => infer(gauss, { method: 'vi', steps: 60, seed: 5 }),
  enumerate: () => infer(twoBits, { method: 'enumerate' }),
  mh: () => infer(coin, { method: 'mh', samples: 100, seed: 6 }, flips),
  hmcGibbs: () => infer(mixed, { method: 'hmc-gibbs', samples: 30, warmup: 30, chains: 1, seed: 7 }),
} satisfies Record<string, () => Promise<AnyPosterior>>;
type RunName = keyof typeof RUNS;

/** Everything a run answers, as exact numbers: log Z, the weights and every scalar column. */
function fingerprint(post: AnyPosterior): string {
  const cols = [...post.scalarColumns()].map(([name, c]) => [name, Array.from(c.values)]);
  return JSON.stringify([post.logZ, Array.from(post.weights), cols]);
}

async function alone(name: RunName): Promise<string> {
  const post = await RUNS[name]();
  const f = fingerprint(post);
  post.dispose();
  return f;
}

function silenceWarnings(): () => void {
  console.warn = () => {};
  return () => {
    console.warn = quiet.warn;
  };
}

describe('concurrent infer calls give the answers they give alone', () => {
  const PAIRS: [RunName, RunName][] = [
    ['nuts', 'importance'],
    ['nuts', 'nuts'],
    ['smc', 'vi'],
    ['enumerate', 'mh'],
    ['nutsCoin', 'smc'],
    ['hmcGibbs', 'importance'],
  ];
  test.each(PAIRS)('%s beside %s: bit for bit the sequential answers, tensors back to the start', async (a, b) => {
    const restore = silenceWarnings();
    try {
      const seqA = await alone(a);
      const seqB = await alone(b);
      const before = tf.memory().numTensors;
      const [pa, pb] = await Promise.all([RUNS[a](), RUNS[b]()]);
      expect(fingerprint(pa)).toBe(seqA);
      expect(fingerprint(pb)).toBe(seqB);
      pa.dispose();
      pb.dispose();
      expect(tf.memory().numTensors).toBe(before);
      expect(inferenceCallsPending()).toBe(0);
    } finally {
      restore();
    }
  });

  test('three calls started together finish in the order they were made', async () => {
    const restore = silenceWarnings();
    try {
      const order: string[] = [];
      const runs = (['vi', 'importance', 'enumerate'] as const).map((n) => RUNS[n]().then((p) => (order.push(n), p)));
      for (const p of await Promise.all(runs)) p.dispose();
      expect(order).toEqual(['vi', 'importance', 'enumerate']);
    } finally {
      restore();
    }
  });
});

describe('an error or an abort in one call leaves the other alone', () => {
  const broken = model(async ({ sample, observe }) => {
    const mu = await sample('mu', Normal(0, 1));
    await observe('y', Normal(mu, 1), 0.5);
    throw new Error('planted failure');
  }, { name: 'broken' });

  test.each(['nuts', 'importance'] as const)('a model that throws under %s beside smc: the error is its own, smc is exact', async (method) => {
    const restore = silenceWarnings();
    try {
      const seq = await alone('smc');
      const before = tf.memory().numTensors;
      const [bad, good] = await Promise.allSettled([infer(broken, { method, seed: 1 }), RUNS.smc()]);
      expect(bad.status).toBe('rejected');
      expect(String((bad as PromiseRejectedResult).reason)).toMatch(/planted failure/);
      expect(good.status).toBe('fulfilled');
      const post = (good as PromiseFulfilledResult<AnyPosterior>).value;
      expect(fingerprint(post)).toBe(seq);
      post.dispose();
      // the queue is free again: a later call runs
      const after = await RUNS.enumerate();
      after.dispose();
      expect(tf.memory().numTensors).toBe(before);
      expect(inferenceCallsPending()).toBe(0);
    } finally {
      restore();
    }
  });

  test('aborting a running call leaves the call beside it exact', async () => {
    const restore = silenceWarnings();
    try {
      const seq = await alone('importance');
      const before = tf.memory().numTensors;
      const ac = new AbortController();
      const long = infer(gauss, { method: 'nuts', samples: 100000, warmup: 100, chains: 1, seed: 9, compile: false, signal: ac.signal });
      const other = RUNS.importance();
      setTimeout(() => ac.abort(), 50);
      const [a, b] = await Promise.allSettled([long, other]);
      expect(a.status).toBe('rejected');
      expect((a as PromiseRejectedResult).reason).toMatchObject({ name: 'AbortError' });
      const post = (b as PromiseFulfilledResult<AnyPosterior>).value;
      expect(fingerprint(post)).toBe(seq);
      post.dispose();
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      restore();
    }
  });

  test('aborting a queued call rejects it at once, with the signal\'s reason; the running call is exact', async () => {
    const restore = silenceWarnings();
    try {
      const seq = await alone('smc');
      const before = tf.memory().numTensors;
      const ac = new AbortController();
      const running = RUNS.smc();
      const queued = infer(coin, { method: 'importance', particles: 100, seed: 1, signal: ac.signal }, flips);
      ac.abort(new Error('no longer needed'));
      // rejected before the running call is done
      const first = await Promise.race([queued.then(() => 'queued resolved', (e: unknown) => `queued: ${String(e)}`), running.then(() => 'running first')]);
      expect(first).toBe('queued: Error: no longer needed');
      const post = await running;
      expect(fingerprint(post)).toBe(seq);
      post.dispose();
      // and its place in the queue is given up: later calls run
      const later = await RUNS.enumerate();
      later.dispose();
      expect(tf.memory().numTensors).toBe(before);
      expect(inferenceCallsPending()).toBe(0);
    } finally {
      restore();
    }
  });
});

describe('a model may run inference itself while another call waits', () => {
  const inner = model(async ({ sample, observe }) => {
    const p = await sample('p', Normal(0, 1));
    await observe('y', Normal(p, 1), 0.5);
  }, { name: 'inner' });
  const outerDiscrete = model(async ({ sample, factor }) => {
    const z = (await sample('z', Bernoulli(0.5))) as number;
    const post = await infer(inner, { method: 'importance', particles: 5, seed: 1 });
    const m = post.moments('p').mean;
    post.dispose();
    await factor('f', -Math.abs(m - z));
  }, { name: 'outerDiscrete' });
  const outerNested = model(async ({ sample, factor }) => {
    const z = (await sample('z', Bernoulli(0.5))) as number;
    const post = await infer(outerDiscrete, { method: 'enumerate' });
    const pz = post.marginal('z').prob(1);
    post.dispose();
    await factor('f', z === 1 ? Math.log(pz) : Math.log(1 - pz));
  }, { name: 'outerNested' });

  test.each([
    ['enumerate', outerDiscrete, {}],
    ['enumerate', outerNested, {}],
    ['mh', outerDiscrete, { samples: 6, warmup: 0, seed: 1 }],
    ['importance', outerDiscrete, { particles: 6, seed: 1 }],
  ] as const)('%s over %s, beside a queued call: no deadlock, same answer', async (method, m, opts) => {
    const restore = silenceWarnings();
    try {
      const seq = await infer(m, { method, ...opts });
      const f = fingerprint(seq);
      seq.dispose();
      const before = tf.memory().numTensors;
      const [post, other] = await Promise.all([infer(m, { method, ...opts }), RUNS.importance()]);
      expect(fingerprint(post)).toBe(f);
      post.dispose();
      other.dispose();
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      restore();
    }
  });
});

describe('a call stuck where no abort reaches it does not hold the queue once aborted', () => {
  test('an engine that never settles, aborted, lets the next call run (was: every later call waited for ever)', async () => {
    registerEngine({ name: 'never-settles', options: ['signal'], description: 'test only', run: () => new Promise<never>(() => {}) });
    const coin = model(async ({ sample }) => sample('x', Bernoulli(0.3)));
    const abort = new AbortController();
    const stuck = infer(coin, { method: 'never-settles', signal: abort.signal } as never);
    void stuck.catch(() => undefined);
    const next = infer(coin, { method: 'enumerate' });
    const timeout = (ms: number) => new Promise<string>((r) => setTimeout(() => r('still waiting'), ms));
    // queued behind the stuck call until it is aborted
    expect(await Promise.race([next.then(() => 'ran'), timeout(300)])).toBe('still waiting');
    abort.abort();
    const post = await Promise.race([next, timeout(5000)]);
    expect(post).not.toBe('still waiting');
    expect((post as Posterior<[], number>).marginal('x').prob(1)).toBeCloseTo(0.3, 12);
  });
});
