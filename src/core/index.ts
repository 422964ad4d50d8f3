/**
 * The effect runtime: models, contexts, handlers, traces, random streams and values.
 * @module
 */
export { model, Model, execute, ModelError, type Ctx, type PlatedCtx, type ModelFn, type PlateOptions, type ExecuteOptions, type Executed } from './model.js';
export type { Handler, Message, PlateFrame, SampleOptions, SiteType } from './message.js';
export { Trace, type Site, siteLogDensity } from './trace.js';
export * from './handlers.js';
export { Rng, rngFrom, type Seed } from './rng.js';
export { type Value, type ValueLike, isTensor, toNumber, toArray, logSumExp } from './value.js';
