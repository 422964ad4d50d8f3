/**
 * Which default-tier test files need a fresh process of their own (TIER, session 15).
 *
 * `vitest.config.ts` runs every other default-tier file in a shared worker (`isolate: false`):
 * tyche and tfjs are imported once per worker instead of once per file. A file belongs here when
 * its checks depend on process state that a file before it in the same worker would already
 * have set: module mocks and code hoisted above the imports (`vi.mock`, `vi.hoisted`,
 * `globalThis.__tslab__` read when tyche loads), a switch of the tfjs backend, a replaced global,
 * or an assertion about what happens before any backend is chosen. `test/tier/isolation.test.ts`
 * fails when a default-tier file shows one of the {@link NEEDS_ISOLATION} patterns and is not
 * listed.
 */

/** Default-tier files run in a fresh worker each, as vitest's default. */
export const ISOLATED: readonly string[] = [
  // asserts that no backend is active before initBackend, and switches to wasm
  'test/backend/backend.test.ts',
  // plants bugs by replacing globalThis.Function before a fused source is compiled
  'test/backend/jit-split.test.ts',
  // switches the backend to wasm
  'test/backend/missing-kernels.test.ts',
  'test/infer/vi-wasm.test.ts',
  // module mocks
  'test/smc/probe-gate-session14.test.ts',
  'test/reliability/surfaces-session11.test.ts',
  'test/reliability/surfaces-session12-nesting.test.ts',
  // set globalThis.__tslab__ before tyche loads (the kernel interrupt is installed at import)
  'test/reliability/surfaces-session12-interrupt.test.ts',
  'test/steer/lm/kernel-interrupt-session13.test.ts',
  // its `globalThis.TYCHE_BACKEND = 'wasm'` is page script written to a file, not run here; isolated
  // rather than exempted, at the price of one import
  'test/browser/browser-session7.test.ts',
];

/** Source patterns that make a test file depend on a fresh process (see {@link ISOLATED}). */
export const NEEDS_ISOLATION: readonly { readonly name: string; readonly pattern: RegExp }[] = [
  { name: 'a module mock or hoisted code (vi.mock, vi.doMock, vi.hoisted, vi.resetModules, vi.stubGlobal)', pattern: /\bvi\.(mock|doMock|hoisted|resetModules|stubGlobal)\(/ },
  { name: 'the tslab global read when tyche loads', pattern: /__tslab__/ },
  { name: 'a switch to a backend other than cpu', pattern: /\binitBackend\(\s*['"](?!cpu['"])/ },
  { name: 'tf.setBackend', pattern: /\btf\.setBackend\(/ },
  { name: 'a replaced global', pattern: /\bglobalThis\.[A-Za-z_$][\w$]*\s*=(?!=)/ },
];
