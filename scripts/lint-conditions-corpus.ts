/**
 * Run the condition lint (src/core/condition-lint.ts) over every piece of model code in the
 * repository, as transpiled at run time (test/helpers/condition-corpus.ts), and print each
 * finding: `npx tsx scripts/lint-conditions-corpus.ts`. The only findings should be in the test
 * files that plant the bug on purpose.
 */
import { collectCorpus, lintCorpus } from '../test/helpers/condition-corpus.js';

const t0 = performance.now();
const corpus = collectCorpus();
const t1 = performance.now();
const found = lintCorpus(corpus);
const t2 = performance.now();
const chars = corpus.reduce((a, s) => a + s.js.length, 0);
const count = (re: RegExp): number => corpus.filter((s) => re.test(s.name)).length;
console.log(`${corpus.length} sources (${count(/\.(ts|mts|js|mjs)$/)} code files, ${count(/\.md#/)} guide code blocks, ${count(/\.ipynb#/)} notebook cells; ${corpus.filter((s) => !s.transpiled).length} fragments linted as written), ${(chars / 1e6).toFixed(2)} M characters`);
console.log(`transpile ${(t1 - t0).toFixed(0)} ms, lint ${(t2 - t1).toFixed(0)} ms (${((t2 - t1) / (chars / 1e3)).toFixed(2)} ms per 1000 characters)`);
for (const [name, fs] of found) for (const f of fs) console.log(`${name}:${f.line}  ${f.use}  ${f.expression}  |  ${f.code}`);
console.log(`${[...found.values()].reduce((a, f) => a + f.length, 0)} findings in ${found.size} files`);
