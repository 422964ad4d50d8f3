/**
 * Shared set-up of the browser tests: find Debian's Chromium, build the
 * browser bundle once (with the in-page test entry), serve it, and drive
 * headless Chromium through playwright-core (no browser download).
 *
 * Without Chromium the tests skip with a message; under CI (`CI=true`) a
 * missing Chromium is an error (.ci/run installs it).
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import { type BrowserBuild, buildBrowser } from '../../scripts/build-browser.js';
import { type StaticServer, serveStatic } from '../../scripts/browser/static-server.js';

/** Where Chromium is looked for: `CHROMIUM_PATH`, else Debian's. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags that give headless Chromium WebGL 2 on SwiftShader (software GL): no GPU needed. */
export const CHROMIUM_ARGS = ['--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist', '--enable-webgl', '--no-sandbox'];

/**
 * Whether the browser tests can run here: true when Chromium is present;
 * false (with a printed reason) when it is missing outside CI; throws under CI.
 */
export function browserAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  const why = `browser tests: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(`${why}; CI must run them`);
  console.warn(`${why}; skipping`);
  return false;
}

/** A served build and a running browser. */
export interface BrowserSession {
  readonly build: BrowserBuild;
  readonly server: StaticServer;
  readonly browser: Browser;
  /** A new page at `path` (relative to the server), with console errors collected. */
  open(path: string): Promise<{ page: Page; errors: string[] }>;
  close(): Promise<void>;
}

/** Flags that give headless Chromium a WebGPU adapter on SwiftShader's Vulkan (software). */
export const WEBGPU_ARGS = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader'];

/** Launch headless Debian Chromium with the SwiftShader WebGL flags (and `extraArgs`). */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

/** Build into `outdir` with the in-page test entry and a page that loads it, serve it, launch Chromium. */
export async function startSession(outdir = 'build/browser-test', entries: Record<string, string> = {}): Promise<BrowserSession> {
  const build = await buildBrowser({ outdir, minify: true, entries: { 'in-page-tests': 'test/browser/in-page/page.ts', ...entries } });
  await writeFile(join(build.outdir, 'tests.html'), '<!doctype html><meta charset="utf-8"><title>tyche in-page tests</title><link rel="icon" href="data:,"><script type="module" src="./in-page-tests.js"></script>\n');
  const server = await serveStatic(build.outdir);
  const browser = await launchChromium();
  return {
    build,
    server,
    browser,
    async open(path: string) {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(`console: ${m.text()}`);
      });
      await page.goto(new URL(path, server.url).href);
      return { page, errors };
    },
    async close() {
      await browser.close();
      await server.close();
    },
  };
}
