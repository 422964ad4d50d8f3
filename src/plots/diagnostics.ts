/**
 * Convergence diagnostics at a glance: R-hat and effective sample size bars
 * for every quantity of an MCMC posterior.
 *
 * @module
 */
import type { Posterior } from '../infer/posterior.js';
import { selectColumns } from './data.js';
import { type PanelSize, SCHEMA, WARNING_COLOR, panelSize } from './layout.js';
import type { PlotSpec } from './render.js';

/** Options of {@link diagnosticsPlot}. */
export interface DiagnosticsPlotOptions extends PanelSize {
  /** Quantities to show (see `densityPlot`'s `sites`). Default: all. */
  readonly sites?: readonly string[];
  /** R-hat above this is flagged (default 1.01, Vehtari et al. 2021). */
  readonly rhatThreshold?: number;
  /** ESS below this is flagged (default 100 per chain). */
  readonly essThreshold?: number;
  /** Title over the whole plot. */
  readonly title?: string;
}

/**
 * Two bar charts side by side: rank-normalised split R-hat per quantity with
 * a rule at the threshold, and bulk and tail ESS per quantity with a rule at
 * the minimum recommended ESS. Bars past a threshold are drawn in red.
 */
export function diagnosticsPlot(post: Posterior, options: DiagnosticsPlotOptions = {}): PlotSpec {
  const who = 'diagnosticsPlot';
  const byChain = post.chainColumns();
  if (!byChain) throw new Error(`${who}: R-hat and ESS need MCMC chains; this ${post.method} posterior has none`);
  const names = selectColumns(post, options.sites, who);
  const nChains = byChain.values().next().value?.length ?? 1;
  const rhatLimit = options.rhatThreshold ?? 1.01;
  const essLimit = options.essThreshold ?? 100 * nChains;
  if (!(rhatLimit > 1)) throw new RangeError(`${who}: rhatThreshold must be greater than 1, got ${rhatLimit}`);
  if (!(essLimit > 0)) throw new RangeError(`${who}: essThreshold must be positive, got ${essLimit}`);
  const rows = new Map(post.summary().rows.map((r) => [r.name, r]));
  const rhat: object[] = [];
  const ess: object[] = [];
  for (const n of names) {
    const r = rows.get(n);
    if (!r) continue;
    const rh = Number(r.r_hat);
    rhat.push({ site: n, r_hat: rh, bad: !(rh <= rhatLimit) });
    for (const kind of ['ess_bulk', 'ess_tail'] as const) {
      const e = Number(r[kind]);
      ess.push({ site: n, kind: kind === 'ess_bulk' ? 'bulk' : 'tail', ess: e, bad: !(e >= essLimit) });
    }
  }
  const barHeight = Math.max(14, 18 * names.length);
  const { width } = panelSize(options, 260, barHeight, who);
  const height = options.height ?? barHeight;
  const flagColor = { field: 'bad', type: 'nominal', scale: { domain: [false, true], range: ['#4c78a8', WARNING_COLOR] }, legend: null };
  const siteAxis = { field: 'site', type: 'nominal', title: null, sort: names };
  return {
    $schema: SCHEMA,
    title: options.title ?? `${post.method}: convergence diagnostics`,
    hconcat: [
      {
        width,
        height,
        data: { values: rhat },
        title: 'split R-hat',
        layer: [
          // bars grow from 1 (perfect mixing), not from 0
          { mark: 'bar', encoding: { y: siteAxis, x: { field: 'r_hat', type: 'quantitative', title: 'R-hat', scale: { zero: false } }, x2: { datum: 1 }, color: flagColor } },
          { mark: { type: 'rule', color: WARNING_COLOR, strokeDash: [4, 3] }, encoding: { x: { datum: rhatLimit } } },
        ],
      },
      {
        width,
        height,
        data: { values: ess },
        title: 'effective sample size',
        layer: [
          {
            mark: 'bar',
            encoding: {
              y: siteAxis,
              yOffset: { field: 'kind', type: 'nominal' },
              x: { field: 'ess', type: 'quantitative', title: 'ESS (bulk, tail)' },
              color: flagColor,
              opacity: { field: 'kind', type: 'ordinal', sort: ['bulk', 'tail'], scale: { domain: ['bulk', 'tail'], range: [1, 0.55] }, title: 'ESS' },
            },
          },
          { mark: { type: 'rule', color: WARNING_COLOR, strokeDash: [4, 3] }, encoding: { x: { datum: essLimit } } },
        ],
      },
    ],
  } as unknown as PlotSpec;
}
