/**
 * The correctness matrix: runs every engine on every check model through
 * tyche/testing (SBC, TARP, the enumeration oracle, log Z unbiasedness),
 * adds the bidirectional log Z bounds of the particle engine on a
 * linear-Gaussian model and the finite-difference check of the bijectors'
 * log-Jacobians, and writes docs/correctness-matrix.md. The file is generated: do not edit
 * it by hand, re-run this script.
 *
 *   npx tsx scripts/correctness-matrix.ts [--out docs/correctness-matrix.md]
 */
import { writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { initBackend } from '../src/backend/select.js';
import { enumerate } from '../src/infer/enumerate.js';
import { type CommonOptions, infer } from '../src/infer/index.js';
import {
  checkLogZUnbiased,
  compareWithEnumeration,
  flattenValues,
  linearGaussianLogZBounds,
  logDetJacobianProperty,
  sbc,
  tarp,
} from '../src/testing/index.js';
import { Exp, Ordered, Sigmoid, Softplus, StickBreaking } from '../src/transforms/index.js';
import { type CheckEngine, type CheckModel, checkEngines, checkModels, linearGaussianCheck, linearGaussianData } from '../test/testing/check-models.js';

const ALPHA = 0.01;
const DRAWS = 39;
const LOGZ_RUNS = 20;
const COMMAND = 'npx tsx scripts/correctness-matrix.ts';

interface Cell {
  readonly model: string;
  readonly engine: string;
  readonly sbc: string;
  readonly tarp: string;
  readonly oracle: string;
  readonly logZ: string;
  readonly seconds: number;
  readonly failed: boolean;
  /** A known, investigated issue of this engine on this model (from check-models.ts). */
  readonly note?: string;
}

const verdict = (pass: boolean, detail: string) => `${pass ? 'pass' : '**FAIL**'} (${detail})`;

/** SBC, with TARP computed from the same posterior draws (continuous models only). */
async function calibration(m: CheckModel, e: CheckEngine): Promise<{ sbc: string; tarp: string; failed: boolean }> {
  const samples: number[][][] = [];
  const truths: number[][] = [];
  let names: string[] | undefined;
  const result = await sbc({
    simulator: m.simulator,
    engine: e.spec,
    simulations: e.simulations,
    draws: DRAWS,
    alpha: ALPHA,
    seed: 1,
    ...(m.params ? { params: m.params } : {}),
    onSimulation: (sim, _post, draws) => {
      if (m.discrete) return;
      const truth = flattenValues(sim.params);
      names ??= [...truth.keys()];
      const keys = names;
      truths.push(keys.map((k) => truth.get(k) as number));
      samples.push(draws.map((d) => {
        const f = flattenValues(d.values);
        return keys.map((k) => f.get(k) as number);
      }));
    },
  });
  const minP = Math.min(...result.quantities.map((q) => q.chiSquare.pValue));
  const sbcText = verdict(result.pass, `N=${result.simulations}, min chi² p=${minP.toExponential(1)}${result.pass ? '' : `; ${result.quantities.filter((q) => !q.pass).map((q) => `${q.name}: ${q.hint}`).join('; ')}`}`);
  let tarpText = '—';
  let tarpFailed = false;
  if (!m.discrete) {
    const t = tarp(samples, truths, { alpha: ALPHA, seed: 1 });
    tarpText = verdict(t.pass, `max dev ${t.maxDeviation.toFixed(3)} vs ${t.critical.toFixed(3)}`);
    tarpFailed = !t.pass;
  }
  return { sbc: sbcText, tarp: tarpText, failed: !result.pass || tarpFailed };
}

async function oracle(m: CheckModel, e: CheckEngine): Promise<{ text: string; failed: boolean }> {
  if (!m.discrete || e.name === 'enumerate' || typeof e.spec === 'function') return { text: '—', failed: false };
  const r = await compareWithEnumeration(m.fixed.model, m.fixed.args as never[], { ...(e.spec as Record<string, unknown>), method: (e.spec as { method: string }).method, seed: 1 });
  const worst = r.sites.reduce((a, s) => (s.tv / s.tolerance > a.tv / a.tolerance ? s : a));
  return { text: verdict(r.pass, `worst TV ${worst.tv.toFixed(3)} ≤ ${worst.tolerance.toFixed(3)} at ${worst.site}`), failed: !r.pass };
}

async function logZCheck(m: CheckModel, e: CheckEngine): Promise<{ text: string; failed: boolean }> {
  if (!e.logZ || typeof e.spec === 'function') return { text: '—', failed: false };
  const exact = m.fixed.logZ ?? (m.discrete ? (await enumerate(m.fixed.model, {}, m.fixed.args as never[])).logZ : undefined);
  if (exact === undefined) return { text: '—', failed: false };
  const spec = e.spec as CommonOptions & Readonly<Record<string, unknown>>;
  if (e.name === 'enumerate') {
    const post = await infer(m.fixed.model, spec, ...(m.fixed.args as never[]));
    const ok = Math.abs(post.logZ - exact) < 1e-9;
    return { text: verdict(ok, 'exact'), failed: !ok };
  }
  const r = await checkLogZUnbiased(m.fixed.model, m.fixed.args as never[], spec, { runs: LOGZ_RUNS, logZ: exact, seed: 100, alpha: ALPHA });
  return { text: verdict(r.pass, `mean Ẑ/Z ${r.meanRatio.toFixed(3)} ± ${r.se.toFixed(3)}, ${LOGZ_RUNS} runs`), failed: !r.pass };
}

/** Bidirectional log Z bounds (SMC below, CSMC from exact paths above) at increasing particle counts. */
async function boundsSection(): Promise<{ lines: string[]; failed: boolean }> {
  const { params, particles, runs } = linearGaussianCheck;
  const ys = linearGaussianData();
  const r = await linearGaussianLogZBounds(params, ys, { particles, runs, seed: 1, alpha: ALPHA });
  const f = (x: number) => x.toFixed(3);
  return {
    failed: !r.pass,
    lines: [
      '## Bidirectional log Z bounds',
      '',
      `Particle filter (lower bound) and conditional SMC from exact smoothing draws (upper bound) on a linear-Gaussian model (\`${JSON.stringify(params)}\`, T = ${ys.length}), ${runs} runs each per particle count; exact log Z = ${f(r.logZ as number)} (Kalman filter). The gap estimates the symmetric KL between the SMC output and the posterior.`,
      '',
      '| particles | lower ± se | upper ± se | gap (symmetric KL) | KL(fwd) ≤ | KL(rev) ≤ | consistent |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...r.levels.map((l) => `| ${l.particles} | ${f(l.lower.mean)} ± ${f(l.lower.se)} | ${f(l.upper.mean)} ± ${f(l.upper.se)} | ${f(l.gap)} ± ${f(l.gapSe)} | ${f(l.klForward as number)} | ${f(l.klReverse as number)} | ${l.consistent ? 'yes' : '**no**'} |`),
      '',
      `Gap decreases with particles: ${r.gapDecreases ? 'yes' : '**no**'}. Verdict: ${r.pass ? 'pass' : '**FAIL**'}.`,
      '',
    ],
  };
}

/** The bijectors' log-Jacobians against finite differences (a fast-check property). */
function jacobianSection(): { lines: string[]; failed: boolean } {
  const bijectors = [Exp(), Softplus(), Sigmoid(), StickBreaking(), Ordered()];
  const numRuns = 300;
  const out = fc.check(logDetJacobianProperty(bijectors), { numRuns, seed: 1 });
  return {
    failed: out.failed,
    lines: [
      '## Bijector log-Jacobians',
      '',
      `\`logDetJacobianProperty\` over ${bijectors.map((b) => b.name).join(', ')}: log|det J| against a central-difference Jacobian at ${numRuns} random inputs: ${out.failed ? `**FAIL** (${String(out.counterexample?.[0])})` : 'pass'}.`,
      '',
    ],
  };
}

/** Run a check; an exception becomes an ERROR cell with its message (the matrix reports it, not crashes). */
async function guarded<T>(run: () => Promise<T>, onError: (text: string) => T): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const message = (err instanceof Error ? err.message : String(err)).split('\n')[0].replace(/\|/g, '\\|');
    return onError(`**ERROR** (${message})`);
  }
}

