/**
 * Slow tier of the doc-snippet checks (TYCHE_SLOW=1): every ```ts block that is not a fragment
 * type-checks as a user's module against this checkout's sources (tsc, strict, the repository's
 * tsconfig), and the blocks marked `slow` run as written.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSnippet } from './run-snippet.js';
import { allSnippets, repoRoot, rewriteImports } from './snippets.js';

const snippets = allSnippets();

describe('doc snippets (slow tier)', () => {
  it('every block that is not a fragment type-checks', () => {
    const dir = join(repoRoot, '.tmp', `snippets-tsc-${process.pid}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const files = snippets
      .filter((s) => !s.fragment)
      .map((s) => {
        const f = join(dir, `${s.file.replace(/[^\w]+/g, '_')}_L${s.line}.ts`);
        writeFileSync(f, `${rewriteImports(s.code)}\nexport {};\n`);
        return f;
      });
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ extends: '../../tsconfig.json', compilerOptions: { noEmit: true, allowImportingTsExtensions: true, rootDir: '../..' }, include: [], files }),
    );
    let out = '';
    try {
      // the compiler `npm run typecheck` uses (node_modules/.bin/tsc)
      execFileSync(join(repoRoot, 'node_modules/.bin/tsc'), ['-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
    } catch (e) {
      out = String((e as { stdout?: string }).stdout ?? e);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // name the Markdown file and line: the generated file is docs_x_md_L<line>.ts
    expect(out.replace(/\S*snippets-tsc-\d+\/(\S+?)_md_L(\d+)\.ts\((\d+),/g, '$1.md:$2 (+$3 lines),')).toBe('');
  }, 300_000);

  const slow = snippets.filter((s) => s.slow && !s.fragment && !s.external);
  it.skipIf(slow.length === 0).each(slow.map((s) => [s.label, s] as const))('%s runs', async (_l, s) => {
    const r = await runSnippet(s, 240_000);
    if (r.error) throw r.error;
    if (!s.warns) expect(r.warnings).toEqual([]);
  }, 300_000);
});
