/**
 * Sites an MCMC sampler never moved: one check, one meaning, for every
 * engine's layout of its draws.
 *
 * @module
 */

/** One site's kept draws, as an engine holds them. */
export interface SiteDraws {
  readonly address: string;
  /** The shape of one draw of the site ([] for a scalar). */
  readonly shape: readonly number[];
  /**
   * Each kept draw's value, flattened (every chain's, in any order), or
   * `undefined` for a draw without the site (another branch). Consecutive
   * draws may hand the same array object (one state kept twice): it is
   * counted, not compared again.
   */
  readonly rows: Iterable<ArrayLike<number> | undefined>;
  /** Elements that the support fixes (a correlation Cholesky factor's 1 and zeros): not compared. */
  readonly fixed?: ReadonlySet<number>;
}

/**
 * The sites with an element whose every kept draw, in every chain, holds one
 * value (compared exactly; draws without the site are skipped; a site present
 * in fewer than two draws is left out): the sampler never moved it, so R-hat
 * and ESS are NaN there and no threshold catches it. A scalar site is named by
 * its address, an element of a larger one as `address[j]` (the first such
 * element, flattened index). A site whose draws change size has moved.
 */
export function unmovedSites(sites: Iterable<SiteDraws>): string[] {
  const out: string[] = [];
  for (const site of sites) {
    const width = site.shape.reduce((a, b) => a * b, 1);
    let first: ArrayLike<number> | undefined;
    let last: ArrayLike<number> | undefined;
    let present = 0;
    // still: the elements not yet seen to move (all but the fixed ones at first)
    let still: number[] | undefined;
    for (const row of site.rows) {
      if (row === undefined) continue;
      present++;
      if (row === last) continue;
      last = row;
      if (first === undefined) {
        first = row;
        still = [];
        for (let j = 0; j < row.length; j++) if (!site.fixed?.has(j)) still.push(j);
        continue;
      }
      if (row.length !== first.length) {
        still = [];
        break;
      }
      const f = first;
      still = still!.filter((j) => row[j] === f[j]);
      if (still.length === 0) break;
    }
    if (present < 2 || still === undefined || still.length === 0) continue;
    out.push(width === 1 && site.shape.length === 0 ? site.address : `${site.address}[${still[0]}]`);
  }
  return out;
}