async function main(): Promise<void> {
  const outIndex = process.argv.indexOf('--out');
  const out = outIndex > 0 ? process.argv[outIndex + 1] : 'docs/correctness-matrix.md';
  const backend = await initBackend('cpu');
  const cells: Cell[] = [];
  const t0 = performance.now();
  for (const m of checkModels) {
    for (const e of checkEngines) {
      if (!e.applies(m)) continue;
      const t = performance.now();
      const cal = await guarded(() => calibration(m, e), (text) => ({ sbc: text, tarp: m.discrete ? '—' : text, failed: true }));
      const orc = await guarded(() => oracle(m, e), (text) => ({ text, failed: true }));
      const lz = await guarded(() => logZCheck(m, e), (text) => ({ text, failed: true }));
      const seconds = (performance.now() - t) / 1000;
      const known = m.knownIssues?.[e.name];
      const cell: Cell = { model: m.name, engine: e.name, sbc: cal.sbc, tarp: cal.tarp, oracle: orc.text, logZ: lz.text, seconds, failed: cal.failed || orc.failed || lz.failed, note: known?.note };
      cells.push(cell);
      console.log(`${m.name} / ${e.name}: ${cell.failed ? 'FAIL' : 'pass'} (${seconds.toFixed(1)} s)`);
    }
  }
  const bounds = await guarded(boundsSection, (text) => ({ lines: ['## Bidirectional log Z bounds', '', text, ''], failed: true }));
  const jacobians = await guarded(async () => jacobianSection(), (text) => ({ lines: ['## Bijector log-Jacobians', '', text, ''], failed: true }));
  console.log(`log Z bounds: ${bounds.failed ? 'FAIL' : 'pass'}; bijector log-Jacobians: ${jacobians.failed ? 'FAIL' : 'pass'}`);
  const total = (performance.now() - t0) / 1000;
  const engineLine = (e: CheckEngine) => `- **${e.name}**: \`${JSON.stringify(e.spec)}\`, ${e.simulations} SBC simulations`;
  const lines = [
    '# Correctness matrix',
    '',
    `Generated by \`${COMMAND}\` on ${new Date().toISOString().slice(0, 10)} (${new Date().toISOString()}), backend \`${backend.name}\`, Node ${process.version}, in ${total.toFixed(0)} s. Do not edit by hand: re-run the script.`,
    '',
    'Checks (all from `tyche/testing`, fixed seeds):',
    '',
    `- **SBC**: simulation-based calibration, ranks of every latent scalar and of the log-likelihood among ${DRAWS} roughly independent posterior draws (weighted output resampled, MCMC thinned by ESS); chi-square and simultaneous ECDF-band tests, family-wise alpha ${ALPHA} (Bonferroni).`,
    `- **TARP**: expected coverage from the same draws (continuous models), max |ECP(α) − α| against its null distribution at level ${ALPHA}.`,
    '- **exact oracle**: total variation between the engine\'s marginals and exact enumeration, per site and for the return value, tolerance ½·4·Σ sqrt(p(1−p)/n_eff) (discrete models).',
    `- **log Z**: unbiasedness of Ẑ over ${LOGZ_RUNS} seeds, z-test at level ${ALPHA}, against the exact log Z (conjugate formulas or enumeration).`,
    '',
    'A correct engine fails a given check with probability about 1% by design; a FAIL is a lead to investigate, re-run with more simulations before concluding.',
    '',
    '| model | engine | SBC | TARP | exact oracle | log Z | time |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...cells.map((c) => `| ${c.model} | ${c.engine} | ${c.sbc} | ${c.tarp} | ${c.oracle} | ${c.logZ} | ${c.seconds.toFixed(1)} s |`),
    '',
    '## Models',
    '',
    ...checkModels.map((m) => `- **${m.name}**: ${m.description}${m.discrete ? ' (discrete)' : ''}`),
    '',
    '## Engine settings',
    '',
    ...checkEngines.map(engineLine),
    ...checkModels.flatMap((m) => Object.entries(m.knownIssues ?? {}).filter(([, k]) => k.passesWith).map(([name, k]) => `- ${name} on ${m.name} passes with \`${JSON.stringify(k.passesWith)}\` (slow tier)`)),
    '',
    `Summary: ${cells.filter((c) => !c.failed).length} of ${cells.length} engine/model cells pass every check.`,
    ...(cells.some((c) => c.failed) ? ['', 'Failing or erroring cells:', '', ...cells.filter((c) => c.failed).map((c) => `- ${c.model} / ${c.engine}${c.note ? ` (known issue)` : ''}`)] : []),
    '',
    ...bounds.lines,
    ...jacobians.lines,
    ...(cells.some((c) => c.note) ? ['', '## Known issues', '', 'Investigated separately and recorded in `test/testing/check-models.ts` (the slow tier runs these cells with the settings that pass, or skips them):', '', ...cells.filter((c) => c.note).map((c) => `- **${c.model} / ${c.engine}**: ${c.note}.`)] : []),
    '',
  ];
  writeFileSync(out, lines.join('\n'));
  console.log(`wrote ${out} (${total.toFixed(0)} s)`);
}

await main();
