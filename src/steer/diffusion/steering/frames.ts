/**
 * Snapshots of particles over time ("frames"), which every steering method
 * with a notion of time can return for pictures of its run.
 *
 * @module
 */

/** The particles (row-major, one row per particle) after `step` of the grid (0 = the initial noise) at time `t`. */
export interface Frame {
  readonly step: number;
  readonly t: number;
  readonly x: Float32Array;
}

/** The frames of one row `row` of particles with `dim` numbers each (e.g. the trajectory of the sample a search kept). */
export function frameRow(frames: readonly Frame[], row: number, dim: number): Frame[] {
  return frames.map((f) => ({ step: f.step, t: f.t, x: f.x.slice(row * dim, (row + 1) * dim) }));
}
