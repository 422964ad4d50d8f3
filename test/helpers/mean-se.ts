/** The mean of independent runs' figures and its standard error (sample sd / sqrt(n)). */
export function meanSE(v: readonly number[]): { m: number; se: number } {
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  return { m, se: Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1) / v.length) };
}
