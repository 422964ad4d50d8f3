/**
 * tyche in headless Chromium (Debian's, driven by playwright-core): the
 * browser bundle loads with no Node built-in, the backend chosen is WebGL
 * (SwiftShader), and the engines' checks pass in the page with their Node
 * tolerances (each also fails against a planted wrong answer), at the
 * `quick` scale (the slow tier, browser.slow.test.ts, runs them longer and
 * builds with vite); the playground runs its examples, shows Node's errors
 * for bad programs, and aborts. One build and one browser per run; see
 * test/browser/harness.ts. Skips without Chromium, except under CI.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLES } from '../../playground/examples.js';
import { describeError, runProgram } from '../../playground/run-model.js';
import { type BrowserSession, browserAvailable, startSession } from './harness.js';
import { formatSizes } from '../../scripts/build-browser.js';
import { rewriteLink } from '../../scripts/build-site.js';
import type { CheckResult } from './in-page/checks.js';

const available = browserAvailable();

describe('the static site', () => {
  it('rewrites links between guides to the rendered pages, and leaves anchors and URLs alone', () => {
    expect(rewriteLink('engines/README.md')).toBe('engines/index.html');
    expect(rewriteLink('../docs/browser.md#backends')).toBe('../docs/browser.html#backends');
    expect(rewriteLink('README.md')).toBe('index.html');
    expect(rewriteLink('#numerics-on-webgl')).toBe('#numerics-on-webgl');
    expect(rewriteLink('https://example.org/a.md')).toBe('https://example.org/a.md');
  });
});

/** One build, server and browser for the whole file. */
let shared: Promise<BrowserSession> | undefined;
function session(): Promise<BrowserSession> {
  shared ??= startSession();
  return shared;
}
afterAll(async () => {
  if (shared) await (await shared).close();
});

describe.skipIf(!available)('tyche in headless Chromium', () => {
  let checks: { page: Page; errors: string[] };

  beforeAll(async () => {
    const s = await session();
    console.log(formatSizes(s.build));
    checks = await s.open('tests.html');
    await checks.page.waitForFunction(() => (globalThis as { tycheChecks?: unknown }).tycheChecks !== undefined, null, { timeout: 60_000 });
  }, 120_000);

  afterAll(async () => {
    await checks?.page.close();
  });

  it('the bundle loads, chooses WebGL 2 with float32 textures, and logs no error', async () => {
    const info = await checks.page.evaluate(() => (globalThis as unknown as { tycheChecks: { pageBackend(): unknown } }).tycheChecks.pageBackend());
    expect(info).toMatchObject({ name: 'webgl', tfName: 'webgl', forced: false, skipped: {}, features: { webgl2: true, float32: true } });
    expect(checks.errors).toEqual([]);
  });

  const names = ['enumerate (sequential, exact)', 'enumerate (parallel, on the backend)', 'importance (posterior mean within 4 MCSE)', 'smc over the program (Z unbiased over 20 runs)', 'particle filter on batched tensors (Z unbiased against Kalman over 12 runs)', 'nuts (vectorised chains on tensors, mean within 4 MCSE)', 'vi (AutoNormal fits the exact posterior)', 'lm steering (smcSteer on a Markov LM under a regex: Z unbiased and posterior within MCSE over 80 runs)'];
  it('the in-page suite lists exactly these checks', async () => {
    // the last runs only in the slow tier (browser.slow.test.ts)
    expect(await checks.page.evaluate(() => (globalThis as unknown as { tycheChecks: { CHECK_NAMES: string[] } }).tycheChecks.CHECK_NAMES)).toEqual([...names, 'diffusion FK steering (tilted Gaussian mixture within MC error)']);
  });

  it.each(names)('on WebGL: %s (and it fails against a planted wrong answer)', async (name) => {
    const [r] = await checks.page.evaluate(([n, scale]) => (globalThis as unknown as { tycheChecks: { runChecks(names: string[], scale: string): Promise<CheckResult[]> } }).tycheChecks.runChecks([n!], scale!), [name, 'quick']);
    if (process.env.TYCHE_REPORT) console.log(`${name}: ${r!.detail} (${(r!.ms / 1000).toFixed(1)} s)`);
    expect(r!.pass, r!.detail).toBe(true);
    expect(r!.plantedPass, `planted: ${r!.detail}`).toBe(false);
    expect(r!.numTensorsDelta, 'tensors left alive').toBe(0);
  });
});

/** Models with mistakes, typed into the playground: the page must show the error Node gives for the same source, and keep working. */
const BAD_PROGRAMS: Record<string, { source: string; method: string; options: Record<string, unknown> }> = {
  'a syntax error': {
    method: 'importance',
    options: { particles: 100, seed: 1 },
    source: `const m = model(async ({ sample }) => {\n  const p = await sample('p', Beta(2, 2);\n});\nreturn { model: m, args: [] };\n`,
  },
  'a model that throws': {
    method: 'importance',
    options: { particles: 100, seed: 1 },
    source: `const m = model(async ({ sample }) => {\n  const p = await sample('p', Beta(2, 2));\n  if (p >= 0) throw new Error('the data must be sorted');\n});\nreturn { model: m, args: [] };\n`,
  },
  'a NaN log density': {
    method: 'nuts',
    options: { chains: 2, warmup: 20, samples: 20, seed: 1 },
    source: `const m = model(async ({ sample, factor }) => {\n  const x = await sample('x', Normal(0, 1));\n  await factor('bad', ops.mul(x, NaN));\n});\nreturn { model: m, args: [] };\n`,
  },
};

