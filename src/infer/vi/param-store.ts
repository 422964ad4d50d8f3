/**
 * The parameter store now lives in `src/optim/param-store.ts` (below flows and
 * infer, which both fit parameters); re-exported here so existing imports keep working.
 *
 * @module
 */
export * from '../../optim/param-store.js';
