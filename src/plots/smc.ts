/**
 * Plots of sequential Monte Carlo runs: ESS and log Z over the steps, and
 * the particle population of a state-space filter over time.
 *
 * @module
 */
import { Posterior } from '../infer/posterior.js';
import type { FilterResult, ParticleHistory } from '../infer/smc/statespace.js';
import { Rng } from '../core/rng.js';
import { type PanelSize, SCHEMA, type SpecObject, WARNING_COLOR, panelSize, positiveInt } from './layout.js';
import type { PlotSpec } from './render.js';

/** Per-step histories of an SMC run, as engines record them in `posterior.diagnostics`. */
export interface SMCHistory {
  /** ESS after each step. */
  readonly essHistory: readonly number[];
  /** Running log Z estimate after each step. */
  readonly logZHistory?: readonly number[];
  /** Temperatures of a tempered run. */
  readonly betas?: readonly number[];
  /** Steps before which the particles were resampled. */
  readonly resampledAt?: readonly number[];
  /** Number of particles (for the ESS scale and the resampling threshold). */
  readonly particles?: number;
}

/** Options of {@link smcPlot}. */
export interface SMCPlotOptions extends PanelSize {
  /** Title over the whole plot. */
  readonly title?: string;
}

function numberArray(v: unknown): number[] | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === 'number') ? (v as number[]) : undefined;
}

function historyOf(source: Posterior | SMCHistory | FilterResult, who: string): SMCHistory {
  if (source instanceof Posterior) {
    const d = source.diagnostics;
    const essHistory = numberArray(d.essHistory);
    if (!essHistory) throw new Error(`${who}: this ${source.method} posterior has no essHistory in its diagnostics; SMC engines (smc, tempered) record one`);
    return { essHistory, logZHistory: numberArray(d.logZHistory), betas: numberArray(d.betas), resampledAt: numberArray(d.resampledAt), particles: source.size };
  }
  const h = source as SMCHistory & { weights?: Float64Array };
  if (!Array.isArray(h.essHistory)) throw new TypeError(`${who}: expected a Posterior, a particle filter result or { essHistory, logZHistory? }`);
  return { ...h, particles: h.particles ?? h.weights?.length };
}

function stepPanel(values: object[], field: string, title: string, size: { width: number; height: number }, extra: SpecObject[] = []): SpecObject {
  return {
    ...size,
    title,
    data: { values },
    layer: [
      {
        mark: { type: 'line', point: { size: 14 }, strokeWidth: 1.5 },
        encoding: { x: { field: 'step', type: 'quantitative', title: 'step' }, y: { field, type: 'quantitative', title, scale: { zero: false } } },
      },
      ...extra,
    ],
  };
}

/**
 * The diagnostics of an SMC run over its steps: effective sample size (with
 * the steps where it resampled marked), the running log marginal likelihood
 * estimate, and the temperature schedule of a tempered run — whichever of
 * these the run recorded. Accepts an SMC or tempered `Posterior`, a
 * `particleFilter` result, or the histories themselves.
 */
export function smcPlot(source: Posterior | SMCHistory | FilterResult, options: SMCPlotOptions = {}): PlotSpec {
  const who = 'smcPlot';
  const h = historyOf(source, who);
  const size = panelSize(options, 420, 120, who);
  const rows = (v: readonly number[], field: string) => v.map((x, step) => ({ step, [field]: Number.isFinite(x) ? x : null }));
  const resampled = new Set(h.resampledAt ?? []);
  const essRows = h.essHistory.map((ess, step) => ({ step, ess, resampled: resampled.has(step + 1) }));
  const essExtra: SpecObject[] = [];
  if (h.resampledAt && h.resampledAt.length > 0) {
    essExtra.push({
      transform: [{ filter: 'datum.resampled' }],
      mark: { type: 'point', shape: 'triangle-down', color: WARNING_COLOR, filled: true, size: 40 },
      encoding: { x: { field: 'step', type: 'quantitative' }, y: { field: 'ess', type: 'quantitative' } },
    });
  }
  if (h.particles) essExtra.push({ mark: { type: 'rule', strokeDash: [4, 3], color: '#888' }, encoding: { y: { datum: h.particles } } });
  const panels: SpecObject[] = [stepPanel(essRows, 'ess', 'effective sample size', size, essExtra)];
  if (h.logZHistory && h.logZHistory.length > 0) panels.push(stepPanel(rows(h.logZHistory, 'logZ'), 'logZ', 'log Z estimate', size));
  if (h.betas && h.betas.length > 0) panels.push(stepPanel(rows(h.betas, 'beta'), 'beta', 'temperature', size));
  return { $schema: SCHEMA, ...(options.title ? { title: options.title } : {}), vconcat: panels } as unknown as PlotSpec;
}

