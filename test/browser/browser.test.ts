/**
 * tyche in headless Chromium (Debian's, driven by playwright-core): the
 * browser bundle loads with no Node built-in, the backend chosen is WebGL
 * (SwiftShader), and the engines' checks pass in the page with their Node
 * tolerances (each also fails against a planted wrong answer). One build and
 * one browser per run; see test/browser/harness.ts. Skips without Chromium,
 * except under CI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrowserSession, browserAvailable, startSession } from './harness.js';
import { formatSizes } from '../../scripts/build-browser.js';
import type { CheckResult } from './in-page/checks.js';

const available = browserAvailable();

describe.skipIf(!available)('tyche in headless Chromium', () => {
  let session: BrowserSession;
  let checks: { page: import('playwright-core').Page; errors: string[] };

  beforeAll(async () => {
    session = await startSession();
    console.log(formatSizes(session.build));
    checks = await session.open('tests.html');
    await checks.page.waitForFunction(() => (globalThis as { tycheChecks?: unknown }).tycheChecks !== undefined, null, { timeout: 60_000 });
  }, 120_000);

  afterAll(async () => {
    await session?.close();
  });

  it('the bundle loads, chooses WebGL 2 with float32 textures, and logs no error', async () => {
    const info = await checks.page.evaluate(() => (globalThis as unknown as { tycheChecks: { pageBackend(): unknown } }).tycheChecks.pageBackend());
    expect(info).toMatchObject({ name: 'webgl', tfName: 'webgl', forced: false, skipped: {}, features: { webgl2: true, float32: true } });
    expect(checks.errors).toEqual([]);
  });

  const names = ['enumerate (sequential, exact)', 'enumerate (parallel, on the backend)', 'importance (posterior mean within 4 MCSE)', 'smc over the program (Z unbiased over 20 runs)', 'particle filter on batched tensors (Z unbiased against Kalman over 12 runs)', 'nuts (vectorised chains on tensors, mean within 4 MCSE)', 'vi (AutoNormal fits the exact posterior)'];
  it('the in-page suite lists exactly these checks', async () => {
    expect(await checks.page.evaluate(() => (globalThis as unknown as { tycheChecks: { CHECK_NAMES: string[] } }).tycheChecks.CHECK_NAMES)).toEqual(names);
  });

  it.each(names)('on WebGL: %s (and it fails against a planted wrong answer)', async (name) => {
    const [r] = await checks.page.evaluate(([n, scale]) => (globalThis as unknown as { tycheChecks: { runChecks(names: string[], scale: string): Promise<CheckResult[]> } }).tycheChecks.runChecks([n!], scale!), [name, process.env.TYCHE_SLOW ? 'full' : 'quick']);
    if (process.env.TYCHE_REPORT) console.log(`${name}: ${r!.detail} (${(r!.ms / 1000).toFixed(1)} s)`);
    expect(r!.pass, r!.detail).toBe(true);
    expect(r!.plantedPass, `planted: ${r!.detail}`).toBe(false);
    expect(r!.numTensorsDelta, 'tensors left alive').toBe(0);
  });
});
