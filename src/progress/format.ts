/**
 * Text pieces of a progress line: durations, rates and the bar itself.
 *
 * @module
 */

/** A duration as `42s`, `3m05s` or `1h02m`; `--` when unknown. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '--';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** A rate with three significant figures, e.g. `1.23k it/s`; `--` when unknown. */
export function formatRate(perSecond: number, unit: string): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return `-- ${unit}/s`;
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toPrecision(3)}M ${unit}/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toPrecision(3)}k ${unit}/s`;
  return `${perSecond.toPrecision(3)} ${unit}/s`;
}

/** A bar of `width` cells, filled in proportion to `fraction` (clamped to [0, 1]). */
export function renderBar(fraction: number, width: number): string {
  const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  const full = Math.floor(f * width);
  return '█'.repeat(full) + (full < width ? '░'.repeat(width - full) : '');
}
