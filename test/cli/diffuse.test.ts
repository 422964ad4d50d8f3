/**
 * `tyche diffuse` end to end (spawned processes through bin/tyche.js): a short
 * FK-steering run on the shipped digit model toward a class writes a PNG grid
 * and a JSON of rewards and evaluations; a short comparison on the 2-D flow;
 * help text; bad input gives one clear line and exit status 2.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDiffuse } from '../../src/cli/diffuse.js';
import { type Run, tyche } from '../helpers/cli-run.js';

let dir: string;
let digits: Run;
let toy: Run;
let inpaint: Run;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tyche-diffuse-'));
  [digits, toy, inpaint] = await Promise.all([
    tyche('diffuse', '--model', 'digits', '--class', '3', '--method', 'fk', '--particles', '6', '--steps', '12', '--frames', '3', '--seed', '1', '--out', join(dir, 'digits')),
    tyche('diffuse', '--model', 'toy2d', '--region', '1,2,-1,1', '--compare', '--particles', '4', '--steps', '8', '--seed', '2', '--out', join(dir, 'toy')),
    tyche('diffuse', '--inpaint', 'top', '--digit', '5', '--method', 'dts-star', '--budget', '120', '--steps', '10', '--frames', '0', '--out', join(dir, 'inpaint')),
  ]);
}, 150_000);

describe('tyche diffuse', () => {
  it('steers the digit model toward a class: table, PNG grids and a JSON of rewards and evaluations', async () => {
    expect(digits.code, digits.stderr).toBe(0);
    expect(digits.stdout).toMatch(/method\s+samples\s+mean reward\s+best reward\s+diversity\s+evaluations\s+reward calls\s+ms/);
    expect(digits.stdout).toMatch(/^fk\s+6\s/m);
    const json = JSON.parse(await readFile(join(dir, 'digits', 'diffuse.json'), 'utf8'));
    expect(json.reward).toBe('digits-classifier class 3');
    expect(json.runs).toHaveLength(1);
    const run = json.runs[0];
    expect(run.evaluations).toBe(72);
    expect(run.rewards).toHaveLength(6);
    expect(run.rewards.every((r: number) => r <= 0)).toBe(true); // log-probabilities
    expect(run.weights.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 6);
    const png = await readFile(join(dir, 'digits', 'samples.png'));
    expect([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');
    expect((await stat(join(dir, 'digits', 'frames.png'))).size).toBeGreaterThan(100);
  });

  it('compares every method at one budget on the 2-D flow', async () => {
    expect(toy.code, toy.stderr).toBe(0);
    for (const m of ['plain', 'fk', 'best-of-n', 'zero-order', 'zero-order-path', 'path', 'rollover', 'dts', 'dts-star']) expect(toy.stdout).toMatch(new RegExp(`^${m}\\s`, 'm'));
    const json = JSON.parse(await readFile(join(dir, 'toy', 'diffuse.json'), 'utf8'));
    expect(json.runs).toHaveLength(9);
    for (const r of json.runs) expect(r.evaluations, r.method).toBeLessThanOrEqual(32);
    // session 15: each spends the budget or says why not (a path branch costs 11 here: 2 of them; DTS stops before a rollout that would not fit)
    expect(toy.stdout).toMatch(/^budget: 32 network evaluations \(denoiser calls\) per method/m);
    for (const r of json.runs) expect(r.budgetNote === null, `${r.method}: ${r.budgetNote}`).toBe(r.evaluations === 32);
    for (const r of json.runs) if (!['path', 'dts', 'dts-star'].includes(r.method)) expect(r.evaluations, r.method).toBe(32);
    expect(toy.stdout).toMatch(/^ {2}path: 10 of 32 evaluations unspent: a branch through every round costs 11 \(1 x 2 branches\)$/m);
    // particles over time for every method that has time (the search over paths re-noises, going back in time)
    for (const r of json.runs) expect(existsSync(join(dir, 'toy', `frames-${r.method}.png`)), r.method).toBe(r.method !== 'path');
  });

  it('inpaints half of a held-out digit with DTS*', async () => {
    expect(inpaint.code, inpaint.stderr).toBe(0);
    const json = JSON.parse(await readFile(join(dir, 'inpaint', 'diffuse.json'), 'utf8'));
    expect(json.reward).toMatch(/^inpaint top half of held-out digit 5 \(label \d\)$/);
    expect(json.runs[0].samples).toBe(1);
    expect(json.runs[0].evaluations).toBeLessThanOrEqual(120);
  });

  it('prints help and names bad input in one line (exit 2)', async () => {
    const [help, bad] = await Promise.all([tyche('diffuse', '--help'), tyche('diffuse', '--model', 'toy2d', '--class', '3')]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: tyche diffuse/);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/tyche: error: diffuse: --class needs --model digits/);
    // the parser alone (no TensorFlow.js)
    expect(() => parseDiffuse(['--method', 'beam'])).toThrow(/--method must be one of plain, fk, tds, best-of-n, zero-order, zero-order-path, path, rollover, dts, dts-star, got "beam"/);
    expect(() => parseDiffuse(['--method', 'tds', '--symmetry'])).toThrow(/--method tds needs --class K/);
    expect(() => parseDiffuse(['--class', '12'])).toThrow(/--class must be a digit class 0-9, got "12"/);
    expect(() => parseDiffuse(['--particles', '0'])).toThrow(/--particles must be an integer >= 1, got "0"/);
    expect(() => parseDiffuse(['--model', 'toy2d', '--region', '2,1,0,1'])).toThrow(/--region must be X0,X1,Y0,Y1 with X0 <= X1/);
    expect(() => parseDiffuse(['--class', '1', '--symmetry'])).toThrow(/at most one reward/);
    expect(() => parseDiffuse(['--compare', '--method', 'fk'])).toThrow(/--method or --compare, not both/);
    expect(() => parseDiffuse(['--budget', '10', '--steps', '50'])).toThrow(/--budget must be an integer >= 50/);
    expect(() => parseDiffuse(['--frobnicate'])).toThrow(/diffuse: Unknown option '--frobnicate'/);
    expect(parseDiffuse(['--help'])).toBe('help');
  });
});
