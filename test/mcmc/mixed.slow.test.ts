/**
 * Slow tier (`TYCHE_SLOW=1`): `hmc-gibbs` on a Gaussian mixture with
 * Dirichlet weights and Categorical assignments z_i, against plain NUTS on
 * the same model with z marginalised (`Mixture`). Means of the weight and
 * the component means, and P(z_i = 1) against its Rao-Blackwellised value
 * under the reference, agree within 4 combined MCSE:
 * |a - b| < 4 sqrt(MCSE_a^2 + MCSE_b^2), each from the chains' bulk ESS.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { essBulk } from '../../src/diagnostics/ess.js';
import { mcseMean } from '../../src/diagnostics/mcse.js';
import { rhatBulk } from '../../src/diagnostics/rhat.js';
import { Categorical, Dirichlet, Mixture, Normal, infer, model } from '../../src/index.js';
import type { Draw } from '../../src/infer/posterior.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const DATA = [-1.6, -0.7, 0.3, 1.2];
const withZ = model(async ({ sample, observe }) => {
  const w = await sample('w', Dirichlet([2, 2]));
  const mu0 = await sample('mu0', Normal(-2, 1));
  const mu1 = await sample('mu1', Normal(2, 1));
  for (let i = 0; i < DATA.length; i++) {
    const z = await sample(`z${i}`, Categorical(w));
    await observe(`y${i}`, Normal(num(z) === 0 ? mu0 : mu1, 1), DATA[i]!);
  }
});
const marginalised = model(async ({ sample, observe }) => {
  const w = await sample('w', Dirichlet([2, 2]));
  const mu0 = await sample('mu0', Normal(-2, 1));
  const mu1 = await sample('mu1', Normal(2, 1));
  for (let i = 0; i < DATA.length; i++) await observe(`y${i}`, Mixture(Categorical(w), [Normal(mu0, 1), Normal(mu1, 1)]), DATA[i]!);
});

const num = (v: unknown): number => (typeof v === 'number' ? v : (v as tf.Tensor).dataSync()[0]!);
const w1 = (d: Draw): number => (d.values.w as tf.Tensor).dataSync()[1]!;

function byChain(post: { readonly draws: readonly Draw[] }, f: (d: Draw) => number): Float64Array[] {
  const chains: number[][] = [];
  for (const d of post.draws) (chains[d.chain!] ??= []).push(f(d));
  return chains.map((c) => Float64Array.from(c));
}

function mean(chains: Float64Array[]): number {
  let s = 0;
  let n = 0;
  for (const c of chains) for (const x of c) (s += x), n++;
  return s / n;
}

/** P(z_i = 1 | w, mu, y_i) at a draw of the marginalised model. */
function responsibility(d: Draw, i: number): number {
  const p1 = w1(d);
  const l0 = (1 - p1) * Math.exp(-0.5 * (DATA[i]! - num(d.values.mu0)) ** 2);
  const l1 = p1 * Math.exp(-0.5 * (DATA[i]! - num(d.values.mu1)) ** 2);
  return l1 / (l0 + l1);
}

describe('hmc-gibbs against NUTS on the marginalised mixture', () => {
  it('weights, means and P(z_i = 1) within 4 combined MCSE', { timeout: 600_000 }, async () => {
    const gibbs = await infer(withZ, { method: 'hmc-gibbs', chains: 2, warmup: 300, samples: 1000, seed: 21 });
    const ref = await infer(marginalised, { method: 'nuts', chains: 4, warmup: 300, samples: 1000, seed: 22 });
    const rows: [string, (d: Draw) => number, (d: Draw) => number][] = [
      ['w[1]', w1, w1],
      ['mu0', (d) => num(d.values.mu0), (d) => num(d.values.mu0)],
      ['mu1', (d) => num(d.values.mu1), (d) => num(d.values.mu1)],
      ...DATA.map((_, i): [string, (d: Draw) => number, (d: Draw) => number] => [`P(z${i}=1)`, (d) => num(d.values[`z${i}`]), (d) => responsibility(d, i)]),
    ];
    const report: string[] = [];
    for (const [name, f, g] of rows) {
      const a = byChain(gibbs, f);
      const b = byChain(ref, g);
      for (const chains of [a, b]) {
        expect(essBulk(chains), `${name}: ESS`).toBeGreaterThan(100);
        expect(rhatBulk(chains), `${name}: R-hat`).toBeLessThan(1.05);
      }
      const z = Math.abs(mean(a) - mean(b)) / Math.hypot(mcseMean(a), mcseMean(b));
      report.push(`${name} ${mean(a).toFixed(3)} vs ${mean(b).toFixed(3)} (z=${z.toFixed(2)})`);
      expect(z, name).toBeLessThan(4);
    }
    console.log(`mixture vs marginalised NUTS: ${report.join('; ')}`);
  });
});
