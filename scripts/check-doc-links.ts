/**
 * Checks the relative links of the Markdown docs: every `[text](target)` in
 * README.md, docs/**\/*.md, bench/README.md, models/**\/README.md and the
 * Markdown cells of notebooks/*.ipynb must name
 * an existing file or folder, and a `#anchor` must match a heading of the
 * linked Markdown file (GitHub's slug rules). External links (`http:`,
 * `https:`, `mailto:`) are not fetched. Links inside code blocks and code
 * spans are ignored.
 *
 * Usage: `tsx scripts/check-doc-links.ts [file.md|file.ipynb ...]` (part of `npm run docs`);
 * exits 1 listing every broken link as `file:line: target (reason)`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** One link found in a Markdown file or notebook. */
interface Link {
  file: string;
  /** Where in the file: `12` (a line) or `cell 3, line 2`. */
  where: string;
  target: string;
}

/** A piece of Markdown: a whole .md file, or one Markdown cell of a notebook. */
interface MarkdownPart {
  text: string;
  /** Prefix of the position of a line in this part (`''` or `cell 3, line `). */
  prefix: string;
}

/** Markdown files under `dir` (recursively) whose name satisfies `keep`; skips node_modules and dot folders. */
function markdownFiles(dir: string, keep: (name: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...markdownFiles(path, keep));
    else if (entry.name.endsWith('.md') && keep(entry.name)) out.push(path);
  }
  return out;
}

/** The documentation set this script checks by default. */
function defaultFiles(): string[] {
  return [
    join(root, 'README.md'),
    ...markdownFiles(join(root, 'docs'), () => true),
    join(root, 'bench', 'README.md'),
    ...markdownFiles(join(root, 'models'), (name) => name === 'README.md'),
    ...(existsSync(join(root, 'notebooks')) ? readdirSync(join(root, 'notebooks')).filter((n) => n.endsWith('.ipynb')).sort().map((n) => join(root, 'notebooks', n)) : []),
  ].filter((f) => existsSync(f));
}

/** The lines of a Markdown file with fenced code blocks blanked out (line numbers kept). */
function proseLines(text: string): string[] {
  let fence: string | null = null;
  return text.split('\n').map((line) => {
    const m = /^\s*(`{3,}|~{3,})/.exec(line);
    if (m) {
      if (fence === null) fence = m[1][0];
      else if (m[1][0] === fence) fence = null;
      return '';
    }
    return fence === null ? line : '';
  });
}

/** The Markdown of a file: the file itself, or the Markdown cells of a Jupyter notebook. */
function markdownParts(file: string): MarkdownPart[] {
  const text = readFileSync(file, 'utf8');
  if (!file.endsWith('.ipynb')) return [{ text, prefix: '' }];
  const cells = (JSON.parse(text) as { cells: { cell_type: string; source: string | string[] }[] }).cells;
  return cells.flatMap((c, i) => (c.cell_type === 'markdown' ? [{ text: Array.isArray(c.source) ? c.source.join('') : c.source, prefix: `cell ${i + 1}, line ` }] : []));
}

/** Inline and reference-definition link targets of a Markdown file or notebook. */
function linksOf(file: string): Link[] {
  const links: Link[] = [];
  for (const part of markdownParts(file)) {
    proseLines(part.text).forEach((raw, i) => {
      const line = raw.replace(/`[^`]*`/g, '');
      const where = `${part.prefix}${i + 1}`;
      for (const m of line.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ file, where, target: m[1] });
      const def = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$/.exec(line);
      if (def) links.push({ file, where, target: def[1] });
    });
  }
  return links;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/<[^>]+>/g, '')
    .replace(/[`*_~]/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .replace(/\s/g, '-');
}

const anchorCache = new Map<string, Set<string>>();

/** The anchors a Markdown file (or a notebook's Markdown cells) defines: heading slugs (numbered when repeated) and explicit `id`/`name` attributes. */
function anchorsOf(file: string): Set<string> {
  const cached = anchorCache.get(file);
  if (cached) return cached;
  const anchors = new Set<string>();
  const counts = new Map<string, number>();
  for (const line of markdownParts(file).flatMap((p) => proseLines(p.text))) {
    const h = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (h) {
      const base = slug(h[1]);
      const n = counts.get(base) ?? 0;
      counts.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const m of line.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(m[1]);
  }
  anchorCache.set(file, anchors);
  return anchors;
}

/** Why a link is broken, or null when it resolves. */
function problem(link: Link): string | null {
  const { target } = link;
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return null; // http:, https:, mailto:
  const hash = target.indexOf('#');
  const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
  const anchor = hash < 0 ? null : decodeURIComponent(target.slice(hash + 1));
  const path = pathPart === '' ? link.file : pathPart.startsWith('/') ? join(root, pathPart) : resolve(dirname(link.file), pathPart);
  if (!existsSync(path)) return 'no such file';
  if (anchor === null || anchor === '') return null;
  if (statSync(path).isDirectory() || !(path.endsWith('.md') || path.endsWith('.ipynb'))) return null;
  if (/^L\d+(-L\d+)?$/.test(anchor)) return null; // line anchors
  return anchorsOf(path).has(anchor) ? null : `no heading with anchor #${anchor} in ${relative(root, path)}`;
}

const files = process.argv.length > 2 ? process.argv.slice(2).map((f) => resolve(f)) : defaultFiles();
let checked = 0;
const broken: string[] = [];
for (const file of files) {
  for (const link of linksOf(file)) {
    checked++;
    const why = problem(link);
    if (why) broken.push(`${relative(root, link.file)}:${link.where}: ${link.target} (${why})`);
  }
}
if (broken.length > 0) {
  console.error(`doc links: ${broken.length} broken link(s):\n  ${broken.join('\n  ')}`);
  process.exit(1);
}
console.log(`doc links: ${checked} link(s) in ${files.length} file(s) resolve`);
