/**
 * The playground's examples: model source (JavaScript, as a user would type
 * it), the engine and options to run it with. The source is the body of an
 * async function with tyche's exports in scope; it returns `{ model, args }`
 * and, optionally, `sites` (the quantities to plot).
 */

/** One example. */
export interface Example {
  readonly title: string;
  readonly method: string;
  readonly options: Readonly<Record<string, unknown>>;
  readonly source: string;
}

/** The examples, by key. */
export const EXAMPLES: Readonly<Record<string, Example>> = {
  coin: {
    title: 'Coin: is it fair? (importance sampling)',
    method: 'importance',
    options: { particles: 5000, seed: 1 },
    source: `// A coin lands heads 6 times in 8. What is its bias p?
// Beta(2, 2) prior; the exact posterior is Beta(8, 4), mean 0.667.
const flips = [1, 0, 1, 1, 1, 0, 1, 1];

const coin = model(async ({ sample, observe }, data: number[]) => {
  const p = await sample('p', Beta(2, 2));
  for (let i = 0; i < data.length; i++) {
    await observe(\`flip\${i}\`, Bernoulli(p), data[i]);
  }
  return p;
});

return { model: coin, args: [flips] };
`,
  },
  eightSchools: {
    title: 'Eight schools (NUTS, vectorised chains)',
    method: 'nuts',
    options: { chains: 4, warmup: 200, samples: 200, seed: 1 },
    source: `// Rubin's eight schools, non-centred. Arithmetic on draws goes through
// ops (draws are tensors under NUTS), so all chains run as one batch.
const y = [28, 8, -3, 7, -1, 1, 18, 12];
const sigma = [15, 10, 16, 11, 9, 11, 10, 18];

const schools = model(async ({ sample, observe, plate }) => {
  const mu = await sample('mu', Normal(0, 5));
  const logTau = await sample('logTau', Normal(0, 1));
  const tau = ops.exp(logTau);
  await plate('school', y.length, async (_i, p) => {
    const z = await p.sample('z', Normal(0, 1));
    await p.observe('y', Normal(ops.add(mu, ops.mul(tau, z)), sigma), y);
  });
});

return { model: schools, args: [], sites: ['mu', 'logTau'] };
`,
  },
  hmm: {
    title: 'Hidden Markov model (SMC)',
    method: 'smc',
    options: { particles: 2000, seed: 1 },
    source: `// A two-state hidden Markov model: the state is sticky (stays with
// probability 0.8) and emits Normal(0 or 1, 0.6). SMC resamples after each
// observation. How long was the chain in state 1, and was it there at t = 4?
const ys = [0.1, 0.4, 0.9, 1.2, 0.6, 0.2, -0.3, 1.1, 0.8, 0.3];

const hmm = model(async ({ sample, observe, deterministic }, data: number[]) => {
  let z = await sample('z0', Bernoulli(0.5));
  let ones = z;
  for (let t = 0; t < data.length; t++) {
    if (t > 0) {
      z = await sample(\`z\${t}\`, Bernoulli(z ? 0.8 : 0.2));
      ones += z;
    }
    await observe(\`y\${t}\`, Normal(z ? 1 : 0, 0.6), data[t]);
  }
  deterministic('timeInState1', ones);
});

return { model: hmm, args: [ys], sites: ['timeInState1', 'z3', 'z4'] };
`,
  },
  mixture: {
    title: 'Gaussian mixture (NUTS, cluster labels summed out)',
    method: 'nuts',
    options: { chains: 4, warmup: 200, samples: 200, seed: 1 },
    source: `// Two clusters with unknown centres. Each point's cluster label is
// summed out by the Mixture distribution, so NUTS samples the centres
// directly. Writing mu1 = mu0 + gap with gap > 0 orders the centres, so
// the two labellings of the same answer cannot trade places (no label
// switching between chains).
const ys = [-2.1, -1.6, -2.4, 1.9, 2.3, 1.5, 2.8, -1.9];

const mixture = model(async ({ sample, observe, deterministic }, data: number[]) => {
  const mu0 = await sample('mu0', Normal(0, 3));
  const gap = await sample('gap', HalfNormal(3));
  const mu1 = deterministic('mu1', ops.add(mu0, gap));
  const cluster = Categorical([0.5, 0.5]);
  for (let i = 0; i < data.length; i++) {
    await observe(\`y\${i}\`, Mixture(cluster, [Normal(mu0, 0.7), Normal(mu1, 0.7)]), data[i]);
  }
});

return { model: mixture, args: [ys], sites: ['mu0', 'mu1', 'gap'] };
`,
  },
};

/** Default options per engine, shown when the engine is changed by hand. */
export const ENGINE_DEFAULTS: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {
  enumerate: {},
  importance: { particles: 5000, seed: 1 },
  smc: { particles: 1000, seed: 1 },
  mh: { samples: 2000, warmup: 500, seed: 1 },
  nuts: { chains: 4, warmup: 200, samples: 200, seed: 1 },
  hmc: { chains: 4, warmup: 200, samples: 200, numSteps: 10, seed: 1 },
  vi: { guide: 'normal', steps: 500, samples: 1000, seed: 1 },
};
