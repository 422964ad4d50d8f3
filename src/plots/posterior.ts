/**
 * Plots of posterior draws: marginal densities, trace plots and pair plots,
 * as Vega-Lite specifications (render them with `toSvg`, `saveSvg` or
 * `display`).
 *
 * @module
 */
import type { Posterior } from '../infer/posterior.js';
import { divergentFlags, drawRows, equallyWeighted, representativeDraws, selectColumns } from './data.js';
import { CHAIN_COLOR, type PanelSize, SCHEMA, type SpecObject, WARNING_COLOR, histogramEncoding, panelSize, positiveInt, siteFilter, weightedHistogram } from './layout.js';
import type { PlotSpec } from './render.js';

/** Options of {@link densityPlot}. */
export interface DensityPlotOptions extends PanelSize {
  /** Quantities to plot: names such as `mu` or `theta[0]`, or whole sites (`theta`). Default: all. */
  readonly sites?: readonly string[];
  /**
   * `'histogram'`: weighted histogram of all draws; `'density'`: kernel
   * density per chain (equally weighted draws only); `'auto'` (default):
   * density for MCMC output, histogram otherwise.
   */
  readonly kind?: 'auto' | 'histogram' | 'density';
  /** Maximum number of histogram bins (default 30). */
  readonly bins?: number;
  /** Panels per row (default 3). */
  readonly columns?: number;
  /** Title over the whole plot. */
  readonly title?: string;
}

function densityPanel(site: string, kind: 'histogram' | 'density', bins: number, size: { width: number; height: number }): SpecObject {
  if (kind === 'histogram') {
    return {
      ...size,
      title: site,
      transform: [siteFilter(site), ...weightedHistogram('value', bins, 'weight')],
      mark: { type: 'bar', color: '#4c78a8', opacity: 0.85, binSpacing: 0 },
      encoding: histogramEncoding(site),
    };
  }
  return {
    ...size,
    title: site,
    transform: [siteFilter(site), { density: 'value', groupby: ['chain'], as: ['value', 'density'] }],
    mark: { type: 'line', strokeWidth: 1.5 },
    encoding: {
      x: { field: 'value', type: 'quantitative', title: site },
      y: { field: 'density', type: 'quantitative', title: 'density' },
      color: CHAIN_COLOR,
    },
  };
}

function resolveKind(post: Posterior, kind: DensityPlotOptions['kind'], who: string): 'histogram' | 'density' {
  const k = kind ?? 'auto';
  if (k !== 'auto' && k !== 'histogram' && k !== 'density') throw new Error(`${who}: kind must be 'auto', 'histogram' or 'density', got ${String(kind)}`);
  const equal = equallyWeighted(post);
  if (k === 'density' && !equal) throw new Error(`${who}: kind 'density' needs equally weighted draws (MCMC); this ${post.method} posterior is weighted, use kind 'histogram'`);
  if (k === 'auto') return equal && post.draws.every((d) => d.chain !== undefined) ? 'density' : 'histogram';
  return k;
}

/**
 * Marginal posterior density of each scalar quantity, one panel each:
 * kernel density estimates per chain for MCMC, weighted histograms for
 * weighted draws (importance sampling, SMC, enumeration).
 */
export function densityPlot(post: Posterior, options: DensityPlotOptions = {}): PlotSpec {
  const who = 'densityPlot';
  const names = selectColumns(post, options.sites, who);
  const kind = resolveKind(post, options.kind, who);
  const bins = positiveInt(options.bins, 30, who, 'bins');
  const columns = positiveInt(options.columns, 3, who, 'columns');
  const size = panelSize(options, 200, 130, who);
  return {
    $schema: SCHEMA,
    ...(options.title ? { title: options.title } : {}),
    data: { values: drawRows(post, names) },
    columns,
    concat: names.map((n) => densityPanel(n, kind, bins, size)),
  } as unknown as PlotSpec;
}

/** Options of {@link tracePlot}. */
export interface TracePlotOptions extends PanelSize {
  /** Quantities to plot (see {@link DensityPlotOptions.sites}). Default: all. */
  readonly sites?: readonly string[];
  /** Title over the whole plot. */
  readonly title?: string;
}

/**
 * ArviZ-style trace plot: for each quantity a row with the per-chain
 * densities on the left and the draws against iteration, one line per
 * chain, on the right. Divergent transitions (NUTS/HMC) are marked in red.
 */
