/**
 * Slow tier of the doc-snippet checks (TYCHE_SLOW=1): every ```ts block that is not a fragment
 * type-checks as a user's module against this checkout's sources (tsc, strict, the repository's
 * tsconfig); every fragment type-checks too once the package exports it calls are imported for it,
 * apart from the errors its free names cause (a renamed function or option still fails); and the
 * blocks marked `slow` run as written.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSnippet } from './run-snippet.js';
import ts from 'typescript';
import { allSnippets, autoImports, repoRoot, rewriteImports } from './snippets.js';

const snippets = allSnippets();
const modules: Record<string, Record<string, unknown>> = {
  tyche: await import('../../src/index.js'),
  'tyche/steer': await import('../../src/steer/index.js'),
  'tyche/steer/node': await import('../../src/steer/node.js'),
  'tyche/testing': await import('../../src/testing/index.js'),
  'tyche/plots': await import('../../src/plots/index.js'),
  'tyche/progress': await import('../../src/progress/index.js'),
};

describe('doc snippets (slow tier)', () => {
  it('every block type-checks (fragments with the imports they need added)', () => {
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
    // fragments that parse, with imports added for the exports they use (one line above the code)
    const exported: Record<string, string> = {};
    for (const [spec, mod] of Object.entries(modules)) if (spec !== 'tyche') for (const k of Object.keys(mod)) exported[k] = spec;
    for (const k of Object.keys(modules.tyche)) exported[k] = 'tyche'; // the main entry wins
    const namespaces = new Set(['ops', 'flows', 'linalg', 'transforms', 'constraints', 'mcmc', 'diagnostics']);
    for (const s of snippets.filter((x) => x.fragment)) {
      if (ts.transpileModule(s.code, { reportDiagnostics: true }).diagnostics?.length) continue; // pseudo-code (`...`)
      const header = Object.entries(autoImports(s.code, exported, namespaces)).map(([from, names]) => `import { ${names.join(', ')} } from '${from}';`).join(' ');
      const f = join(dir, `${s.file.replace(/[^\w]+/g, '_')}_L${s.line}.fragment.ts`);
      writeFileSync(f, `${rewriteImports(header)}\n${rewriteImports(s.code)}\nexport {};\n`);
      files.push(f);
    }
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
    // In a fragment, drop what its free names cause: cannot find name (2304, 2552, 2582, 2593),
    // implicit any from an unknown callee (7006, 7031), shorthand of an undefined value (18004), a
    // module of the reader's own (2307), an export beside a same-named free name (2395).
    const FREE = /error TS(2304|2552|2582|2593|7006|7031|18004|2307|2395):/;
    const errors = out
      .split('\n')
      .filter((l) => /^\S*snippets-tsc-\d+\//.test(l))
      .filter((l) => !(l.includes('.fragment.ts(') && FREE.test(l)))
      // name the Markdown file and line: the generated file is docs_x_md_L<line>[.fragment].ts
      .map((l) => l.replace(/\S*snippets-tsc-\d+\/(\S+?)_md_L(\d+)(\.fragment)?\.ts\((\d+),/, '$1.md:$2 (code line $4),'));
    expect(errors).toEqual([]);
  }, 300_000);

  const slow = snippets.filter((s) => s.slow && !s.fragment && !s.external);
  it.skipIf(slow.length === 0).each(slow.map((s) => [s.label, s] as const))('%s runs', async (_l, s) => {
    const r = await runSnippet(s, 240_000);
    if (r.error) throw r.error;
    if (!s.warns) expect(r.warnings).toEqual([]);
  }, 300_000);
});
