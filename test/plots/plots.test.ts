/**
 * Plots render headless to SVG with the expected marks: bar counts, lines per
 * chain, points per draw, axis titles, warning colours; and bad input gets
 * clear errors.
 */
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/select.js';
import { Bernoulli, Beta, Normal, Posterior, infer, model, ops, type Draw } from '../../src/index.js';
import { linearGaussianStateSpace, particleFilter, type FilterResult } from '../../src/infer/smc/index.js';
import { progressBar } from '../../src/progress/index.js';
import { densityPlot, diagnosticsPlot, drawRows, pairPlot, particlePlot, saveSvg, smcPlot, toSvg, tracePlot } from '../../src/plots/index.js';

/** Items in each `role-mark` group of a mark type (`rect`, `line`, `symbol`, ...). */
function markGroups(svg: string, type: string): number[] {
  const re = new RegExp(`<g class="mark-${type} role-mark[^"]*"[^>]*>(.*?)</g>`, 'gs');
  return [...svg.matchAll(re)].map((m) => (m[1].match(/<path/g) ?? []).length);
}
const total = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
/** Texts of the axis titles. */
function axisTitles(svg: string): string[] {
  return [...svg.matchAll(/<g class="mark-text role-axis-title"[^>]*>(.*?)<\/g>/gs)].flatMap((m) => [...m[1].matchAll(/>([^<]+)<\/text>/g)].map((t) => t[1]));
}
function titles(svg: string): string[] {
  return [...svg.matchAll(/<g class="mark-text role-title-text"[^>]*>(.*?)<\/g>/gs)].flatMap((m) => [...m[1].matchAll(/>([^<]+)<\/text>/g)].map((t) => t[1]));
}

const OUT = 'build/test-plots';
const schools = model(async ({ sample, observe, plate }) => {
  const mu = await sample('mu', Normal(0, 5));
  const logTau = await sample('logTau', Normal(0, 1));
  await plate('school', 8, async (_i, p) => {
    const z = await p.sample('z', Normal(0, 1));
    await p.observe('y', Normal(ops.add(mu, ops.mul(ops.exp(logTau), z)), tf.tensor1d([15, 10, 16, 11, 9, 11, 10, 18])), tf.tensor1d([28, 8, -3, 7, -1, 1, 18, 12]));
  });
});
const coin = model(async ({ sample, observe }, flips: number[]) => {
  const p = await sample('p', Beta(2, 2));
  for (let i = 0; i < flips.length; i++) await observe(`f${i}`, Bernoulli(p), flips[i]);
  return p;
});
const flips = [1, 0, 1, 1, 1, 0, 1, 1, 0, 1];

let nuts: Posterior;
let smc: Posterior;
let filter: FilterResult;
const ys = Array.from({ length: 20 }, (_, t) => 2 * Math.sin(t / 3));

beforeAll(async () => {
  await initBackend('cpu');
  nuts = (await infer(schools, { method: 'nuts', chains: 2, warmup: 150, samples: 150, seed: 3 })) as unknown as Posterior;
  smc = (await infer(coin, { method: 'smc', particles: 400, seed: 1 }, flips)) as unknown as Posterior;
  filter = await particleFilter(linearGaussianStateSpace({ m0: 0, s0: 1, a: 0.9, q: 0.7, r: 1 }, ys), { particles: 200, seed: 2, keepParticles: true });
});

