/**
 * Pictures of diffusion and flow sampling as Vega-Lite specifications: the
 * particles of a 2-D model over time (one scatter panel per kept step,
 * optionally coloured by weight or group), and grids of image samples (one
 * heatmap per image). Render them with `toSvg`/`saveSvg` or inline in tslab
 * with `display`; for PNG on the command line see `io/png`.
 *
 * @module
 */
import { type PanelSize, SCHEMA, panelSize, positiveInt } from './layout.js';
import type { PlotSpec } from './render.js';

/** One panel of {@link particleScatterPlot}: 2-D points `[x0, y0, x1, y1, ...]` at time t. */
export interface ParticleFrame {
  readonly t: number;
  readonly points: ArrayLike<number>;
  /** Optional weight of each point (shown as opacity, normalised to the largest). */
  readonly weights?: ArrayLike<number>;
  /** Optional group (e.g. class) of each point, shown as colour. */
  readonly groups?: ArrayLike<number>;
}

/** Options of {@link particleScatterPlot}. */
export interface ParticleScatterOptions extends PanelSize {
  /** Panels per row (default 5). */
  readonly columns?: number;
  /** Axis box [xmin, xmax, ymin, ymax] shared by the panels (default [-3, 3, -3, 3]). */
  readonly box?: readonly [number, number, number, number];
  /** At most this many points per panel (default 1000; the first ones). */
  readonly maxPoints?: number;
  /** Title over the plot. */
  readonly title?: string;
}

/**
 * The particles of a 2-D diffusion/flow model over time: a small-multiple
 * scatter, one panel per frame, titled by its time t. Accepts the
 * `trajectory` of `sampleDiffusion` (`{ t, x }` with x row-major `[N, 2]`).
 */
export function particleScatterPlot(frames: readonly (ParticleFrame | { t: number; x: ArrayLike<number> })[], options: ParticleScatterOptions = {}): PlotSpec {
  const who = 'particleScatterPlot';
  if (!Array.isArray(frames) || frames.length === 0) throw new Error(`${who}: need at least one frame`);
  const columns = positiveInt(options.columns, 5, who, 'columns');
  const maxPoints = positiveInt(options.maxPoints, 1000, who, 'maxPoints');
  const size = panelSize(options, 150, 150, who);
  const [x0, x1, y0, y1] = options.box ?? [-3, 3, -3, 3];
  const values: object[] = [];
  let grouped = false;
  let weighted = false;
  frames.forEach((f, k) => {
    const pts = 'points' in f ? f.points : f.x;
    if (pts.length % 2 !== 0) throw new Error(`${who}: frame ${k} has ${pts.length} numbers; expected [N, 2] points`);
    const n = Math.min(pts.length / 2, maxPoints);
    const fr = f as ParticleFrame;
    let wMax = 0;
    if (fr.weights) for (let i = 0; i < n; i++) wMax = Math.max(wMax, fr.weights[i]!);
    for (let i = 0; i < n; i++) {
      const row: Record<string, number | string> = { frame: k, t: `t = ${f.t.toFixed(3)}`, x: pts[2 * i]!, y: pts[2 * i + 1]! };
      if (fr.groups) {
        row.group = String(fr.groups[i]);
        grouped = true;
      }
      if (fr.weights && wMax > 0) {
        row.weight = fr.weights[i]! / wMax;
        weighted = true;
      }
      values.push(row);
    }
  });
  const encoding: Record<string, unknown> = {
    x: { field: 'x', type: 'quantitative', scale: { domain: [x0, x1] }, title: null },
    y: { field: 'y', type: 'quantitative', scale: { domain: [y0, y1] }, title: null },
  };
  if (grouped) encoding.color = { field: 'group', type: 'nominal', title: 'group' };
  if (weighted) encoding.opacity = { field: 'weight', type: 'quantitative', scale: { domain: [0, 1] }, legend: null };
  return {
    $schema: SCHEMA,
    ...(options.title ? { title: options.title } : {}),
    data: { values },
    facet: { field: 't', type: 'ordinal', title: null, sort: { field: 'frame' } },
    columns,
    spec: { ...size, mark: { type: 'circle', size: 6, ...(weighted ? {} : { opacity: 0.5 }) }, encoding },
  } as unknown as PlotSpec;
}

/** Options of {@link imageGridPlot}. */
export interface ImageGridPlotOptions {
  /** Images per row (default ceil(sqrt(n))). */
  readonly columns?: number;
  /** Pixel size in the plot (default 5). */
  readonly pixel?: number;
  /** Value range mapped to white..black (default [-1, 1]). */
  readonly range?: readonly [number, number];
  /** A caption per image (e.g. its class or reward). */
  readonly captions?: readonly string[];
  /** Title over the plot. */
  readonly title?: string;
}

/**
 * A grid of grayscale images (e.g. 8x8 digit samples), `values` row-major
 * `[n * height * width]`, each a heatmap panel (dark ink on white).
 */
export function imageGridPlot(values: ArrayLike<number>, n: number, height: number, width: number, options: ImageGridPlotOptions = {}): PlotSpec {
  const who = 'imageGridPlot';
  if (values.length !== n * height * width) throw new Error(`${who}: expected ${n}x${height}x${width} = ${n * height * width} values, got ${values.length}`);
  if (options.captions && options.captions.length !== n) throw new Error(`${who}: ${options.captions.length} captions for ${n} images`);
  const columns = positiveInt(options.columns, Math.ceil(Math.sqrt(n)), who, 'columns');
  const pixel = positiveInt(options.pixel, 5, who, 'pixel');
  const [lo, hi] = options.range ?? [-1, 1];
  const rows: object[] = [];
  for (let k = 0; k < n; k++) {
    const caption = options.captions?.[k] ?? String(k);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) rows.push({ image: k, caption, row: y, col: x, value: values[(k * height + y) * width + x]! });
  }
  return {
    $schema: SCHEMA,
    ...(options.title ? { title: options.title } : {}),
    data: { values: rows },
    facet: { field: 'caption', type: 'ordinal', title: null, sort: { field: 'image' }, header: { labelFontSize: 9, labelPadding: 2 } },
    columns,
    spacing: 4,
    spec: {
      width: width * pixel,
      height: height * pixel,
      mark: { type: 'rect' },
      encoding: {
        x: { field: 'col', type: 'ordinal', axis: null },
        y: { field: 'row', type: 'ordinal', axis: null },
        color: { field: 'value', type: 'quantitative', scale: { domain: [lo, hi], scheme: 'greys' }, legend: null },
      },
    },
  } as unknown as PlotSpec;
}
