/**
 * The correctness matrix: runs every engine on every check model through
 * tyche/testing (SBC, TARP, the enumeration oracle, log Z unbiasedness),
 * adds the bidirectional log Z bounds of the particle engine on a
 * linear-Gaussian model and the finite-difference check of the bijectors'
 * log-Jacobians, and writes docs/correctness-matrix.md. The file is generated: do not edit
 * it by hand, re-run this script.
 *
 *   npx tsx scripts/correctness-matrix.ts [--out docs/correctness-matrix.md]
 *     [--engines nuts-default,nuts-lowrank] [--models normal-normal,regression]
 *
 * With `--engines` or `--models` only those cells run, and they are merged
 * into the existing file (rows of other cells, the log Z bounds and the
 * Jacobian sections are kept as they were); the `run` column says which run
 * produced each row.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
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
  /** Which execution path ran on the model's fixed data, in words. */
  readonly path: string;
  /** When the run that produced this row started (UTC, minutes). */
  readonly run: string;
}

/** The execution path of a posterior, in words, from the diagnostics engines report. */
function describePath(diagnostics: Readonly<Record<string, unknown>>): string {
  const d = diagnostics;
  const words: string[] = [];
  if (d['vectorized'] !== undefined) words.push(d['vectorized'] === true ? 'vectorized' : 'not vectorized');
  if (d['compiled'] !== undefined) words.push(d['compiled'] === true ? 'compiled' : 'not compiled');
  if (Array.isArray(d['metric'])) words.push(`metric ${[...new Set(d['metric'] as string[])].join('/')}`);
  if (typeof d['init'] === 'string') words.push(`init ${(d['init'] as string).split(/[ (]/)[0]}`);
  if (typeof d['execution'] === 'string') words.push(`execution ${d['execution'] as string}`);
  if (typeof d['runtime'] === 'string') words.push(`runtime ${d['runtime'] as string}`);
  if (typeof d['weights'] === 'string') words.push(`weights ${d['weights'] as string}`);
  return words.join(', ') || '—';
}

/** Run the engine once on the model's fixed data and say which path ran; fails when the row's declared path did not. */
async function pathCheck(m: CheckModel, e: CheckEngine): Promise<{ text: string; failed: boolean }> {
  if (typeof e.spec === 'function') return { text: '—', failed: false };
  const post = await infer(m.fixed.model, { ...(e.spec as CommonOptions & Readonly<Record<string, unknown>>), seed: 1 }, ...(m.fixed.args as never[]));
  const text = describePath(post.diagnostics as Readonly<Record<string, unknown>>);
  post.dispose();
  const expected = e.path && !e.pathExempt?.(m);
  const ok = !expected || (e.path as RegExp).test(text);
  return { text: ok ? text : `**FAIL** (${text}; expected ${String(e.path)})`, failed: !ok };
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
      if (m.discrete || m.mixed) return;
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
  if (!m.discrete && !m.mixed) {
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

/** The value of a `--name a,b` option as a list, or undefined. */
function listOption(name: string): string[] | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1]!.split(',').map((x) => x.trim()).filter(Boolean) : undefined;
}

const TABLE_HEADER = '| model | engine | SBC | TARP | exact oracle | log Z | path | time | run |';

/** Split a Markdown table row into its cells (a `\|` inside a cell is not a separator). */
const splitRow = (line: string): string[] => line.trim().replace(/^\||\|$/g, '').split(/(?<!\\)\|/).map((c) => c.trim());

