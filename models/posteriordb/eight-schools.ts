/**
 * Eight schools (Rubin 1981; Gelman et al., BDA), as in posteriordb:
 * treatment effects `y_j` with known standard errors `sigma_j`, partially
 * pooled.
 *
 * - {@link eightSchoolsNoncentered}: posteriordb's `eight_schools_noncentered`
 *   (`theta_trans ~ N(0, 1)`, `theta = mu + tau * theta_trans`), which NUTS
 *   samples cleanly.
 * - {@link eightSchoolsCentered}: `theta ~ N(mu, tau)` directly, the funnel
 *   on which NUTS reports divergent transitions.
 *
 * Priors: `mu ~ N(0, 5)`, `tau ~ HalfCauchy(5)`. Both models are written with
 * a plate and the polymorphic `ops`, so chains run vectorised.
 *
 * @module
 */
import { HalfCauchy, Normal, model, ops } from '../../src/index.js';
import { loadData } from '../data.js';

/** Eight schools data: `J` schools, estimates `y` and standard errors `sigma`. */
export interface EightSchoolsData {
  readonly J: number;
  readonly y: number[];
  readonly sigma: number[];
}

/** The eight schools data (posteriordb `eight_schools`). */
export const eightSchoolsData: EightSchoolsData = loadData<EightSchoolsData>('eight_schools');

/**
 * Non-centered eight schools; latent sites `mu`, `tau`, `theta_trans` (length J), and the
 * school effects `theta = mu + tau * theta_trans` as a deterministic site (Stan's transformed
 * parameter), so posteriors report them.
 */
export const eightSchoolsNoncentered = model(
  async ({ sample, plate, deterministic }, d: EightSchoolsData) => {
    const mu = await sample('mu', Normal(0, 5));
    const tau = await sample('tau', HalfCauchy(5));
    await plate('schools', d.J, async (_i, p) => {
      const thetaTrans = await p.sample('theta_trans', Normal(0, 1));
      const theta = deterministic('theta', ops.add(mu, ops.mul(tau, thetaTrans)));
      await p.observe('y', Normal(theta, d.sigma), d.y);
    });
  },
  { name: 'eight_schools_noncentered' },
);

/** Centered eight schools; latent sites `mu`, `tau`, `theta` (length J). */
export const eightSchoolsCentered = model(
  async ({ sample, plate }, d: EightSchoolsData) => {
    const mu = await sample('mu', Normal(0, 5));
    const tau = await sample('tau', HalfCauchy(5));
    await plate('schools', d.J, async (_i, p) => {
      const theta = await p.sample('theta', Normal(mu, tau));
      await p.observe('y', Normal(theta, d.sigma), d.y);
    });
  },
  { name: 'eight_schools_centered' },
);
