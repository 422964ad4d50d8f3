/**
 * Session 16 (STEERUSER2): `tyche steer` with a constraint that no string of at most `--max-tokens` tokens can
 * meet (`--pattern abcdef --max-tokens 3`, `--ends-with LORD --max-tokens 3`) printed a table of 0% for every
 * method and "(no satisfying string)" three times, exit 0: the same output as steering that was merely unlucky.
 * It is now a usage error before any generation, saying whether a larger --max-tokens would help. Fails on the
 * old code (the command resolved).
 */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/cli/args.js';
import { steerMain } from '../../../src/cli/steer.js';

const io = () => {
  const out: string[] = [];
  return { out, io: { stdout: { write: (s: string) => (out.push(s), true) }, stderr: { write: () => true } } };
};

describe('tyche steer: a constraint out of reach of --max-tokens (session 16)', () => {
  it('is a usage error naming the constraint and the --max-tokens that would fit', async () => {
    const { io: a } = io();
    const err = await steerMain(['--pattern', 'abcdef', '--max-tokens', '3', '--particles', '2'], a).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe('steer: no string of at most 3 tokens of kjv-char satisfies the constraint (matches /abcdef/): it needs a larger --max-tokens (at most 127 fits the context)');
    await expect(steerMain(['--ends-with', 'LORD', '--max-tokens', '3', '--particles', '2'], a)).rejects.toThrow(/no string of at most 3 tokens of kjv-char satisfies the constraint \(ends with "LORD"\): it needs a larger --max-tokens/);
  }, 60_000);

  it('a pattern outside the vocabulary says no length helps; one that fits exactly still runs', async () => {
    const { io: a } = io();
    await expect(steerMain(['--pattern', '[é]', '--max-tokens', '3', '--particles', '2'], a)).rejects.toThrow(/^steer: no string of at most 3 tokens of kjv-char satisfies the constraint \(matches \/\[é\]\/\) \(nor of at most 127, all the context allows\)$/);
    const { out, io: b } = io();
    await steerMain(['--pattern', 'LORD', '--max-tokens', '4', '--particles', '2', '--seed', '1'], b);
    expect(out.join('')).toMatch(/SMC \(locally-optimal\): "LORD"/);
  }, 60_000);
});
