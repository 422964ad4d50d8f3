/**
 * Every ```ts example in README.md and docs/ runs as written (imports of 'tyche…' pointed at this
 * checkout's sources), prints no unexpected warning, and prints what its text says where the text
 * states a value. Blocks that cannot run alone are marked in the Markdown (see test/docs/snippets.ts);
 * snippets.slow.test.ts type-checks every block (fragments with their imports added) and runs the
 * `slow` ones.
 */
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { runSnippet, type SnippetRun } from './run-snippet.js';
import { allSnippets, autoImports, extractSnippets, rewriteImports, type Snippet } from './snippets.js';

const snippets = allSnippets();
const runnable = snippets.filter((s) => !s.fragment && !s.slow && !s.external);
const byId = (id: string): Snippet => {
  const s = snippets.find((x) => x.id === id);
  if (!s) throw new Error(`no snippet marked id=${id}`);
  return s;
};

/** What a snippet's text says it prints, checked on a run (throws when the run disagrees). */
const EXPECTED: Record<string, (r: SnippetRun) => void> = {
  // Beta(2, 2) prior, flips 1 0 1 1: posterior Beta(5, 3), mean 5/8; Z = B(5,3)/B(2,2) = 2/35.
  // Importance sampling: se(mean) = sd/sqrt(ESS); se(log Z) ~ sqrt((N/ESS - 1)/N). 4 se, plus the
  // summary's rounding to 3 decimals.
  'readme-coin': (r) => checkCoin(r, true),
  'getting-started-coin': (r) => checkCoin(r, false),
  // an MH run of 1e6 draws aborted after 0.5 s rejects with the signal's reason
  'getting-started-abort': (r) => expect(r.logs).toEqual(['stopped: AbortError']),
  // two dice on 0..5 with sum 8: (3,5) (4,4) (5,3), so P(d1 = 5) = 1/3 and Z = 3/36, exactly
  'enumerate-dice': (r) => {
    const [p, logZ] = r.logs[0].split(' ').map(Number);
    expect(p).toBeCloseTo(1 / 3, 12);
    expect(logZ).toBeCloseTo(Math.log(3 / 36), 12);
  },
  // DDPM from the exact mixture score: moments within the Bonferroni bound (checkMixtureSamples'
  // own planted failures are in test/steer/diffusion)
  'diffusion-mixture': (r) => expect(r.logs[0]).toMatch(/^pass: /),
  // SVI fit of a conjugate normal (mu ~ N(0, 10), y_i ~ N(mu, 1), y = 0.3 1.2 0.8): exact
  // log Z = log N(y; 0, I + 100 11'); the guide family holds the posterior, so IWAE(100) is
  // within 4 of its own stderr
  'vi-svi': (r) => {
    const [bound, stderr] = r.logs[0].split(' ').map(Number);
    const y = [0.3, 1.2, 0.8];
    const s = y.reduce((a, b) => a + b, 0);
    const q = y.reduce((a, b) => a + b * b, 0);
    const exact = -0.5 * (q - (100 * s * s) / (1 + 300)) - 0.5 * Math.log(1 + 300) - 1.5 * Math.log(2 * Math.PI);
    expect(Math.abs(bound - exact), `IWAE bound ${bound} vs exact log Z ${exact} (stderr ${stderr})`).toBeLessThan(4 * stderr);
  },
  // "pValue > 0.001 for a correct sampler"
  'testing-two-moons': (r) => expect(Number(r.logs[0])).toBeGreaterThan(0.001),
};

function checkCoin(r: SnippetRun, printsLogZ: boolean): void {
  const text = r.logs[0];
  const ess = Number(/ESS ([\d.]+)/.exec(text)?.[1]);
  const n = Number(/(\d+) draws/.exec(text)?.[1]);
  const row = /^p\s+(-?[\d.]+)\s+([\d.]+)/m.exec(text);
  expect(row, text).not.toBeNull();
  const mean = Number(row![1]);
  const sdExact = Math.sqrt((5 * 3) / (8 * 8 * 9));
  expect(Math.abs(mean - 5 / 8), `p mean ${mean} vs 0.625 (ESS ${ess})`).toBeLessThan((4 * sdExact) / Math.sqrt(ess) + 5e-4);
  if (printsLogZ) {
    const logZ = Number(r.logs[1]);
    const se = Math.sqrt((n / ess - 1) / n);
    expect(Math.abs(logZ - Math.log(2 / 35)), `log Z ${logZ} vs ${Math.log(2 / 35)} (se ${se})`).toBeLessThan(4 * se);
  }
}

