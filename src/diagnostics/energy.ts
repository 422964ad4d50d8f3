/**
 * Energy diagnostics of Hamiltonian Monte Carlo.
 *
 * @module
 */
import { type ChainDraws, toChains } from './draws.js';
import { mean } from './empirical.js';

/** Values of E-BFMI below this suggest the momentum resampling explores energy poorly (Stan's warning level). */
export const EBFMI_WARNING_THRESHOLD = 0.3;

/**
 * Estimated Bayesian fraction of missing information (E-BFMI, Betancourt
 * 2016) of each chain, from the Hamiltonian energy at each iteration:
 * sum_n (E_n - E_{n-1})^2 / sum_n (E_n - mean E)^2, as Stan computes it.
 * Independent energies give about 2; values below
 * {@link EBFMI_WARNING_THRESHOLD} flag a heavy-tailed energy distribution
 * that HMC explores slowly.
 *
 * @param energies - energies as chains x iterations, or one chain as a flat array.
 * @returns one value per chain (NaN for a chain with fewer than 2 draws,
 *   a non-finite energy or constant energy).
 * @throws RangeError when the energies are not a rectangular chains x iterations array.
 */
export function ebfmi(energies: ChainDraws | ArrayLike<number>): Float64Array {
  const asChains = isFlat(energies) ? [energies] : energies;
  const chains = toChains(asChains, 'ebfmi');
  return Float64Array.from(chains, (e) => {
    if (e.length < 2) return NaN;
    const m = mean(e);
    let num = 0;
    let den = 0;
    for (let i = 0; i < e.length; i++) {
      den += (e[i] - m) ** 2;
      if (i > 0) num += (e[i] - e[i - 1]) ** 2;
    }
    return den > 0 && Number.isFinite(num) ? num / den : NaN;
  });
}

function isFlat(x: ChainDraws | ArrayLike<number>): x is ArrayLike<number> {
  return x.length > 0 && typeof x[0] === 'number';
}
