/**
 * Rendering Vega-Lite specifications headless: to an SVG string, to a file,
 * or inline in a tslab notebook. Rendering uses Vega's own SVG renderer in
 * Node; no browser, canvas or DOM is involved.
 *
 * Vega and Vega-Lite are loaded on first use (they are ES modules with
 * top-level await, which `require` cannot load), so importing this module
 * stays cheap and works from CommonJS hosts such as the tslab kernel.
 *
 * @module
 */
import type { TopLevelSpec } from 'vega-lite';
import { importNodeOnly } from '../backend/runtime.js';

/** A Vega-Lite specification, as every plot function in this module returns. */
export type PlotSpec = TopLevelSpec;

/** Options of {@link toSvg}. */
export interface RenderOptions {
  /** Multiply the plot's size by this factor (default 1). */
  readonly scale?: number;
}

/**
 * Render a Vega-Lite specification to an SVG document.
 *
 * ```ts
 * const svg = await toSvg(tracePlot(posterior));
 * ```
 */
export async function toSvg(spec: PlotSpec, options: RenderOptions = {}): Promise<string> {
  if (spec === null || typeof spec !== 'object') throw new TypeError('toSvg: spec must be a Vega-Lite specification object');
  const scale = options.scale ?? 1;
  if (!(scale > 0 && Number.isFinite(scale))) throw new RangeError(`toSvg: scale must be a positive number, got ${scale}`);
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG(scale);
  } finally {
    view.finalize();
  }
}

/**
 * Render a specification and write the SVG to `path` (parent folders are
 * created). Returns the SVG text.
 */
export async function saveSvg(path: string, spec: PlotSpec, options: RenderOptions = {}): Promise<string> {
  const svg = await toSvg(spec, options);
  // Node-only: held by name so browser bundles leave node:fs out (saveSvg in a browser is an error naming it)
  const { mkdir, writeFile } = await importNodeOnly<typeof import('node:fs/promises')>('node:fs/promises', 'saveSvg');
  const { dirname } = await importNodeOnly<typeof import('node:path')>('node:path', 'saveSvg');
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, svg, 'utf8');
  return svg;
}

/** The part of tslab's `display` this module uses. */
interface TslabDisplay {
  svg(s: string): void;
}

/**
 * Show a plot inline in a tslab (Jupyter) notebook, as SVG. Outside a tslab
 * kernel this throws; use {@link toSvg} or {@link saveSvg} there.
 */
export async function display(spec: PlotSpec, options: RenderOptions = {}): Promise<void> {
  const svg = await toSvg(spec, options);
  let show: TslabDisplay | undefined;
  try {
    // tslab is a CommonJS module that exists only where the kernel runs (Node); imported by a
    // name held in a string, so tsc does not need its types and no bundler (vite folds constants) follows it
    const mod = await importNodeOnly<{ display?: TslabDisplay; default?: { display?: TslabDisplay } }>('tslab', 'display');
    show = mod.display ?? mod.default?.display;
  } catch (err) {
    throw new Error(`display: tslab is not available (${err instanceof Error ? err.message : String(err)}); display works inside a tslab Jupyter kernel, use toSvg or saveSvg elsewhere`);
  }
  if (!show) throw new Error('display: the tslab module has no `display`; is this tslab 1.x?');
  show.svg(svg);
}