describe('doc snippets: markers and parsing', () => {
  it('finds the examples and parses the markers', () => {
    expect(snippets.length).toBeGreaterThan(40);
    const s = extractSnippets('text\n<!-- snippet: fragment, id=x -->\n\n```ts\nfoo();\n```\n```ts\nbar();\n```\n', 'a.md');
    expect(s.map((x) => [x.line, x.fragment, x.id, x.code])).toEqual([[4, true, 'x', 'foo();'], [7, false, undefined, 'bar();']]);
    expect(() => extractSnippets('<!-- snippet: fragmnt -->\n```ts\nx\n```\n', 'b.md')).toThrow(/b\.md:2: unknown snippet marker "fragmnt"/);
    expect(rewriteImports("import { a } from 'tyche/steer';", '/r')).toBe("import { a } from '/r/src/steer/index.ts';");
    expect(() => rewriteImports("import { a } from 'tyche/nope';")).toThrow(/tyche\/nope/);
    for (const id of Object.keys(EXPECTED)) expect(byId(id).fragment).toBe(false);
  });

  it('autoImports imports what a fragment calls, not its own or free variable names', () => {
    const exp = { infer: 'tyche', model: 'tyche', ops: 'tyche', particles: 'tyche', sbc: 'tyche/testing', SVI: 'tyche' };
    const code = "const m = model(async () => {});\nconst post = await infer(m, {}, ops.add(1, 2));\nparticles.map((p) => p);\nnew SVI(model);\nawait sbc({});";
    expect(autoImports(code, exp, new Set(['ops']))).toEqual({ tyche: ['model', 'infer', 'ops', 'SVI'], 'tyche/testing': ['sbc'] });
    expect(autoImports("import { infer } from 'tyche';\nconst sbc = 1;\ninfer(sbc);", exp, new Set())).toEqual({});
    expect(autoImports('wrapLanguageModel(model, {});', exp, new Set())).toEqual({});
  });

  it('every block that is not a fragment is valid TypeScript syntax', () => {
    const bad: string[] = [];
    for (const s of snippets.filter((x) => !x.fragment)) {
      const out = ts.transpileModule(s.code, { reportDiagnostics: true, compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
      for (const d of out.diagnostics ?? []) bad.push(`${s.label}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    }
    expect(bad).toEqual([]);
  });
});

describe('doc snippets run as written', () => {
  it.each(runnable.map((s) => [s.label, s] as const))('%s', async (_label, s) => {
    const r = await runSnippet(s);
    if (r.error) throw new Error(`${s.label} threw (printed: ${r.logs.join(' | ').slice(0, 400)}): ${r.error instanceof Error ? (r.error.stack ?? r.error.message) : String(r.error)}`);
    if (!s.warns) expect(r.warnings, `${s.label} warned`).toEqual([]);
    if (s.id && EXPECTED[s.id]) EXPECTED[s.id](r);
  });
});

describe('the printed-value checks reject wrong answers (planted bugs)', () => {
  it('a Beta(1, 1) prior in the coin example fails its mean and log Z check', async () => {
    const s = byId('readme-coin');
    const wrong = { ...s, code: s.code.replace("Beta(2, 2)", 'Beta(1, 1)') };
    expect(wrong.code).not.toBe(s.code);
    const r = await runSnippet(wrong);
    expect(r.error).toBeUndefined();
    expect(() => EXPECTED['readme-coin'](r)).toThrow(/p mean/);
    expect(() => checkCoin({ ...r, logs: [r.logs[0].replace(/^p\s+[\d.]+/m, 'p  0.625'), r.logs[1]] }, true)).toThrow(/log Z/);
  });

  it('an SVI fit stopped after 20 steps fails the log Z check', async () => {
    const s = byId('vi-svi');
    const wrong = { ...s, code: s.code.replace('k < 1000', 'k < 20') };
    expect(wrong.code).not.toBe(s.code);
    const r = await runSnippet(wrong);
    expect(r.error).toBeUndefined();
    expect(() => EXPECTED['vi-svi'](r)).toThrow(/IWAE bound/);
  });

  it('a sum of 7 in the dice example fails its check', async () => {
    const s = byId('enumerate-dice');
    const wrong = { ...s, code: s.code.replace('=== 8', '=== 7') };
    expect(wrong.code).not.toBe(s.code);
    const r = await runSnippet(wrong);
    expect(r.error).toBeUndefined();
    expect(() => EXPECTED['enumerate-dice'](r)).toThrow();
  });

  it('draws from another target fail the two-moons check', async () => {
    const s = byId('testing-two-moons');
    const wrong = { ...s, code: s.code.replace('const draws = t.sample(', 'const draws = banana().sample(').replace('{ twoMoons,', '{ banana, twoMoons,') };
    expect(wrong.code).toContain('banana()');
    const r = await runSnippet(wrong);
    expect(r.error).toBeUndefined();
    expect(() => EXPECTED['testing-two-moons'](r)).toThrow();
  });
});