/** Options of {@link particlePlot}. */
export interface ParticlePlotOptions extends PanelSize {
  /** Which state dimension to show, for multivariate states (default 0). */
  readonly dimension?: number;
  /** Particles drawn per step, resampled by weight (default 50). */
  readonly maxParticles?: number;
  /** Observations y_t to overlay. */
  readonly observations?: readonly number[];
  /** True states x_t to overlay (for simulated data). */
  readonly truth?: readonly number[];
  /** Seed of the per-step resampling (default 0). */
  readonly seed?: number | string;
  /** Title over the plot. */
  readonly title?: string;
}

/**
 * The particle population over time: at each step, up to `maxParticles`
 * particles drawn by weight as translucent dots, the weighted filtering mean
 * as a line, and optionally the observations and the true states. Needs a
 * `particleFilter` run with `keepParticles: true` (or its `history`).
 */
export function particlePlot(source: FilterResult | ParticleHistory, options: ParticlePlotOptions = {}): PlotSpec {
  const who = 'particlePlot';
  const history = 'values' in source && 'logWeights' in source && Array.isArray(source.values) ? (source as ParticleHistory) : (source as FilterResult).history;
  if (!history) throw new Error(`${who}: the filter did not record its particles; run particleFilter with keepParticles: true`);
  const d = history.eventShape.reduce((a, b) => a * b, 1);
  const dim = options.dimension ?? 0;
  if (!(Number.isInteger(dim) && dim >= 0 && dim < d)) throw new RangeError(`${who}: dimension must be an integer in [0, ${d}), got ${String(options.dimension)}`);
  const maxParticles = positiveInt(options.maxParticles, 50, who, 'maxParticles');
  const size = panelSize(options, 520, 220, who);
  const rng = new Rng(options.seed ?? 0);
  const particles: object[] = [];
  const lines: object[] = [];
  history.values.forEach((vals, t) => {
    const w = Float64Array.from(history.logWeights[t], Math.exp);
    let total = 0;
    let mean = 0;
    for (let i = 0; i < w.length; i++) {
      total += w[i];
      mean += w[i] * vals[i * d + dim];
    }
    lines.push({ step: t, value: mean / total, series: 'filtering mean' });
    const m = Math.min(maxParticles, history.particles);
    for (let k = 0; k < m; k++) {
      // systematic resampling by weight: an even, representative subset
      const u = ((k + rng.uniform()) / m) * total;
      let acc = 0;
      let i = 0;
      while (i < w.length - 1 && acc + w[i] < u) acc += w[i++];
      particles.push({ step: t, value: vals[i * d + dim] });
    }
  });
  const overlay = (values: readonly number[] | undefined, series: string) => (values ?? []).forEach((v, step) => lines.push({ step, value: v, series }));
  overlay(options.observations, 'observation');
  overlay(options.truth, 'true state');
  const styles: [string, string, number[]][] = [
    ['filtering mean', '#f58518', [1, 0]],
    ['observation', '#54a24b', [2, 2]],
    ['true state', '#222222', [6, 3]],
  ];
  const shown = styles.filter(([name]) => name === 'filtering mean' || (name === 'observation' ? options.observations : options.truth) !== undefined);
  const domain = shown.map((s) => s[0]);
  return {
    $schema: SCHEMA,
    ...size,
    title: options.title ?? `particles over time (${history.particles} particles, dimension ${dim})`,
    layer: [
      {
        data: { values: particles },
        mark: { type: 'circle', size: 6, opacity: 0.25, color: '#4c78a8' },
        encoding: { x: { field: 'step', type: 'quantitative', title: 'time step' }, y: { field: 'value', type: 'quantitative', title: 'state', scale: { zero: false } } },
      },
      {
        data: { values: lines },
        mark: { type: 'line', point: { size: 12 }, strokeWidth: 1.5 },
        encoding: {
          x: { field: 'step', type: 'quantitative' },
          y: { field: 'value', type: 'quantitative' },
          color: { field: 'series', type: 'nominal', title: null, scale: { domain, range: shown.map((s) => s[1]) } },
          strokeDash: { field: 'series', type: 'nominal', title: null, scale: { domain, range: shown.map((s) => s[2]) } },
        },
      },
    ],
  } as unknown as PlotSpec;
}