export function tracePlot(post: Posterior, options: TracePlotOptions = {}): PlotSpec {
  const who = 'tracePlot';
  if (post.draws.length === 0 || post.draws.some((d) => d.chain === undefined) || !equallyWeighted(post)) {
    throw new Error(`${who}: trace plots need MCMC chains (equally weighted draws with a chain index); this ${post.method} posterior has none, try densityPlot`);
  }
  const names = selectColumns(post, options.sites, who);
  const size = panelSize(options, 380, 110, who);
  const flags = divergentFlags(post);
  const rows = drawRows(post, names);
  const anyDivergent = flags !== undefined && flags.some((f) => f === 1);
  const values = flags && anyDivergent ? rows.map((r) => ({ ...r, divergent: flags[r.draw] === 1 })) : rows;
  const rowSpec = (site: string): SpecObject => {
    const trace: SpecObject = {
      mark: { type: 'line', strokeWidth: 0.7, opacity: 0.8 },
      encoding: {
        x: { field: 'iteration', type: 'quantitative', title: 'iteration' },
        y: { field: 'value', type: 'quantitative', title: site, scale: { zero: false } },
        color: CHAIN_COLOR,
      },
    };
    const divergences: SpecObject = {
      transform: [{ filter: 'datum.divergent' }],
      mark: { type: 'tick', color: WARNING_COLOR, thickness: 1.5 },
      encoding: { x: { field: 'iteration', type: 'quantitative' }, y: { field: 'value', type: 'quantitative' } },
    };
    return {
      hconcat: [
        densityPanel(site, 'density', 0, { width: Math.round(size.height * 1.6), height: size.height }),
        { ...size, title: `${site} trace`, transform: [siteFilter(site)], layer: anyDivergent ? [trace, divergences] : [trace] },
      ],
    };
  };
  return {
    $schema: SCHEMA,
    ...(options.title ? { title: options.title } : {}),
    data: { values },
    vconcat: names.map(rowSpec),
  } as unknown as PlotSpec;
}

/** Options of {@link pairPlot}. */
export interface PairPlotOptions {
  /** Quantities to plot (see {@link DensityPlotOptions.sites}). Default: the first four. */
  readonly sites?: readonly string[];
  /** At most this many draws are shown (default 500): all, thinned, or resampled by weight. */
  readonly maxPoints?: number;
  /** Side of each panel in pixels (default 120). */
  readonly size?: number;
  /** Maximum histogram bins on the diagonal (default 25). */
  readonly bins?: number;
  /** Seed of the weighted resampling (default 0). */
  readonly seed?: number | string;
  /** Title over the whole plot. */
  readonly title?: string;
}

/**
 * Pair (corner) plot: histograms on the diagonal and scatter plots of every
 * pair of quantities below it. Weighted posteriors are resampled to equal
 * weights first; divergent NUTS/HMC transitions are drawn in red.
 */
export function pairPlot(post: Posterior, options: PairPlotOptions = {}): PlotSpec {
  const who = 'pairPlot';
  const names = selectColumns(post, options.sites, who, options.sites === undefined ? 4 : Infinity);
  const maxPoints = positiveInt(options.maxPoints, 500, who, 'maxPoints');
  const side = positiveInt(options.size, 120, who, 'size');
  const bins = positiveInt(options.bins, 25, who, 'bins');
  const cols = post.scalarColumns();
  const flags = divergentFlags(post);
  // value of each quantity by draw index (NaN where the draw lacks it)
  const byDraw = names.map((n) => {
    const c = cols.get(n);
    const v = new Float64Array(post.size).fill(NaN);
    if (c) for (let i = 0; i < c.draw.length; i++) v[c.draw[i]] = c.values[i];
    return v;
  });
  // divergent draws last, so that they are drawn on top
  const shown = representativeDraws(post, maxPoints, options.seed ?? 0).sort((a, b) => (flags?.[a] ?? 0) - (flags?.[b] ?? 0));
  const values = shown.map((d) => {
    const row: Record<string, number | boolean | null> = { divergent: flags?.[d] === 1 };
    byDraw.forEach((v, k) => {
      row[`v${k}`] = Number.isFinite(v[d]) ? v[d] : null;
    });
    return row;
  });
  const panel = (i: number, j: number): SpecObject => {
    const x = `v${j}`;
    if (i === j) {
      return {
        width: side,
        height: side,
        transform: [{ filter: `isValid(datum.${x})` }, ...weightedHistogram(x, bins)],
        mark: { type: 'bar', color: '#4c78a8', binSpacing: 0 },
        encoding: histogramEncoding(names[j]),
      };
    }
    return {
      width: side,
      height: side,
      transform: [{ filter: `isValid(datum.${x}) && isValid(datum.v${i})` }],
      mark: { type: 'circle' },
      encoding: {
        size: { condition: { test: 'datum.divergent', value: 28 }, value: 8 },
        opacity: { condition: { test: 'datum.divergent', value: 0.9 }, value: 0.35 },
        x: { field: x, type: 'quantitative', title: names[j], scale: { zero: false } },
        y: { field: `v${i}`, type: 'quantitative', title: names[i], scale: { zero: false } },
        color: {
          field: 'divergent',
          type: 'nominal',
          title: 'divergent',
          scale: { domain: [false, true], range: ['#4c78a8', WARNING_COLOR] },
          legend: flags?.some((f) => f === 1) ? {} : null,
        },
      },
    };
  };
  return {
    $schema: SCHEMA,
    ...(options.title ? { title: options.title } : {}),
    data: { values },
    vconcat: names.map((_, i) => ({ hconcat: names.slice(0, i + 1).map((__, j) => panel(i, j)) })),
  } as unknown as PlotSpec;
}
