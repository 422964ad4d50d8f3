/**
 * The three NUTS workloads of ../shared/peers (issue 16's Stan rows): eight
 * schools (non-centred), the linear regression (N = 100) and the logistic
 * regression (N = 1000, D = 10), each model imported from a given source tree
 * (`<root>/models/...`) so that two trees can be compared, with its data read
 * from the peers' JSON files before any clock starts. Shared by
 * `first-call.ts` and `nuts-ess-gradient.ts`.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PEERS } from './stan-runs.js';

/** The peers' models. */
export const PEER_MODELS = ['eight', 'linreg', 'logreg'] as const;
/** One of {@link PEER_MODELS}. */
export type PeerModel = (typeof PEER_MODELS)[number];

/** A JSON file of ../shared/peers. */
export const peerJson = <T>(file: string): T => JSON.parse(readFileSync(new URL(file, PEERS), 'utf8')) as T;

/** The model `key` from the tree at `root` and its arguments. */
export async function peerWorkload(root: string, key: string): Promise<{ model: unknown; args: unknown[] }> {
  const url = (p: string): string => pathToFileURL(resolve(root, p)).href;
  if (key === 'eight') {
    const { eightSchoolsNoncentered } = await import(url('models/posteriordb/eight-schools.js'));
    const d = peerJson<{ J: number; y: number[]; sigma: number[] }>('eight_schools.json');
    return { model: eightSchoolsNoncentered, args: [{ J: d.J, y: d.y, sigma: d.sigma }] };
  }
  if (key === 'linreg') {
    const { linearRegression } = await import(url('models/linreg.js'));
    const d = peerJson<{ x: number[]; y: number[]; prior: { alpha_sd: number } }>('linreg.json');
    return { model: linearRegression, args: [{ x: d.x, y: d.y, priorSd: d.prior.alpha_sd }] };
  }
  if (key === 'logreg') {
    const { logisticRegression } = await import(url('models/logreg.js'));
    const tf = await import('@tensorflow/tfjs-core');
    const d = peerJson<{ X: number[][]; y: number[]; prior: { alpha_sd: number } }>('logreg.json');
    return { model: logisticRegression, args: [{ X: tf.tensor2d(d.X), y: d.y, priorSd: d.prior.alpha_sd }] };
  }
  throw new Error(`--model: unknown model '${key}' (eight, linreg or logreg)`);
}
