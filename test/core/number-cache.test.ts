/**
 * The number-keyed cache behind `Bernoulli(p)`'s shared objects: the same
 * number finds what was made from it, a different number (also -0 against 0,
 * and numbers that share a slot) never does, and a throwing maker leaves
 * nothing behind.
 */
import { describe, expect, it } from 'vitest';
import { NumberCache } from '../../src/core/number-cache.js';

describe('NumberCache', () => {
  it('finds the value made from the same number and only from it', () => {
    const cache = new NumberCache<{ x: number }>();
    let made = 0;
    const make = (x: number) => {
      made++;
      return { x };
    };
    const a = cache.get(0.3, make);
    expect(cache.get(0.3, make)).toBe(a);
    expect(made).toBe(1);
    // every key of a dense grid (so many share a slot): each lookup gives what was made from exactly that key
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i <= 2000; i++) expect(cache.get(i / 2000, make).x).toBe(i / 2000);
    }
    expect(Object.is(cache.get(-0, make).x, -0)).toBe(true);
    expect(Object.is(cache.get(0, make).x, 0)).toBe(true);
    expect(Number.isNaN(cache.get(NaN, make).x)).toBe(true);
    expect(cache.get(1e300, make).x).toBe(1e300);
    expect(cache.get(-Infinity, make).x).toBe(-Infinity);
  });

  it('keeps two numbers that share a set (burglary\'s 0.001 and 0.7, which replaced each other in a one-slot table)', () => {
    const cache = new NumberCache<number>();
    let made = 0;
    const make = (x: number) => {
      made++;
      return x;
    };
    for (let i = 0; i < 5; i++) {
      expect(cache.get(0.001, make)).toBe(0.001);
      expect(cache.get(0.7, make)).toBe(0.7);
    }
    expect(made).toBe(2);
  });

  it('remembers nothing when the maker throws', () => {
    const cache = new NumberCache<number>();
    expect(() => cache.get(0.5, () => { throw new Error('bad'); })).toThrow('bad');
    expect(cache.get(0.5, () => 7)).toBe(7);
  });
});
