/**
 * The static site as a user gets it (session 7, slow tier: `TYCHE_SLOW=1`):
 * `scripts/build-site.ts` (what `npm run site` runs after TypeDoc) builds the
 * playground and the guides; served from a local folder, the playground runs
 * every example on WebGL and on wasm, and the guides load, with no request
 * outside the site's own server, no failed request and no console error.
 * Skips without Chromium, except under CI (see harness.ts).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLES } from '../../playground/examples.js';
import { buildSite } from '../../scripts/build-site.js';
import { type StaticServer, serveStatic } from '../../scripts/browser/static-server.js';
import { browserAvailable, launchChromium } from './harness.js';

const run = Boolean(process.env.TYCHE_SLOW) && browserAvailable();

describe.skipIf(!run)('the static site offline (slow tier)', () => {
  let server: StaticServer;
  let browser: import('playwright-core').Browser;
  let outdir: string;

  beforeAll(async () => {
    ({ outdir } = await buildSite('build/site-session7'));
    server = await serveStatic(outdir);
    browser = await launchChromium();
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** A page whose every request, failed response and console error is logged. */
  async function open(): Promise<{ page: Page; outside: string[]; failed: string[]; errors: string[] }> {
    const page = await browser.newPage();
    const origin = new URL(server.url).origin;
    const log = { page, outside: [] as string[], failed: [] as string[], errors: [] as string[] };
    page.on('request', (r) => {
      const u = r.url();
      if (!u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:')) log.outside.push(u);
    });
    page.on('requestfailed', (r) => log.failed.push(`${r.url()}: ${r.failure()?.errorText}`));
    page.on('response', (r) => {
      if (r.status() >= 400) log.failed.push(`${r.url()}: ${r.status()}`);
    });
    page.on('pageerror', (e) => log.errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') log.errors.push(`console: ${m.text()}`);
    });
    return log;
  }

  it.each(['webgl', 'wasm'])('the playground runs every example on %s, with only its own files', async (backend) => {
    const log = await open();
    const { page } = log;
    await page.goto(new URL(`index.html${backend === 'wasm' ? '?backend=wasm' : ''}`, server.url).href);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    expect(await page.textContent('#backend')).toBe(`backend: ${backend}`);
    let runs = 0;
    for (const key of Object.keys(EXAMPLES)) {
      await page.selectOption('#example', key);
      await page.click('#run');
      await page.waitForSelector(`body[data-runs="${++runs}"]`, { timeout: 240_000 });
      expect(await page.locator('#error').isHidden(), `${key}: ${await page.textContent('#error')}`).toBe(true);
      expect(await page.textContent('#summary')).toContain(`${EXAMPLES[key]!.method}:`);
      expect(await page.locator('#plots figure[data-plot="posterior"] svg').count(), key).toBe(1);
    }
    expect(log.outside).toEqual([]);
    expect(log.failed).toEqual([]);
    expect(log.errors).toEqual([]);
    await page.close();
  }, 600_000);

  it('every guide loads from the site alone', async () => {
    const guides = (await readdir(join(outdir, 'docs'), { recursive: true })).filter((f) => f.endsWith('.html'));
    expect(guides.length).toBeGreaterThan(5);
    const log = await open();
    for (const g of guides) await log.page.goto(new URL(`docs/${g}`, server.url).href, { waitUntil: 'load' });
    expect(log.outside).toEqual([]);
    expect(log.failed).toEqual([]);
    expect(log.errors).toEqual([]);
    await log.page.close();
  }, 120_000);
});
