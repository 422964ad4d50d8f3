/**
 * `core/rng.ts` runs Alea as methods of `Rng` (no closure per stream, so the samplers' call sites
 * keep one call target). Its streams must stay seedrandom's `alea` bit for bit: every seeded result
 * in the project (tests, notebooks, docs) depends on them.
 */
import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';

/** The stream `Rng` produced when it wrapped seedrandom (its `uniform`, `int` and `uint32`, reimplemented on seedrandom here). */
function reference(seed: string | number) {
  const gen = seedrandom.alea(String(seed));
  return {
    uniform(): number {
      let u = gen();
      while (u === 0) u = gen();
      return u;
    },
    int: (n: number) => Math.floor(gen() * n),
    uint32: () => gen.int32() >>> 0,
  };
}

describe('Rng: Alea as seedrandom computes it', () => {
  const seeds: (string | number)[] = [0, 1, 2, 42, -7, 3.25, 1e300, '', ' ', 'chain/3', 'numbers-versus-tensors:0/init/1', 'ünïcödé ✓ 𝔸', 'x'.repeat(500)];
  for (let k = 0; k < 40; k++) seeds.push(`${k}/${k * 7919}`);

  it('the same uniforms, integers and 32-bit words for every seed, to the bit', () => {
    for (const seed of seeds) {
      const ours = new Rng(seed);
      const theirs = reference(seed);
      for (let i = 0; i < 2000; i++) {
        const which = i % 3;
        if (which === 0) expect(ours.uniform()).toBe(theirs.uniform());
        else if (which === 1) expect(ours.int(1000)).toBe(theirs.int(1000));
        else expect(ours.uint32()).toBe(theirs.uint32());
      }
    }
  });

  it('splits are the streams of their derived seeds', () => {
    const parent = new Rng('p');
    const children = parent.splitN(3);
    children.forEach((c, i) => {
      const ref = reference(`p/${i + 1}`);
      for (let k = 0; k < 100; k++) expect(c.uniform()).toBe(ref.uniform());
    });
  });

  it('a planted change of one constant moves the stream (the comparison can fail)', () => {
    const planted = seedrandom.alea('1');
    const ours = new Rng(1);
    const a = ours.uniform();
    planted(); // one draw ahead
    expect(planted()).not.toBe(a);
  });
});
