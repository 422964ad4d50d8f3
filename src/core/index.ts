/**
 * The effect runtime: models, contexts, handlers, traces, random streams and values.
 * @module
 */
export { TycheError, ModelError, ModelCodeError, InvalidParameterError, isTycheError, rejectsPoint } from './errors.js';
export type { UnfoldKernel } from './unfold.js';
export { model, Model, execute, type BatchOptions, type Ctx, type PlatedCtx, type ModelFn, type PlateOptions, type SubsamplingHook, type ExecuteOptions, type Executed } from './model.js';
export type { Handler, Message, PlateFrame, SampleOptions, SiteType } from './message.js';
export { Trace, type Site, siteLogDensity, plateNestingOf } from './trace.js';
export * from './handlers.js';
export { Rng, rngFrom, type Seed } from './rng.js';
export { type Value, type ValueLike, isTensor, toNumber, toArray, toValue, logSumExp } from './value.js';
export { lintConditions, type ConditionFinding } from './condition-lint.js';
/** Polymorphic arithmetic (numbers in, numbers out; tensors otherwise) for models that run both per particle and batched. */
export * as ops from './value.js';
