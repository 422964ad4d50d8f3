import { cpuMs } from './cpu-time.js';

/**
 * An abort timed from a fit's end: `onStep` arms a timer at the last step
 * (`step === steps`) that aborts `ac` with `reason` `delayMs` later, when the
 * fit's final draws or checks are under way; `abortedAt()` is when it fired
 * (NaN before). `cpuPastDue()`, called once the run has settled, is the CPU
 * time this process spent past the moment the abort was due: from the abort
 * to now, plus what it spent before the abort beyond `delayMs` (a loop that
 * does not yield delays the timer and burns CPU meanwhile). Unlike wall time,
 * a loaded machine does not stretch it (`cpu-time.ts`). Used by the VI abort
 * regressions of fixer-session7 and minor-session8.
 */
export function abortAfterLastStep(ac: AbortController, reason: unknown, delayMs: number): { onStep: (p: { step: number; steps: number }) => void; abortedAt: () => number; cpuPastDue: () => number } {
  let at = NaN;
  let armedCpu = NaN;
  let atCpu = NaN;
  return {
    onStep: (p) => {
      if (p.step !== p.steps) return;
      armedCpu = cpuMs();
      setTimeout(() => {
        at = performance.now();
        atCpu = cpuMs();
        ac.abort(reason);
      }, delayMs);
    },
    abortedAt: () => at,
    cpuPastDue: () => cpuMs() - atCpu + Math.max(0, atCpu - armedCpu - delayMs),
  };
}
