/**
 * Lead, session 14: VI's k-hat warning where the guide missed the posterior
 * altogether. posteriordb sblrc-blr at VI's defaults (NEWUSER, session 14)
 * stopped thousands of posterior sds away with k-hat = Infinity, and the only
 * warning said k-hat "does not say whether the means are right": true of
 * k-hat, but the sd of log p/q over the draws (above 1e4 nats there) does say
 * it. Above 100 nats the warning now says the means are off too.
 */
import { describe, expect, it, vi as vitest } from 'vitest';
import { khatReport } from '../../src/infer/vi/svi.js';

/** Log ratios with sd `sd` (a fixed, symmetric pattern). */
const ratios = (sd: number): Float64Array => Float64Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? sd : -sd));

describe('the k-hat warning by the spread of log p/q', () => {
  it('above 100 nats it says the guide is far from the posterior, means included; below, the tails-only wording stays', () => {
    vitest.spyOn(console, 'warn').mockImplementation(() => {});
    const far = khatReport(Infinity, 'AutoNormal', false, ratios(2e4)).warnings;
    expect(far).toHaveLength(1);
    expect(far[0]).toMatch(/log p\/q has sd 2\.0e\+4 nats.*far from the posterior in its bulk.*means, sds and ELBO are not to be trusted/);
    expect(far[0]).not.toMatch(/does not say whether the means are right/);
    const near = khatReport(0.9, 'AutoNormal', false, ratios(0.5)).warnings;
    expect(near[0]).toMatch(/does not say whether the means are right/);
    expect(near[0]).not.toMatch(/far from the posterior/);
    // at the edge: 99 nats keeps the hedged wording, 101 does not
    expect(khatReport(0.9, 'AutoNormal', false, ratios(99)).warnings[0]).toMatch(/does not say whether/);
    expect(khatReport(0.9, 'AutoNormal', 'psis', ratios(101)).warnings[0]).toMatch(/far from the posterior.*importanceWeights you asked for/);
    // no warning at all below the k-hat threshold, whatever the spread
    expect(khatReport(0.3, 'AutoNormal', false, ratios(1e4)).warnings).toEqual([]);
    vitest.restoreAllMocks();
  });
});
