/**
 * The browser build: tyche's entries (`tyche`, `tyche/plots`, `tyche/steer`)
 * and the playground bundled by esbuild for the browser (ES modules, shared
 * chunks, minified), the tfjs WASM backend's `.wasm` files beside them (the
 * page serves them itself: no CDN), the playground's page and the shipped
 * models it steers. Prints each entry's size (min and min+gzip, with the
 * chunks it imports statically).
 *
 *   npx tsx scripts/build-browser.ts [--outdir build/browser] [--no-minify]
 *
 * `buildBrowser` is also used by the browser tests and the page bench, which
 * add their own entries to the same build.
 */
import { copyFile, mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The library's browser entries (output name -> source). */
export const LIBRARY_ENTRIES: Readonly<Record<string, string>> = {
  tyche: 'src/main.ts',
  'tyche-plots': 'src/plots/index.ts',
  'tyche-steer': 'src/steer/index.ts',
};

/** Files served beside the bundles: the playground page, and the shipped models the steering tab loads. */
const STATIC_FILES: readonly [from: string, to: string][] = [
  ['playground/index.html', 'index.html'],
  ['playground/style.css', 'style.css'],
  ['models/lm/kjv-char.json', 'models/lm/kjv-char.json'],
  ['models/lm/kjv-char.bin', 'models/lm/kjv-char.bin'],
  ['models/diffusion/digits.json', 'models/diffusion/digits.json'],
  ['models/diffusion/digits.bin', 'models/diffusion/digits.bin'],
  ['models/diffusion/digits-classifier.json', 'models/diffusion/digits-classifier.json'],
  ['models/diffusion/digits-classifier.bin', 'models/diffusion/digits-classifier.bin'],
  ['models/diffusion/digits-noisy-classifier.json', 'models/diffusion/digits-noisy-classifier.json'],
  ['models/diffusion/digits-noisy-classifier.bin', 'models/diffusion/digits-noisy-classifier.bin'],
];

/** Chunks loaded on demand whose size is worth reporting: the tfjs backends (the browser's default, webgl, loads at import). */
const LAZY: readonly [name: string, source: string][] = [
  ['(webgl backend)', 'tfjs-backend-webgl/'],
  ['(webgpu backend)', 'tfjs-backend-webgpu/'],
  ['(wasm backend)', 'tfjs-backend-wasm/'],
  ['(cpu backend)', 'tfjs-backend-cpu/'],
];

const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];

/** Options of {@link buildBrowser}. */
export interface BrowserBuildOptions {
  /** Output folder (emptied first); default build/browser. */
  readonly outdir?: string;
  /** More entries (output name -> source, relative to the repository root). */
  readonly entries?: Readonly<Record<string, string>>;
  /** Include the library entries and the playground (default true). */
  readonly playground?: boolean;
  /** Minify (default true). */
  readonly minify?: boolean;
}

/** One entry's size: its own file plus the chunks it imports statically (what a page loads before it runs). */
export interface EntrySize {
  readonly entry: string;
  readonly files: number;
  readonly bytes: number;
  readonly gzipBytes: number;
}

/** What {@link buildBrowser} made. */
export interface BrowserBuild {
  readonly outdir: string;
  readonly sizes: readonly EntrySize[];
  /** All JavaScript emitted, lazy chunks (wasm and webgpu backends) included. */
  readonly total: { readonly bytes: number; readonly gzipBytes: number };
  readonly ms: number;
}

/** Bundle tyche for the browser (see the module comment). */
export async function buildBrowser(options: BrowserBuildOptions = {}): Promise<BrowserBuild> {
  const t0 = performance.now();
  const outdir = resolve(ROOT, options.outdir ?? 'build/browser');
  const withPlayground = options.playground ?? true;
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  const entries: Record<string, string> = { ...(withPlayground ? { ...LIBRARY_ENTRIES, playground: 'playground/main.ts' } : {}), ...(options.entries ?? {}) };
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, join(ROOT, v)])),
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outdir,
    // one folder: the wasm backend finds its .wasm files beside the chunk that holds tyche's backend code
    chunkNames: 'chunk-[hash]',
    minify: options.minify ?? true,
    sourcemap: false,
    metafile: true,
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const wasmDir = join(ROOT, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
  await Promise.all(WASM_FILES.map((f) => copyFile(join(wasmDir, f), join(outdir, f))));
  if (withPlayground) {
    for (const [from, to] of STATIC_FILES) {
      await mkdir(dirname(join(outdir, to)), { recursive: true });
      await copyFile(join(ROOT, from), join(outdir, to));
    }
  }
  const outputs = result.metafile.outputs;
  const gz = new Map<string, number>();
  const gzipOf = async (file: string): Promise<number> => {
    if (!gz.has(file)) gz.set(file, gzipSync(await readFile(join(ROOT, file)), { level: 9 }).length);
    return gz.get(file)!;
  };
  const sizes: EntrySize[] = [];
  for (const [file, out] of Object.entries(outputs)) {
    if (!out.entryPoint || !file.endsWith('.js')) continue;
    const name = Object.keys(entries).find((k) => join(ROOT, entries[k]!) === join(ROOT, out.entryPoint!)) ?? LAZY.find(([, src]) => out.entryPoint!.includes(src))?.[0];
    if (name === undefined) continue;
    const seen = new Set<string>();
    const visit = (f: string): void => {
      if (seen.has(f)) return;
      seen.add(f);
      for (const imp of outputs[f]?.imports ?? []) if (imp.kind === 'import-statement' && !imp.external) visit(imp.path);
    };
    visit(file);
    let bytes = 0;
    let gzipBytes = 0;
    for (const f of seen) {
      bytes += outputs[f]!.bytes;
      gzipBytes += await gzipOf(f);
    }
    sizes.push({ entry: name, files: seen.size, bytes, gzipBytes });
  }
  let bytes = 0;
  let gzipBytes = 0;
  for (const [f, o] of Object.entries(outputs)) {
    if (!f.endsWith('.js')) continue;
    bytes += o.bytes;
    gzipBytes += await gzipOf(f);
  }
  return { outdir, sizes, total: { bytes, gzipBytes }, ms: performance.now() - t0 };
}

/** The size table, as the build prints it. */
export function formatSizes(build: BrowserBuild): string {
  const kb = (n: number): string => `${(n / 1024).toFixed(0)} KB`;
  const rows = build.sizes.map((s) => `  ${s.entry.padEnd(14)} ${kb(s.bytes).padStart(8)} min  ${kb(s.gzipBytes).padStart(7)} min+gzip  (${s.files} files loaded at import)`);
  return [`browser build in ${relative(ROOT, build.outdir)} (${(build.ms / 1000).toFixed(1)} s)`, ...rows, `  all JavaScript, lazy backend chunks included: ${kb(build.total.bytes)} min, ${kb(build.total.gzipBytes)} min+gzip`].join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--outdir');
  const build = await buildBrowser({ ...(at >= 0 ? { outdir: args[at + 1]! } : {}), minify: !args.includes('--no-minify') });
  console.log(formatSizes(build));
}
