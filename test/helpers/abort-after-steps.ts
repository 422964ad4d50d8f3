/**
 * An abort timed from a fit's end: `onStep` arms a timer at the last step
 * (`step === steps`) that aborts `ac` with `reason` `delayMs` later, when the
 * fit's final draws or checks are under way; `abortedAt()` is when it fired
 * (NaN before). Used by the VI abort regressions of fixer-session7 and
 * minor-session8.
 */
export function abortAfterLastStep(ac: AbortController, reason: unknown, delayMs: number): { onStep: (p: { step: number; steps: number }) => void; abortedAt: () => number } {
  let at = NaN;
  return {
    onStep: (p) => {
      if (p.step === p.steps)
        setTimeout(() => {
          at = performance.now();
          ac.abort(reason);
        }, delayMs);
    },
    abortedAt: () => at,
  };
}