/** The cells of an existing matrix file, by `model/engine`, and its extra sections (to keep on a partial run). */
function readExisting(path: string): { rows: Map<string, Cell>; extras: string[] | undefined; commands: Map<string, string> } {
  const rows = new Map<string, Cell>();
  if (!existsSync(path)) return { rows, extras: undefined, commands: new Map() };
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  const stamp = /Generated by .*?\((\d{4}-\d\d-\d\dT\d\d:\d\d)/.exec(text)?.[1]?.replace('T', ' ') ?? 'earlier run';
  const h = lines.findIndex((l) => l.startsWith('| model | engine |'));
  if (h >= 0) {
    const header = splitRow(lines[h]!);
    for (let k = h + 2; k < lines.length && lines[k]!.startsWith('|'); k++) {
      const c = splitRow(lines[k]!);
      const get = (name: string) => c[header.indexOf(name)] ?? '—';
      const cell = { model: get('model'), engine: get('engine'), sbc: get('SBC'), tarp: get('TARP'), oracle: get('exact oracle'), logZ: get('log Z'), path: header.includes('path') ? get('path') : '—', seconds: Number.parseFloat(get('time')), run: header.includes('run') ? get('run') : stamp };
      rows.set(`${cell.model}/${cell.engine}`, { ...cell, failed: [cell.sbc, cell.tarp, cell.oracle, cell.logZ, cell.path].some((x) => /\*\*(FAIL|ERROR)\*\*/.test(x)) });
    }
  }
  const b = lines.indexOf('## Bidirectional log Z bounds');
  const k = lines.indexOf('## Known issues');
  const extras = b >= 0 ? lines.slice(b, k >= 0 ? k - 1 : undefined) : undefined;
  // the command of each earlier run, by its stamp (a file from before this section: one full run)
  const commands = new Map<string, string>();
  for (const l of lines) {
    const r = /^- run (\d{4}-\d\d-\d\d \d\d:\d\d): `(.*)`$/.exec(l);
    if (r) commands.set(r[1]!, r[2]!);
  }
  if (commands.size === 0 && stamp !== 'earlier run') commands.set(stamp, COMMAND);
  return { rows, extras, commands };
}

async function main(): Promise<void> {
  const outIndex = process.argv.indexOf('--out');
  const out = outIndex > 0 ? process.argv[outIndex + 1]! : 'docs/correctness-matrix.md';
  const onlyEngines = listOption('--engines');
  const onlyModels = listOption('--models');
  for (const [list, known, what] of [[onlyEngines, checkEngines.map((e) => e.name), 'engine'], [onlyModels, checkModels.map((m) => m.name), 'model']] as const) {
    const unknown = list?.filter((x) => !known.includes(x)) ?? [];
    if (unknown.length > 0) throw new Error(`correctness-matrix: unknown ${what} ${unknown.join(', ')}; known: ${known.join(', ')}`);
  }
  const partial = onlyEngines !== undefined || onlyModels !== undefined;
  const existing = partial ? readExisting(out) : { rows: new Map<string, Cell>(), extras: undefined, commands: new Map<string, string>() };
  const command = [COMMAND, ...process.argv.slice(2).filter((a, i, all) => a !== '--out' && all[i - 1] !== '--out')].join(' ');
  const backend = await initBackend('cpu');
  const runStamp = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const fresh = new Map<string, Cell>();
  const t0 = performance.now();
  for (const m of checkModels) {
    if (onlyModels && !onlyModels.includes(m.name)) continue;
    for (const e of checkEngines) {
      if (!e.applies(m) || (onlyEngines && !onlyEngines.includes(e.name))) continue;
      const t = performance.now();
      const cal = await guarded(() => calibration(m, e), (text) => ({ sbc: text, tarp: m.discrete || m.mixed ? '—' : text, failed: true }));
      const orc = await guarded(() => oracle(m, e), (text) => ({ text, failed: true }));
      const lz = await guarded(() => logZCheck(m, e), (text) => ({ text, failed: true }));
      const pth = await guarded(() => pathCheck(m, e), (text) => ({ text, failed: true }));
      const seconds = (performance.now() - t) / 1000;
      const known = m.knownIssues?.[e.name];
      const cell: Cell = { model: m.name, engine: e.name, sbc: cal.sbc, tarp: cal.tarp, oracle: orc.text, logZ: lz.text, path: pth.text, seconds, run: runStamp, failed: cal.failed || orc.failed || lz.failed || pth.failed, note: known?.note };
      fresh.set(`${m.name}/${e.name}`, cell);
      console.log(`${m.name} / ${e.name}: ${cell.failed ? 'FAIL' : 'pass'} (${seconds.toFixed(1)} s) ${cell.sbc} ${cell.tarp} ${cell.logZ} ${cell.path}`);
    }
  }
  // every applicable cell, in matrix order: this run's, else the existing file's
  const cells: Cell[] = [];
  for (const m of checkModels) {
    for (const e of checkEngines) {
      if (!e.applies(m)) continue;
      const key = `${m.name}/${e.name}`;
      const c = fresh.get(key) ?? existing.rows.get(key);
      if (c) cells.push({ ...c, note: m.knownIssues?.[e.name]?.note });
    }
  }
  let extraLines: string[];
  if (partial && existing.extras) {
    extraLines = existing.extras;
  } else {
    const bounds = await guarded(boundsSection, (text) => ({ lines: ['## Bidirectional log Z bounds', '', text, ''], failed: true }));
    const jacobians = await guarded(async () => jacobianSection(), (text) => ({ lines: ['## Bijector log-Jacobians', '', text, ''], failed: true }));
    console.log(`log Z bounds: ${bounds.failed ? 'FAIL' : 'pass'}; bijector log-Jacobians: ${jacobians.failed ? 'FAIL' : 'pass'}`);
    extraLines = [...bounds.lines, ...jacobians.lines];
  }
  const total = (performance.now() - t0) / 1000;
  const runs = [...new Set(cells.map((c) => c.run))].sort();
  const commands = new Map([...existing.commands, [runStamp, command]]);
  const engineLine = (e: CheckEngine) => `- **${e.name}**: \`${JSON.stringify(e.spec)}\`, ${e.simulations} SBC simulations${e.path ? `; path must match \`${String(e.path)}\`` : ''}`;
  const lines = [
    '# Correctness matrix',
    '',
    `Generated by \`${command}\` on ${runStamp.slice(0, 10)} (${new Date().toISOString()}), backend \`${backend.name}\`, Node ${process.version}, in ${total.toFixed(0)} s${partial ? ', merged into the rows of earlier runs' : ''}. Do not edit by hand: re-run the script. Rows by run (the \`run\` column): ${runs.map((r) => `${r}: ${cells.filter((c) => c.run === r).length} rows`).join('; ')}.`,
    '',
    'Checks (all from `tyche/testing`, fixed seeds):',
    '',
    `- **SBC**: simulation-based calibration, ranks of every latent scalar and of the log-likelihood among ${DRAWS} roughly independent posterior draws (weighted output resampled, MCMC thinned by ESS); chi-square and simultaneous ECDF-band tests, family-wise alpha ${ALPHA} (Bonferroni).`,
    `- **TARP**: expected coverage from the same draws (continuous models), max |ECP(α) − α| against its null distribution at level ${ALPHA}.`,
    '- **exact oracle**: total variation between the engine\'s marginals and exact enumeration, per site and for the return value, tolerance ½·4·Σ sqrt(p(1−p)/n_eff) (discrete models).',
    `- **log Z**: unbiasedness of Ẑ over ${LOGZ_RUNS} seeds, z-test at level ${ALPHA}, against the exact log Z (conjugate formulas or enumeration).`,
    '- **path**: which execution path ran on the model\'s fixed data (from `diagnostics`: vectorised chains, compiled density, metric, init, batched or per-particle program SMC and its runtime, float64 weights); a row that declares the path it covers fails when another one ran.',
    '',
    'A correct engine fails a given check with probability about 1% by design; a FAIL is a lead to investigate, re-run with more simulations before concluding.',
    '',
    TABLE_HEADER,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...cells.map((c) => `| ${c.model} | ${c.engine} | ${c.sbc} | ${c.tarp} | ${c.oracle} | ${c.logZ} | ${c.path} | ${Number.isFinite(c.seconds) ? c.seconds.toFixed(1) : '?'} s | ${c.run} |`),
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
    '## Runs',
    '',
    'The command of each run that made rows of this file (the `run` column):',
    '',
    ...runs.map((r) => `- run ${r}: \`${commands.get(r) ?? 'unknown'}\``),
    '',
    ...extraLines,
    ...(cells.some((c) => c.note) ? ['', '## Known issues', '', 'Investigated separately and recorded in `test/testing/check-models.ts` (the slow tier runs these cells with the settings that pass, or skips them):', '', ...cells.filter((c) => c.note).map((c) => `- **${c.model} / ${c.engine}**: ${c.note}.`)] : []),
    '',
  ];
  writeFileSync(out, lines.join('\n'));
  console.log(`wrote ${out} (${total.toFixed(0)} s)`);
}

await main();
