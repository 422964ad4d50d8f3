/**
 * A test-only switch: program SMC (per particle and batched) frees each
 * site's log-density tensors once they are read, so that the tensors held
 * during a run do not grow with the number of observations. With
 * `keepSiteDensities` on, they are held as before that change (until the
 * particle or the run ends), so a test can show that its check of the peak
 * tensor count fails on the old retention.
 *
 * @internal
 * @module
 */
export const retention = { keepSiteDensities: false };
