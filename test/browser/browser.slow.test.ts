/**
 * The slow browser tier (`TYCHE_SLOW=1`): the in-page engine checks at the
 * `full` scale (longer NUTS and VI runs) on WebGL, and tyche built by vite
 * (rolldown) into an app that runs in headless Chromium without a Node
 * built-in. See browser.test.ts for the default tier.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'vite';
import { serveStatic } from '../../scripts/browser/static-server.js';
import { type BrowserSession, WEBGPU_ARGS, browserAvailable, launchChromium, startSession } from './harness.js';
import type { CheckResult } from './in-page/checks.js';

const run = Boolean(process.env.TYCHE_SLOW) && browserAvailable();

describe.skipIf(!run)('tyche in headless Chromium (slow tier)', () => {
  let session: BrowserSession;
  let names: string[];
  let page: import('playwright-core').Page;

  beforeAll(async () => {
    session = await startSession('build/browser-test-slow');
    ({ page } = await session.open('tests.html'));
    await page.waitForFunction('globalThis.tycheChecks !== undefined', null, { timeout: 60_000 });
    names = await page.evaluate('globalThis.tycheChecks.CHECK_NAMES');
  }, 120_000);

  afterAll(async () => {
    await session?.close();
  });

  it('every in-page check passes at the full scale on WebGL, and fails against its planted answer', async () => {
    const results = await page.evaluate((n) => (globalThis as unknown as { tycheChecks: { runChecks(names: string[], scale: string): Promise<CheckResult[]> } }).tycheChecks.runChecks(n, 'full'), names);
    for (const r of results) {
      console.log(`${r.name}: ${r.detail} (${(r.ms / 1000).toFixed(1)} s)`);
      expect(r.pass, `${r.name}: ${r.detail}`).toBe(true);
      expect(r.plantedPass, `${r.name} planted: ${r.detail}`).toBe(false);
      expect(r.numTensorsDelta, `${r.name}: tensors left alive`).toBe(0);
    }
  }, 600_000);

  /**
   * WebGPU on SwiftShader's Vulkan: the checks that pass there. NUTS and VI
   * are left out: after a few hundred kernel launches the software adapter's
   * `createBuffer` fails ("size (4) is too large for the implementation when
   * mappedAtCreation == true"), a limit of the software adapter, and why
   * WebGL stays the default (docs/browser.md).
   */
  it('on WebGPU (SwiftShader): enumeration, importance, SMC, the particle filter and LM steering pass their checks', async () => {
    const gpu = await launchChromium(WEBGPU_ARGS);
    try {
      const p = await gpu.newPage();
      await p.addInitScript('globalThis.TYCHE_BACKEND = "webgpu"');
      await p.goto(new URL('tests.html', session.server.url).href);
      await p.waitForFunction('globalThis.tycheChecks !== undefined', null, { timeout: 60_000 });
      expect(await p.evaluate('globalThis.tycheChecks.pageBackend().name')).toBe('webgpu');
      const results = await p.evaluate((n) => (globalThis as unknown as { tycheChecks: { runChecks(names: string[], scale: string): Promise<CheckResult[]> } }).tycheChecks.runChecks(n, 'quick'), names.filter((n) => !/^(nuts|vi) /.test(n)));
      expect(results).toHaveLength(6);
      for (const r of results) {
        console.log(`webgpu: ${r.name}: ${r.detail}`);
        expect(r.pass, `${r.name}: ${r.detail}`).toBe(true);
        expect(r.plantedPass, `${r.name} planted`).toBe(false);
      }
    } finally {
      await gpu.close();
    }
  }, 300_000);

  it('vite builds an app that imports tyche, with no Node built-in, and it runs on WebGL', async () => {
    const warnings: string[] = [];
    await build({
      root: 'test/browser/fixtures/vite-app',
      configFile: false,
      logLevel: 'silent',
      build: { outDir: '../../../../build/vite-app', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 10_000, rolldownOptions: { onwarn: (w) => warnings.push(String(w.message ?? w)) } },
    });
    expect(warnings.filter((w) => /externalized for browser compatibility|node:/.test(w))).toEqual([]);
    const server = await serveStatic('build/vite-app');
    try {
      const p = await session.browser.newPage();
      const errors: string[] = [];
      p.on('pageerror', (e) => errors.push(e.message));
      await p.goto(server.url);
      await p.waitForFunction('globalThis.viteResult !== undefined', null, { timeout: 120_000 });
      const r = (await p.evaluate('globalThis.viteResult')) as { backend: string; mean: number; svg: number };
      expect(r.backend).toBe('webgl');
      // Beta(5, 3) posterior mean 0.625; 2000 particles, sd 0.16: well within 0.03
      expect(Math.abs(r.mean - 0.625)).toBeLessThan(0.03);
      expect(r.svg).toBeGreaterThan(1000);
      expect(errors).toEqual([]);
    } finally {
      await server.close();
    }
  }, 300_000);
});
