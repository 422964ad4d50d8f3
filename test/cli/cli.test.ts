/**
 * The `tyche` command end to end (spawned as a process through bin/tyche.js),
 * and the progress bar it draws.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { HELP, parseCommand } from '../../src/cli/args.js';
import { ProgressBar, formatDuration, formatRate, progressBar, renderBar } from '../../src/progress/index.js';
import { type Run, tyche } from '../helpers/cli-run.js';

let dir: string;
let nuts: Run;
let importance: Run;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tyche-cli-'));
  await writeFile(join(dir, 'data.json'), JSON.stringify({ y: [10, 10, 10, 10], sigma: [1, 1, 1, 1] }));
  // the two inference runs go side by side; each loads TensorFlow.js once
  [nuts, importance] = await Promise.all([
    tyche('run', 'models/eight-schools.ts', '--method', 'nuts', '--chains', '2', '--samples', '60', '--warmup', '60', '--seed', '1', '--out', join(dir, 'post.json')),
    tyche('run', 'models/eight-schools.ts', '--method', 'importance', '--particles', '3000', '--seed', '2', '--data', join(dir, 'data.json'), '--out', join(dir, 'is.json')),
  ]);
});

describe('tyche run', () => {
  it('runs NUTS on a model file, prints the summary table and writes the ArviZ layout', async () => {
    expect(nuts.stderr).not.toMatch(/error/);
    expect(nuts.code).toBe(0);
    expect(nuts.stdout).toMatch(/^nuts: 2 chains x 60 draws/);
    for (const col of ['mean', 'sd', 'ess_bulk', 'r_hat']) expect(nuts.stdout).toContain(col);
    for (const row of ['mu', 'logTau', 'z[0]', 'z[7]']) expect(nuts.stdout).toMatch(new RegExp(`^${row.replace(/[[\]]/g, '\\$&')}\\s+-?\\d`, 'm'));
    const out = JSON.parse(await readFile(join(dir, 'post.json'), 'utf8'));
    expect(out.format).toBe('tyche-arviz/1');
    expect(out.posterior.mu).toHaveLength(2);
    expect(out.posterior.mu[1]).toHaveLength(60);
    expect(out.posterior.z[0][0]).toHaveLength(8); // chain x draw x 8
    expect(Object.keys(out.sample_stats).sort()).toEqual(['acceptance_rate', 'diverging', 'energy', 'lp', 'n_steps', 'step_size', 'tree_depth']);
    expect(typeof out.sample_stats.diverging[0][0]).toBe('boolean');
    expect(out.sample_stats.tree_depth[1]).toHaveLength(60);
    expect(out.attrs).toMatchObject({ method: 'nuts', chains: 2, draws: 60, seed: 1, weighted: false });
  });

  it('passes --data to the model and writes weighted draws with their log-weights', async () => {
    expect(importance.code).toBe(0);
    expect(importance.stdout).toMatch(/^importance: 3000 draws, ESS/);
    const out = JSON.parse(await readFile(join(dir, 'is.json'), 'utf8'));
    expect(out.posterior.z[0]).toHaveLength(3000);
    expect(out.posterior.z[0][0]).toHaveLength(4); // the data file's four schools, not the module's eight
    expect(out.sample_stats.log_weight[0]).toHaveLength(3000);
    expect(out.attrs).toMatchObject({ method: 'importance', weighted: true, chains: 1 });
    expect(typeof out.attrs.log_marginal_likelihood).toBe('number');
  });

  it('documents every option in --help', async () => {
    const r = await tyche('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(HELP);
    for (const opt of ['--method', '--chains', '--samples', '--warmup', '--particles', '--seed', '--data', '--out', '--no-progress', '--help', '--version']) {
      expect(r.stdout).toContain(opt);
    }
  });

  it('rejects bad arguments with a clear message and exit status 2', async () => {
    const cases: [string[], RegExp][] = [
      [['run'], /missing the model file/],
      [['run', 'models/eight-schools.ts', '--chains', 'two'], /--chains must be a positive integer, got "two"/],
      [['run', 'models/eight-schools.ts', '--chain', '3'], /Unknown option '--chain'/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['run', 'no/such/model.ts'], /model file not found: no\/such\/model.ts/],
    ];
    const runs = await Promise.all(cases.map(([args]) => tyche(...args)));
    runs.forEach((r, i) => {
      expect(r.code, cases[i][0].join(' ')).toBe(2);
      expect(r.stderr).toMatch(cases[i][1]);
      expect(r.stderr).toContain('tyche --help');
      expect(r.stdout).toBe('');
    });
  });

  it('rejects options the engine does not take, unknown methods and files that export no model', async () => {
    await writeFile(join(dir, 'not-a-model.mjs'), 'export default 42;\n');
    const [chains, method, notModel] = await Promise.all([
      tyche('run', 'models/eight-schools.ts', '--method', 'importance', '--chains', '4'),
      tyche('run', 'models/eight-schools.ts', '--method', 'magic'),
      tyche('run', join(dir, 'not-a-model.mjs')),
    ]);
    expect(chains.code).toBe(2);
    expect(chains.stderr).toMatch(/--chains is not an option of method "importance"; it takes --particles/);
    expect(method.code).toBe(2);
    expect(method.stderr).toMatch(/unknown --method "magic"; available: .*nuts/);
    expect(notModel.code).toBe(2);
    expect(notModel.stderr).toMatch(/must default-export a tyche model .*got number/);
  });

  // SURFACES, session 11: a .ts model in a folder whose package.json has no "type": "module" (npm init's
  // default) failed with Node's "Error [ERR_REQUIRE_CYCLE_MODULE]: Cannot require() ES Module ... in a cycle"
  // and a stack (exit 1); the message now says why and what to do (exit 2)
  it('says what to do when Node loads the model file as CommonJS', async () => {
    const cjs = await mkdtemp(join(tmpdir(), 'tyche-cjs-'));
    await writeFile(join(cjs, 'package.json'), JSON.stringify({ name: 'my-models', type: 'commonjs' }));
    await writeFile(join(cjs, 'coin.ts'), 'export default async () => {};\nexport const data = { y: [1] };\n');
    const r = await tyche('run', join(cjs, 'coin.ts'), '--method', 'importance');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/coin\.ts was loaded as CommonJS .*: rename it to coin\.mts, or add "type": "module" to that package.json/);
    expect(r.stderr).not.toMatch(/ERR_REQUIRE|    at /);
  });

  // SURFACES, session 11: each warning was printed twice, by infer on stderr and in the summary on stdout
  it('prints each warning once, in the summary', async () => {
    const r = await tyche('run', 'models/eight-schools.ts', '--method', 'importance', '--particles', '50', '--seed', '1');
    expect(r.code).toBe(0);
    const both = `${r.stdout}\n${r.stderr}`;
    expect(r.stdout).toMatch(/warning: ESS .* is below 100/);
    expect(both.match(/ESS [0-9.]+ of 50 draws is below 100/g)?.length).toBe(1);
  });

  it('parses options in-process', () => {
    expect(parseCommand(['run', 'm.ts'])).toMatchObject({ command: 'run', modelFile: 'm.ts', method: 'nuts', seed: 0, progress: true });
    expect(parseCommand(['run', 'm.ts', '--warmup', '0', '--no-progress', '--seed=-3'])).toMatchObject({ warmup: 0, progress: false, seed: -3 });
    expect(() => parseCommand(['run', 'm.ts', '--seed', '1.5'])).toThrow(/--seed must be an integer/);
    expect(() => parseCommand(['run', 'a.ts', 'b.ts'])).toThrow(/expected one model file/);
    expect(parseCommand(['-v'])).toEqual({ command: 'version' });
  });
});

/** A fake terminal that records what is written. */
function terminal(isTTY = true) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, write: (s: string) => writes.push(s) } };
}

