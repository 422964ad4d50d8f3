/**
 * Small helpers shared by the benchmarks.
 *
 * @module
 */

/** Median of a non-empty list of numbers. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of an empty list');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Time an async function: returns the elapsed milliseconds and its result. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const t0 = process.hrtime.bigint();
  const result = await fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, result };
}

/**
 * Seconds of this process's CPU time (user + system) since `c0`
 * (`process.cpuUsage()`): on a shared, loaded machine the wall clock mostly
 * measures the other jobs, while a single-threaded run's CPU time is its cost.
 */
export function cpuSince(c0: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
}

/** Format rows as a right-aligned text table (first column left-aligned). */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (c: readonly string[]) => c.map((x, i) => (i === 0 ? x.padEnd(w[i]) : x.padStart(w[i]))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

/**
 * Node arguments that run `file` in a child process: through tsx for a
 * TypeScript file, directly for compiled JavaScript (so a build is measured
 * without tsx's transform).
 */
export function nodeArgsFor(file: string): string[] {
  return file.endsWith('.ts') ? ['--import', 'tsx', file] : [file];
}

/** The number after `--name` on the command line, or `fallback`. */
export function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** µs of CPU per call of `f`: the median of 5 timings of `calls` calls each, after `warm` untimed calls. */
export async function cpuMicrosPerCall(f: () => unknown, calls: number, warm = 0): Promise<number> {
  for (let i = 0; i < warm; i++) await f();
  const times: number[] = [];
  for (let r = 0; r < 5; r++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < calls; i++) await f();
    times.push((cpuSince(c0) / calls) * 1e6);
  }
  return median(times);
}

/** Mean ± sample sd of `xs` to 3 decimals ('-' for the sd of one value). */
export function meanSd(xs: readonly number[]): string {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)) : NaN;
  return `${m.toFixed(3)} ± ${Number.isNaN(sd) ? '-' : sd.toFixed(3)}`;
}
