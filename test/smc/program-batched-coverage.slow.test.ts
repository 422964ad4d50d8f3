/**
 * Two more programs moved to the batched path by reserved batch dimensions
 * (`smc/program-layout.ts`), against their exact answers on both paths (see
 * program-exact.ts): a regression whose mean is a data tensor times scalar
 * latents, and a latent drawn with batch shape [3] times a data matrix (the
 * second reserved dimension found by the probe's retry). `npm run test:slow`.
 */
import { beforeAll, describe, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { checkBothPaths, regression, weights } from './program-exact.js';

beforeAll(async () => {
  await initBackend();
});

describe('batched program SMC on data tensors (both paths against exact answers)', () => {
  it('a regression on a data tensor', () => checkBothPaths('a regression on a data tensor', regression), 300_000);
  it('a latent with a batch shape times a data matrix', () => checkBothPaths('a latent with a batch shape times a data matrix', weights), 300_000);
});