describe('progress bar', () => {
  it('draws percentage, count, rate and ETA in place, and ends the line at completion', () => {
    const t = terminal();
    let now = 0;
    const bar = new ProgressBar('nuts', { stream: t.stream, now: () => now, width: 10 });
    bar.update(0, 100);
    now = 1000;
    bar.update(50, 100);
    expect(t.writes[1]).toBe('\rnuts  █████░░░░░   50%  50/100  50.0 it/s  ETA 1s');
    now = 1050; // throttled: within 100 ms of the last draw
    bar.update(60, 100);
    expect(t.writes).toHaveLength(2);
    now = 2000;
    bar.update(100, 100);
    // padded with spaces over the longer previous line
    expect(t.writes[2]).toBe(`\rnuts  ██████████  100%  100/100  50.0 it/s  2s${' '.repeat(t.writes[1].length - t.writes[2].trimEnd().length)}`);
    expect(t.writes[3]).toBe('\n');
    bar.update(100, 100);
    expect(t.writes).toHaveLength(4);
  });

  it('is silent when the stream is not a terminal or when disabled', () => {
    const pipe = terminal(false);
    const p = progressBar('mh', { stream: pipe.stream });
    p.onProgress(10, 100);
    p.done();
    const tty = terminal(true);
    const off = progressBar('mh', { stream: tty.stream, enabled: false });
    off.onProgress(10, 100);
    off.done();
    expect(pipe.writes).toEqual([]);
    expect(tty.writes).toEqual([]);
    expect(p.bar.enabled).toBe(false);
  });

  it('adapts to the MCMC, importance, SMC and tempered callbacks', () => {
    const t = terminal();
    let now = 0;
    const clock = () => now;
    const mcmc = progressBar('nuts', { stream: t.stream, now: clock, minIntervalMs: 0 });
    mcmc.onProgress({ completed: 400, total: 4000, elapsedMs: 2000, chains: [{ phase: 'warmup' }, { phase: 'sampling' }] });
    expect(t.writes.at(-1)).toMatch(/^\rnuts \[warmup\]  .*10%  400\/4000  200 it\/s  ETA 18s$/);
    const smc = progressBar('smc', { stream: t.stream, now: clock, minIntervalMs: 0, unit: 'steps' });
    smc.onStep({ step: 0, ess: 512.25, logZ: -1.5 });
    now = 500;
    smc.onStep({ step: 4, ess: 300, logZ: -3.25 });
    expect(t.writes.at(-1)).toBe('\rsmc  5  10.0 steps/s  ESS 300.0  log Z -3.250  1s');
    const known = progressBar('smc', { stream: t.stream, now: clock, minIntervalMs: 0, total: 10 });
    known.onStep({ step: 4, ess: 300, logZ: -3 });
    expect(t.writes.at(-1)).toMatch(/50%  5\/10/);
    const tempered = progressBar('tempered', { stream: t.stream, now: clock, minIntervalMs: 0 });
    tempered.onStep({ step: 2, beta: 0.25, ess: 800, logZ: -2 });
    expect(t.writes.at(-1)).toMatch(/^\rtempered \[step 3\]  .* 25%  beta 0.250  ESS 800.0/);
    expect(() => progressBar('x', { total: 0 })).toThrow(/total must be a positive integer/);
  });

  it('never draws wider than the terminal', () => {
    const writes: string[] = [];
    const bar = new ProgressBar('a-very-long-label', { stream: { isTTY: true, columns: 30, write: (s: string) => writes.push(s) }, now: () => 0 });
    bar.update(1, 3);
    expect(writes[0].length).toBeLessThanOrEqual(30);
  });

  test.prop([fc.double({ min: 0, max: 1e9, noNaN: true })])('formatDuration gives h/m/s text for any non-negative duration', (ms) => {
    expect(formatDuration(ms)).toMatch(/^(\d+s|\d+m\d\ds|\d+h\d\dm)$/);
  });

  test.prop([fc.double({ min: -1, max: 2, noNaN: true }), fc.integer({ min: 1, max: 80 })])('renderBar always has the requested width', (f, w) => {
    expect([...renderBar(f, w)]).toHaveLength(w);
  });

  it('formats rates and unknown values', () => {
    expect(formatRate(1234, 'it')).toBe('1.23k it/s');
    expect(formatRate(0, 'it')).toBe('-- it/s');
    expect(formatDuration(NaN)).toBe('--');
    expect(formatDuration(3_725_000)).toBe('1h02m');
    expect(formatDuration(185_000)).toBe('3m05s');
  });
});
