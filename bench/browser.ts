/**
 * tyche in headless Chromium: NUTS with 64 vectorised chains (eight
 * schools, log density on tensors) and a particle filter with 10^4
 * particles, on the WebGL backend against the wasm backend in the same page
 * (Debian's Chromium, WebGL on SwiftShader, i.e. software rendering on the
 * CPU: a real GPU changes the ratio). Prints medians and the WebGL / wasm
 * ratio. The machine is shared with other work: compare rows of one run.
 *
 *   npx tsx bench/browser.ts [--reps 3] [--chains 64] [--warmup 50] [--samples 50] [--particles 10000] [--steps 50]
 */
import { buildBrowser } from '../scripts/build-browser.js';
import { serveStatic } from '../scripts/browser/static-server.js';
import { browserAvailable, launchChromium } from '../test/browser/harness.js';
import type { BenchSettings, BenchTiming } from './browser-page.js';
import { median, numberArg, table } from './util.js';

if (!browserAvailable()) process.exit(0);
const reps = numberArg('reps', 3);
const settings: BenchSettings = {
  chains: numberArg('chains', 64),
  warmup: numberArg('warmup', 50),
  samples: numberArg('samples', 50),
  particles: numberArg('particles', 10_000),
  steps: numberArg('steps', 50),
};

const build = await buildBrowser({ outdir: 'build/browser-bench', playground: false, entries: { 'bench-page': 'bench/browser-page.ts' } });
const { writeFile } = await import('node:fs/promises');
await writeFile(`${build.outdir}/index.html`, '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="./bench-page.js"></script>\n');
const server = await serveStatic(build.outdir);
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.goto(server.url);
  await page.waitForFunction('globalThis.tycheBench !== undefined', null, { timeout: 120_000 });
  const timings: BenchTiming[] = [];
  for (const backend of ['webgl', 'wasm']) {
    const t = await page.evaluate(([b, s, r]) => (globalThis as unknown as { tycheBench: { runOn(b: string, s: BenchSettings, r: number): Promise<BenchTiming[]> } }).tycheBench.runOn(b as string, s as BenchSettings, r as number), [backend, settings, reps] as const);
    timings.push(...t);
  }
  const tasks = [...new Set(timings.map((t) => t.task))];
  const med = (backend: string, task: string): number => median(timings.filter((t) => t.backend === backend && t.task === task).map((t) => t.ms));
  const rows = tasks.map((task) => {
    const gl = med('webgl', task);
    const wasm = med('wasm', task);
    return [task, `${(gl / 1000).toFixed(2)} s`, `${(wasm / 1000).toFixed(2)} s`, (gl / wasm).toFixed(2)];
  });
  console.log(`headless Chromium (${await browser.version()}), WebGL on SwiftShader; ${reps} reps, median wall time; NUTS ${settings.warmup} warmup + ${settings.samples} draws, particle filter over ${settings.steps} steps`);
  console.log(table(['task', 'webgl', 'wasm', 'webgl / wasm'], rows));
  console.log(`checks (same model, both backends): ${tasks.map((task) => `${task}: ${['webgl', 'wasm'].map((b) => median(timings.filter((t) => t.backend === b && t.task === task).map((t) => t.check)).toFixed(3)).join(' vs ')}`).join('; ')}`);
} finally {
  await browser.close();
  await server.close();
}
