/**
 * Plots of posteriors and inference runs as Vega-Lite specifications,
 * rendered headless to SVG (`toSvg`, `saveSvg`) or inline in a tslab
 * notebook (`display`).
 *
 * ```ts
 * import { tracePlot, saveSvg } from 'tyche/plots';
 * await saveSvg('trace.svg', tracePlot(posterior, { sites: ['mu', 'tau'] }));
 * ```
 *
 * @module
 */
export { toSvg, saveSvg, display, type PlotSpec, type RenderOptions } from './render.js';
export { densityPlot, tracePlot, pairPlot, type DensityPlotOptions, type TracePlotOptions, type PairPlotOptions } from './posterior.js';
export { diagnosticsPlot, type DiagnosticsPlotOptions } from './diagnostics.js';
export { smcPlot, particlePlot, type SMCHistory, type SMCPlotOptions, type ParticlePlotOptions } from './smc.js';
export { drawRows, selectColumns, type DrawRow } from './data.js';
export type { PanelSize } from './layout.js';
export { particleScatterPlot, imageGridPlot, type ParticleFrame, type ParticleScatterOptions, type ImageGridPlotOptions } from './diffusion.js';