describe('posterior plots', () => {
  it('densityPlot: one KDE line per chain per quantity for MCMC, axis titles named after the sites', async () => {
    const svg = await saveSvg(`${OUT}/density-nuts.svg`, densityPlot(nuts, { sites: ['mu', 'logTau', 'z'] }));
    expect(markGroups(svg, 'line').length).toBe(10 * 2); // mu, logTau, z[0..7] x 2 chains
    expect(markGroups(svg, 'line').every((n) => n === 1)).toBe(true);
    expect(axisTitles(svg)).toEqual(expect.arrayContaining(['mu', 'logTau', 'z[0]', 'z[7]', 'density']));
    expect(await readFile(`${OUT}/density-nuts.svg`, 'utf8')).toBe(svg);
  });

  it('densityPlot: weighted histogram for SMC, bars normalised to a density', async () => {
    const spec = densityPlot(smc, { bins: 20 });
    const svg = await toSvg(spec);
    const bars = total(markGroups(svg, 'rect'));
    expect(bars).toBeGreaterThanOrEqual(5);
    expect(bars).toBeLessThanOrEqual(21);
    expect(axisTitles(svg)).toEqual(expect.arrayContaining(['p', 'density']));
    // the rows carry normalised weights
    const rows = drawRows(smc, ['p']);
    expect(rows.reduce((a, r) => a + r.weight, 0)).toBeCloseTo(1, 12);
  });

  it('tracePlot: per quantity a density and a trace panel with one line per chain', async () => {
    const svg = await saveSvg(`${OUT}/trace-nuts.svg`, tracePlot(nuts, { sites: ['mu', 'logTau'] }));
    expect(markGroups(svg, 'line').length).toBe(2 * 2 * 2); // 2 sites x (density + trace) x 2 chains
    expect(titles(svg)).toEqual(expect.arrayContaining(['mu', 'mu trace', 'logTau trace']));
    expect(axisTitles(svg)).toEqual(expect.arrayContaining(['iteration', 'mu', 'logTau']));
  });

  it('tracePlot and pairPlot mark the divergent transitions recorded by NUTS', async () => {
    const draws: Draw[] = [];
    const divergent = [new Uint8Array(50), new Uint8Array(50)];
    divergent[0][3] = divergent[0][17] = divergent[1][40] = 1;
    for (let c = 0; c < 2; c++) for (let i = 0; i < 50; i++) draws.push({ values: { a: Math.cos(i + c), b: Math.sin(i * c) }, returnValue: undefined, logWeight: 0, chain: c });
    const post = new Posterior({ method: 'nuts', draws, diagnostics: { stats: divergent.map((d) => ({ divergent: d })) }, model: coin as never, args: [] as unknown[] }) as Posterior;
    const trace = await toSvg(tracePlot(post, { sites: ['a'] }));
    expect(total(markGroups(trace, 'rect'))).toBe(3); // one red tick per divergent draw
    expect(trace).toContain('#d62728');
    const pair = await toSvg(pairPlot(post));
    expect(pair.match(/fill="#d62728"/g)?.length).toBe(3 + 1); // the three divergent points and the legend's swatch
  });

  it('pairPlot: a histogram per diagonal panel and one point per shown draw below it', async () => {
    const svg = await saveSvg(`${OUT}/pair-nuts.svg`, pairPlot(nuts, { sites: ['mu', 'logTau', 'z[0]'], maxPoints: 120 }));
    const points = markGroups(svg, 'symbol');
    expect(points).toEqual([120, 120, 120]); // 3 panels below the diagonal
    expect(markGroups(svg, 'rect').filter((n) => n > 0).length).toBe(3);
    // weighted posteriors are resampled to the requested number of points
    const one = await toSvg(pairPlot(smc, { maxPoints: 50 }));
    expect(markGroups(one, 'symbol')).toEqual([]);
    expect(total(markGroups(one, 'rect'))).toBeGreaterThan(3);
  });

  it('diagnosticsPlot: an R-hat bar per quantity, two ESS bars each, red where a threshold is missed', async () => {
    const svg = await saveSvg(`${OUT}/diagnostics-nuts.svg`, diagnosticsPlot(nuts, { sites: ['mu', 'logTau'] }));
    expect(markGroups(svg, 'rect').sort()).toEqual([2, 4]);
    expect(axisTitles(svg)).toEqual(expect.arrayContaining(['R-hat', 'ESS (bulk, tail)']));
    // two chains stuck in different places: R-hat far above 1.01, drawn red
    const draws: Draw[] = [];
    for (let c = 0; c < 2; c++) for (let i = 0; i < 100; i++) draws.push({ values: { x: c * 10 + Math.sin(i) }, returnValue: undefined, logWeight: 0, chain: c });
    const stuck = new Posterior({ method: 'fake', draws, model: coin as never, args: [] as unknown[] }) as Posterior;
    const bad = await toSvg(diagnosticsPlot(stuck));
    expect(bad).toContain('fill="#d62728"');
  });

  it('rejects what it cannot plot, with clear messages', () => {
    expect(() => tracePlot(smc)).toThrow(/trace plots need MCMC chains/);
    expect(() => densityPlot(smc, { kind: 'density' })).toThrow(/needs equally weighted draws/);
    expect(() => densityPlot(nuts, { sites: ['nope'] })).toThrow(/no scalar quantity named "nope"; known: mu, logTau, z\[0\]/);
    expect(() => diagnosticsPlot(smc)).toThrow(/need MCMC chains/);
    expect(() => densityPlot(nuts, { bins: 0 })).toThrow(/bins must be a positive integer/);
    expect(() => pairPlot(nuts, { maxPoints: 1.5 })).toThrow(/maxPoints must be a positive integer/);
  });
});

