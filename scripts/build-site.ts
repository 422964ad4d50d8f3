/**
 * The static site: the playground (with tyche's browser bundles) at the
 * root, the Markdown guides in docs/ rendered to HTML under docs/, and the
 * TypeDoc API reference (build/api, made by `npm run docs`) under api/. The
 * folder can be hosted anywhere as plain files.
 *
 *   npm run site          # npm run docs, then this script; output in build/site
 *   npx tsx scripts/build-site.ts [--outdir build/site]
 */
import { cp, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import MarkdownIt from 'markdown-it';
import { buildBrowser, formatSizes } from './build-browser.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Every .md file under `dir`, as paths relative to it. */
async function markdownFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(join(dir, prefix))).sort()) {
    const rel = join(prefix, name);
    if ((await stat(join(dir, rel))).isDirectory()) out.push(...(await markdownFiles(dir, rel)));
    else if (name.endsWith('.md')) out.push(rel);
  }
  return out;
}

/** Relative links to .md files (with an optional #anchor) point at the rendered .html; README.md is the folder's index.html. */
export function rewriteLink(href: string): string {
  if (/^[a-z]+:/i.test(href) || href.startsWith('#')) return href;
  return href.replace(/(^|\/)README\.md(#|$)/, '$1index.html$2').replace(/\.md(#|$)/, '.html$1');
}

function page(title: string, body: string, depth: number): string {
  const up = depth === 0 ? './' : '../'.repeat(depth);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} — tyche</title><link rel="icon" href="data:,">
<style>body{font-family:system-ui,sans-serif;max-width:52em;margin:0 auto;padding:1em 1.5em;color:#222;line-height:1.5}
pre{background:#f5f5f5;padding:.7em;overflow-x:auto}code{font-size:.92em}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2em .5em}
nav{border-bottom:1px solid #ddd;padding-bottom:.5em;margin-bottom:1em}</style></head>
<body><nav><a href="${up}../index.html">playground</a> · <a href="${up}index.html">guides</a> · <a href="${up}../api/index.html">API</a></nav>
${body}
</body></html>
`;
}

/** Build the site into `outdir`; returns what it wrote. */
export async function buildSite(outdir = 'build/site'): Promise<{ outdir: string; docs: number; api: boolean; sizes: string }> {
  const out = resolve(ROOT, outdir);
  const build = await buildBrowser({ outdir: out });
  const md = new MarkdownIt({ html: false, linkify: true });
  const defaultLink = md.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
  md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
    const href = tokens[idx]!.attrGet('href');
    if (href) tokens[idx]!.attrSet('href', rewriteLink(href));
    return defaultLink(tokens, idx, options, env, self);
  };
  const docsDir = join(ROOT, 'docs');
  const files = await markdownFiles(docsDir);
  for (const rel of files) {
    const text = await readFile(join(docsDir, rel), 'utf8');
    const title = /^#\s+(.+)$/m.exec(text)?.[1] ?? rel;
    const target = join(out, 'docs', rewriteLink(rel));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, page(title, md.render(text), rel.split('/').length - 1));
  }
  // the images and other files the guides link (e.g. docs/steer/img/*.png) go beside the rendered pages
  await cp(docsDir, join(out, 'docs'), { recursive: true, filter: (src) => !src.endsWith('.md') });
  const api = join(ROOT, 'build/api');
  const hasApi = await stat(join(api, 'index.html')).then(() => true, () => false);
  if (hasApi) await cp(api, join(out, 'api'), { recursive: true });
  return { outdir: relative(ROOT, out), docs: files.length, api: hasApi, sizes: formatSizes(build) };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--outdir');
  const site = await buildSite(at >= 0 ? args[at + 1]! : undefined);
  console.log(site.sizes);
  console.log(`site: ${site.outdir}/index.html (playground), ${site.docs} guides under docs/, API reference ${site.api ? 'under api/' : 'missing: run npm run docs first'}`);
}
