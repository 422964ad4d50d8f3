/**
 * VI's dropped-draws path on WASM, the default backend of `import 'tyche'`:
 * the step must not take the gradient of `tf.gather` (its UnsortedSegmentSum
 * kernel is missing on WASM). The same run on cpu, first in this fresh
 * process, is the reference.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initBackend, liveTensors } from '../../src/backend/select.js';
import { Normal, infer, model, ops } from '../../src/index.js';

describe('VI dropped draws on wasm', () => {
  it('drops rejected draws on wasm exactly as on cpu', async () => {
    const bad = model(async ({ sample, observe }) => {
      const x = await sample('x', Normal(0, 1));
      await observe('y', Normal(0, ops.sub(1.5, x)), 0.5); // scale < 0 for x > 1.5: those draws are rejected
    });
    const opts = { method: 'vi' as const, guide: 'normal' as const, steps: 300, particles: 8, samples: 20, seed: 3 };
    const run = async (): Promise<{ dropped: number; mean: number }> => {
      const p = await infer(bad, opts);
      const out = { dropped: p.diagnostics.droppedDraws as number, mean: p.moments('x').mean as number };
      p.dispose();
      return out;
    };
    await initBackend('cpu');
    const cpu = await run();
    expect(liveTensors().count).toBe(0);
    await initBackend('wasm');
    expect(tf.getBackend()).toBe('wasm');
    const wasm = await run();
    expect(cpu.dropped).toBeGreaterThan(0);
    expect(wasm.dropped).toBe(cpu.dropped);
    expect(Math.abs(wasm.mean - cpu.mean)).toBeLessThan(1e-3);
  }, 60_000);
});
