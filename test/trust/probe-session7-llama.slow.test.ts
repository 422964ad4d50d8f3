/**
 * PROBE, session 7, slow tier (TYCHE_SLOW=1): SMC steering of the shipped kjv-char transformer run through
 * llama.cpp (node-llama-cpp on CPU, the model's GGUF export) against Z enumerated from the tfjs model's
 * rows, and run for run against the same steering on tfjs. Skips, saying why, without node-llama-cpp.
 * Its own file (worker): after the toy2d runs of probe-session7.slow.test.ts the worker exited
 * unexpectedly during this test; alone it passes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { exportTransformerGGUF } from '../../src/steer/lm/gguf.js';
import { loadLlamaCpp } from '../../src/steer/lm/llama-cpp.js';
import { loadTransformerLM } from '../../src/steer/lm/transformer/files.js';
import { AutomatonPotential } from '../../src/steer/lm/potentials/automaton.js';
import { LocallyOptimalSampler } from '../../src/steer/lm/samplers/locally-optimal.js';
import { smcSteer } from '../../src/steer/lm/smc/steer.js';
import { meanSE, zOf } from '../stats.js';

const llamaPkg = 'node-llama-cpp';
const llamaAvailable = await import(llamaPkg).then(
  () => true,
  () => false,
);
if (!llamaAvailable) console.warn('probe-session7-llama.slow.test.ts: skipped: node-llama-cpp is not installed (npm install node-llama-cpp@3.21.1)');

beforeAll(async () => {
  await initBackend('wasm');
});

describe.skipIf(!llamaAvailable)('steering kjv-char through llama.cpp (node-llama-cpp, CPU) against enumeration', () => {
  it('"…the eart" + [a-h.]* within 3 tokens: E[Ẑ] = Z (60 runs, |z| < 4), and each run equals the tfjs run of the same seed; planted: Z without the EOS factor', async () => {
    const tfLM = loadTransformerLM('kjv-char');
    const dir = mkdtempSync(join(tmpdir(), 'p7-gguf-'));
    const path = join(dir, 'kjv-char.gguf');
    exportTransformerGGUF(tfLM, path);
    const cpp = await loadLlamaCpp({ modelPath: path, sequences: 8, name: 'kjv-char.gguf', threads: 1 });
    try {
      const v = tfLM.vocab;
      const prompt = v.encode('In the beginning God created the heaven and the eart');
      const MAXT = 3;
      const allowed = /^[a-h.]*$/;
      // exact Z (and the planted Z without the EOS factor) level by level from the tfjs rows
      let level: { toks: number[]; lp: number }[] = [{ toks: [], lp: 0 }];
      let Z = 0;
      let noEos = 0;
      for (let d = 0; d <= MAXT; d++) {
        const rows = await tfLM.nextTokenLogprobs(level.map((l) => [...prompt, ...l.toks]));
        const next: typeof level = [];
        level.forEach((l, i) => {
          const row = rows[i]!;
          Z += Math.exp(l.lp + row[v.eos]!);
          noEos += Math.exp(l.lp);
          if (d === MAXT) return;
          const s = v.decode(l.toks);
          for (let y = 0; y < v.size; y++) if (y !== v.eos && y !== v.bos && allowed.test(s + v.tokenText(y))) next.push({ toks: [...l.toks, y], lp: l.lp + row[y]! });
        });
        level = next;
      }
      const zCpp: number[] = [];
      let worst = 0;
      for (let r = 0; r < 60; r++) {
        const opts = { potential: new AutomatonPotential(v, '[a-h.]*'), sampler: new LocallyOptimalSampler(), particles: 4, maxTokens: MAXT, prompt, seed: `cpp-${r}` };
        const a = await smcSteer({ ...opts, lm: cpp });
        const b = await smcSteer({ ...opts, lm: tfLM });
        zCpp.push(Math.exp(a.logZ));
        worst = Math.max(worst, Math.abs(a.logZ - b.logZ));
      }
      if (process.env.TYCHE_REPORT) console.log(`llama.cpp steering: Ẑ ${meanSE(zCpp).mean.toExponential(4)} ± ${meanSE(zCpp).se.toExponential(2)} vs Z ${Z.toExponential(4)} (z ${zOf(zCpp, Z).toFixed(2)}); planted no-EOS z ${zOf(zCpp, noEos).toFixed(2)}; max |log Ẑ cpp − tfjs| ${worst.toExponential(2)}`);
      expect(Math.abs(zOf(zCpp, Z))).toBeLessThan(4);
      expect(Math.abs(zOf(zCpp, noEos))).toBeGreaterThan(4);
      expect(worst).toBeLessThan(1e-3);
    } finally {
      await cpp.close();
      tfLM.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
