/**
 * `lmConformance(name, makeModel)`: the conformance checks of
 * `src/testing/lm-conformance.ts` as a vitest suite, one test per check.
 * Run it on every LanguageModel (exact LMs, shipped transformers, llama.cpp).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { LanguageModel } from '../../src/steer/lm/types.js';
import { LM_CHECKS, type LmConformanceOptions, type LmConformanceReport, checkLanguageModel } from '../../src/testing/lm-conformance.js';

/** Register a `describe` block checking the model `makeModel` returns (disposed afterwards). */
export function lmConformance(name: string, makeModel: () => LanguageModel | Promise<LanguageModel>, options: LmConformanceOptions = {}, timeoutMs = 120_000): void {
  describe(`LanguageModel conformance: ${name}`, () => {
    let report: LmConformanceReport;
    beforeAll(async () => {
      const lm = await makeModel();
      try {
        report = await checkLanguageModel(lm, options);
      } finally {
        lm.dispose?.();
      }
    }, timeoutMs);
    for (const check of LM_CHECKS) {
      it(check, (ctx) => {
        const c = report.checks.find((x) => x.name === check)!;
        if (c.skipped) ctx.skip();
        expect(c.passed, `${report.model} / ${check}: ${c.detail}`).toBe(true);
      });
    }
  });
}