describe('SMC plots', () => {
  it('smcPlot: ESS and log Z over the steps of program SMC', async () => {
    const svg = await saveSvg(`${OUT}/smc-coin.svg`, smcPlot(smc));
    expect(titles(svg)).toEqual(expect.arrayContaining(['effective sample size', 'log Z estimate']));
    const steps = (smc.diagnostics.essHistory as number[]).length;
    expect(steps).toBeGreaterThanOrEqual(flips.length);
    // a line per panel and a point per step on each line
    expect(markGroups(svg, 'line')).toEqual([1, 1]);
    expect(markGroups(svg, 'symbol').filter((n) => n === steps).length).toBe(2);
  });

  it('smcPlot accepts a particle filter result and plain histories, and refuses a posterior without one', async () => {
    const svg = await toSvg(smcPlot(filter));
    expect(markGroups(svg, 'line')).toEqual([1]);
    const plain = await toSvg(smcPlot({ essHistory: [10, 8, 6], logZHistory: [-1, -2, -3], betas: [0.1, 0.5, 1] }));
    expect(markGroups(plain, 'line')).toEqual([1, 1, 1]);
    expect(() => smcPlot(nuts)).toThrow(/no essHistory/);
  });

  it('particlePlot: maxParticles dots per step, the filtering mean and the observations', async () => {
    const svg = await saveSvg(`${OUT}/particles-filter.svg`, particlePlot(filter, { observations: ys, maxParticles: 40 }));
    expect(markGroups(svg, 'symbol')[0]).toBe(40 * ys.length);
    expect(markGroups(svg, 'line')).toEqual([1, 1]); // filtering mean, observations
    expect(svg).toContain('filtering mean');
    const noHistory = await particleFilter(linearGaussianStateSpace({ m0: 0, s0: 1, q: 1, r: 1 }, [0, 1]), { particles: 10, seed: 1 });
    expect(() => particlePlot(noHistory)).toThrow(/keepParticles: true/);
    expect(() => particlePlot(filter, { dimension: 1 })).toThrow(/dimension must be an integer in \[0, 1\)/);
    noHistory.dispose();
  });
});

describe('progress bars on real engines', () => {
  it('the callbacks type-check against and follow importance, NUTS and SMC runs', async () => {
    const writes: string[] = [];
    const stream = { isTTY: true, write: (x: string) => writes.push(x) };
    const is = progressBar('importance', { stream, minIntervalMs: 0 });
    await infer(coin, { method: 'importance', particles: 300, seed: 1, onProgress: is.onProgress }, flips);
    is.done();
    expect(writes.some((w) => w.includes('100%  300/300'))).toBe(true);
    writes.length = 0;
    const nutsBar = progressBar('nuts', { stream, minIntervalMs: 0 });
    await infer(coin, { method: 'nuts', chains: 2, warmup: 20, samples: 20, seed: 1, onProgress: nutsBar.onProgress }, flips);
    nutsBar.done();
    expect(writes.at(-2)).toMatch(/^\rnuts( \[sampling\])?  █+  100%  80\/80/);
    writes.length = 0;
    const smcBar = progressBar('smc', { stream, minIntervalMs: 0, total: flips.length });
    await infer(coin, { method: 'smc', particles: 100, seed: 1, onStep: smcBar.onStep }, flips);
    smcBar.done();
    expect(writes.some((w) => w.includes(`100%  ${flips.length}/${flips.length}`))).toBe(true);
    expect(writes.at(-1)).toBe('\n');
    writes.length = 0;
    const viBar = progressBar('vi', { stream, minIntervalMs: 0 });
    await infer(coin, { method: 'vi', guide: 'normal', steps: 40, progressEvery: 10, seed: 1, onStep: viBar.onStep }, flips);
    viBar.done();
    expect(writes.some((w) => /100%\s+40\/40.*loss -?\d/.test(w))).toBe(true);
  });
});