describe.skipIf(!available)('the playground in headless Chromium', () => {
  const shots = 'build/browser-screenshots';

  beforeAll(async () => {
    await mkdir(shots, { recursive: true });
  });

  async function runIn(page: Page, runs: number): Promise<{ error: string | null; summary: string; status: string }> {
    await page.click('#run');
    await page.waitForSelector(`body[data-runs="${runs}"]`, { timeout: 120_000 });
    const hidden = await page.locator('#error').isHidden();
    return { error: hidden ? null : await page.textContent('#error'), summary: (await page.textContent('#summary')) ?? '', status: (await page.textContent('#status')) ?? '' };
  }

  let examplesPage: { page: Page; errors: string[] } | undefined;
  let exampleRuns = 0;
  afterAll(async () => {
    await examplesPage?.page.close();
  });

  it.each(Object.keys(EXAMPLES))('runs the %s example end to end and draws its posterior plot', async (key) => {
    if (!examplesPage) {
      examplesPage = await (await session()).open('index.html');
      await examplesPage.page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
      expect(await examplesPage.page.textContent('#backend')).toBe('backend: webgl');
    }
    const { page, errors } = examplesPage;
    await page.selectOption('#example', key);
    const r = await runIn(page, ++exampleRuns);
    expect(r.error).toBeNull();
    expect(r.summary).toContain(`${EXAMPLES[key]!.method}:`);
    const figure = page.locator('#plots figure[data-plot="posterior"] svg');
    expect(await figure.count()).toBe(1);
    await page.locator('#plots').screenshot({ path: join(shots, `${key}.png`) });
    expect(errors).toEqual([]);
  });

  it('shows the error Node gives for a syntax error, a model that throws and a NaN log density, and keeps working', async () => {
    const { page, errors } = await (await session()).open('index.html?example=coin');
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    let runs = 0;
    for (const [what, bad] of Object.entries(BAD_PROGRAMS)) {
      const inNode = await runProgram(bad.source, bad.method, bad.options).then(
        () => 'no error',
        (e: unknown) => describeError(e),
      );
      await page.fill('#editor', bad.source);
      await page.selectOption('#method', bad.method);
      await page.fill('#options', JSON.stringify(bad.options));
      const r = await runIn(page, ++runs);
      expect(r.error, what).toBe(inNode);
      expect(r.status).toBe('failed');
    }
    // the page still works: load the coin example again and run it
    await page.selectOption('#example', 'coin');
    const ok = await runIn(page, ++runs);
    expect(ok.error).toBeNull();
    expect(ok.summary).toContain('importance:');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('the steering tab steers the shipped digit model toward a class and the KJV model under a constraint (end to end)', async () => {
    const { page, errors } = await (await session()).open('index.html?tab=steering');
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    await page.fill('#digit-particles', '8');
    await page.fill('#digit-steps', '20');
    await page.click('#digit-run');
    await page.waitForSelector('body[data-digit-runs="1"]', { timeout: 120_000 });
    expect(await page.textContent('#digit-status')).toMatch(/^done in .* the classifier reads \d+ of 8 particles as 3/);
    expect(await page.locator('#digit-plot svg').count()).toBe(1);
    await page.locator('#digit-plot').screenshot({ path: join(shots, 'steer-digits.png') });
    await page.fill('#text-particles', '8');
    await page.fill('#text-tokens', '30');
    await page.click('#text-run');
    await page.waitForSelector('body[data-text-runs="1"]', { timeout: 120_000 });
    expect(await page.textContent('#text-status')).toMatch(/^done in .* log Z/);
    const lines = ((await page.textContent('#text-out')) ?? '').split('\n');
    expect(lines).toHaveLength(8);
    // the constraint holds on every particle: no e or E in any text
    for (const line of lines) expect(JSON.parse(line.slice(line.indexOf('"')))).not.toMatch(/[eE]/);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('the abort button stops a run with an AbortError, and the next run works', async () => {
    const { page } = await (await session()).open('index.html?example=eightSchools');
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    await page.fill('#options', JSON.stringify({ chains: 4, warmup: 5000, samples: 5000, seed: 1, compile: false }));
    await page.click('#run');
    await page.waitForFunction("/iterations/.test(document.getElementById('status')?.textContent ?? '')", null, { timeout: 60_000 });
    await page.click('#abort');
    await page.waitForSelector('body[data-runs="1"]', { timeout: 60_000 });
    expect(await page.textContent('#status')).toBe('aborted');
    expect(await page.textContent('#error')).toMatch(/AbortError/);
    await page.fill('#options', JSON.stringify({ chains: 2, warmup: 50, samples: 50, seed: 1 }));
    const again = await runIn(page, 2);
    expect(again.error).toBeNull();
    await page.close();
  });
});
