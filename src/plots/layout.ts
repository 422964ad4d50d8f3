/**
 * Building blocks shared by the plot functions: sizes, colours and the
 * validation of their options.
 *
 * @module
 */

/** Width and height of one panel, in pixels. */
export interface PanelSize {
  /** Panel width in pixels. */
  readonly width?: number;
  /** Panel height in pixels. */
  readonly height?: number;
}

/** A loosely typed Vega-Lite (sub)specification under construction. */
export type SpecObject = Record<string, unknown>;

/** The Vega-Lite schema URL every top-level plot carries. */
export const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** Colour encoding by chain. */
export const CHAIN_COLOR = { field: 'chain', type: 'nominal', title: 'chain' } as const;

/** Colour of divergent transitions and threshold rules. */
export const WARNING_COLOR = '#d62728';

/** A positive integer option, or its default; otherwise a clear error. */
export function positiveInt(value: number | undefined, fallback: number, who: string, what: string): number {
  const v = value ?? fallback;
  if (!(Number.isInteger(v) && v > 0)) throw new RangeError(`${who}: ${what} must be a positive integer, got ${String(value)}`);
  return v;
}

/** Panel width and height from the options, with defaults. */
export function panelSize(options: PanelSize, width: number, height: number, who: string): { width: number; height: number } {
  return { width: positiveInt(options.width, width, who, 'width'), height: positiveInt(options.height, height, who, 'height') };
}

/** Keep the filter of one scalar quantity (long-format rows). */
export function siteFilter(site: string): SpecObject {
  return { filter: { field: 'site', equal: site } };
}

/** Transforms that turn weighted draws of one quantity into a density-scaled histogram (`lo`, `hi`, `density`). */
export function weightedHistogram(field: string, bins: number, weight?: string): SpecObject[] {
  return [
    { bin: { maxbins: bins }, field, as: ['lo', 'hi'] },
    weight === undefined ? { aggregate: [{ op: 'count', as: 'mass' }], groupby: ['lo', 'hi'] } : { aggregate: [{ op: 'sum', field: weight, as: 'mass' }], groupby: ['lo', 'hi'] },
    { joinaggregate: [{ op: 'sum', field: 'mass', as: 'total' }] },
    { calculate: 'datum.total > 0 && datum.hi > datum.lo ? datum.mass / datum.total / (datum.hi - datum.lo) : 0', as: 'density' },
  ];
}

/** Bar encoding of {@link weightedHistogram}'s output. */
export function histogramEncoding(title: string): SpecObject {
  return {
    x: { field: 'lo', type: 'quantitative', bin: { binned: true }, title },
    x2: { field: 'hi' },
    y: { field: 'density', type: 'quantitative', title: 'density' },
  };
}
