/**
 * tyche's error classes.
 *
 * - {@link TycheError}: the base of the errors tyche raises for a problem in
 *   the user's model, data or options.
 * - {@link ModelError}: a problem at a named site of a model.
 * - {@link ModelCodeError}: an error thrown by the model's own code (or by
 *   tfjs on its behalf), wrapped with the model's name and the last site
 *   reached; the original is its `cause`.
 * - {@link InvalidParameterError}: a distribution's parameter is outside its
 *   domain (a scale of 0, probabilities that do not sum to 1). This is the
 *   one signal that may mean "this point has density zero, reject it"
 *   ({@link rejectsPoint}) in samplers that move through parameter space, as
 *   Stan rejects such proposals; every other error propagates.
 *
 * {@link isTycheError} tells these apart from raw JavaScript or tfjs errors.
 *
 * @module
 */

/** The base class of the errors tyche raises about a model, its data or the options. */
export class TycheError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TycheError';
  }
}

/** An error at a named site of a model. */
export class ModelError extends TycheError {
  /**
   * @param address - the full address of the site
   * @param message - what is wrong there (the address is prefixed)
   */
  constructor(readonly address: string, message: string, options?: { cause?: unknown }) {
    super(`site "${address}": ${message}`, options);
    this.name = 'ModelError';
  }
}

/**
 * An error thrown by the model's own code, not by one of tyche's effects:
 * names the model and the last site it reached, and keeps the original
 * error as `cause`.
 */
export class ModelCodeError extends TycheError {
  /**
   * @param modelName - the model's name
   * @param afterSite - the last site the execution reached, if any
   * @param cause - what the model's code threw
   */
  constructor(readonly modelName: string, readonly afterSite: string | undefined, cause: unknown) {
    super(`model "${modelName}" threw ${whereIn(afterSite)}: ${describeError(cause)}${numberDrawHint(cause)}${disposedTensorHint(cause)}`, { cause });
    this.name = 'ModelCodeError';
  }
}

/**
 * A distribution parameter outside its domain. Extends `RangeError` (what
 * these checks always threw). Samplers that move through parameter space
 * treat it, and only it, as "log density zero here" (see {@link rejectsPoint}).
 */
export class InvalidParameterError extends RangeError {
  /** The site whose distribution raised it, when known (a check inside `sample`/`observe`). */
  site: string | undefined;
  /** The last site reached before it was raised (a distribution built in model code, before its `sample`). */
  afterSite: string | undefined;
  private located = false;

  /**
   * @param distribution - the distribution's name, e.g. `Normal`
   * @param parameter - the parameter's name, e.g. `scale`
   * @param message - the full message
   */
  constructor(readonly distribution: string, readonly parameter: string, message: string) {
    super(message);
    this.name = 'InvalidParameterError';
  }

  /** Record the position in the model (once) and say it in the message. */
  locate(modelName: string, afterSite: string | undefined, atSite?: string): this {
    if (this.located) return this;
    this.located = true;
    this.site = atSite;
    this.afterSite = afterSite;
    this.message += atSite !== undefined ? ` (at site "${atSite}" of model "${modelName}")` : ` (in model "${modelName}", ${whereIn(afterSite)})`;
    return this;
  }
}

/**
 * An engine found no point (execution, particle, initial state) with
 * positive density. `infer` replaces it by an error naming the site that
 * makes the density zero, found by running the model from its prior
 * (see `infer/diagnose.ts`), and keeps this one as `cause`.
 */
export class ZeroDensityError extends TycheError {
  constructor(message: string) {
    super(message);
    this.name = 'ZeroDensityError';
  }
}

/**
 * An engine met a log density of +Infinity or NaN (a weight, potential,
 * log joint or loss that is not a number it can use): the model puts
 * infinite density somewhere, e.g. an observation on a boundary where
 * the density diverges (`Beta(1, 0.5)` at 1). `infer` replaces it by an
 * error naming the site (see `infer/diagnose.ts`): the one in `blame` when
 * the engine held the execution and found it there, else one found by
 * running the model from its prior.
 */
export class NonFiniteDensityError extends TycheError {
  /**
   * @param message - what the engine saw, e.g. `importance: the log-weight of sample 3 is Infinity`
   * @param blame - the site to blame and what is wrong there, in words, when the engine found it
   */
  constructor(message: string, readonly blame?: { readonly address: string; readonly problem: string }) {
    super(message);
    this.name = 'NonFiniteDensityError';
  }
}

/**
 * What every engine says when a model branches on a tensor comparison (a
 * boolean tensor made during a model run that nothing consumed or read: in a
 * JS condition a tensor is always true). Prefixed by `site "<site>": ` in
 * {@link branchOnTensorError}.
 */
export const BRANCH_ON_TENSOR_MESSAGE =
  'the model branches on a tensor comparison (e.g. `if (ops.gt(x, 0))`): a tensor is always true in a JS condition. Use ops.where(cond, a, b) to choose a value, or toNumber(...) to branch on a number';

/** The error for a model that branches on a tensor comparison made at (or just before) `site`. */
export function branchOnTensorError(site: string): ModelError {
  return new ModelError(site, BRANCH_ON_TENSOR_MESSAGE);
}

/**
 * The error for a tensor comparison used as a JS condition, found in the
 * model's source before it runs (`core/condition-lint.ts`): names the model,
 * the line of its source (line 1 is the line where the function starts) and
 * that line's code, then says what {@link branchOnTensorError} says.
 *
 * @param modelName - the model's name
 * @param line - 1-based line within the function's source
 * @param code - the code on that line
 * @param more - how many further places were found
 */
export function branchOnTensorSourceError(modelName: string, line: number, code: string, more = 0): TycheError {
  const others = more > 0 ? ` (and ${more} more place${more === 1 ? '' : 's'})` : '';
  return new TycheError(
    `model "${modelName}", line ${line} of its source \`${code}\`${others}: ${BRANCH_ON_TENSOR_MESSAGE}. ` +
      '(If that value can never be a tensor, pass checkConditions: false to infer to skip this check of the source.)',
  );
}

/** True for errors raised by tyche about the user's model, data or options (not raw JS or tfjs errors). */
export function isTycheError(err: unknown): err is TycheError | InvalidParameterError {
  return err instanceof TycheError || err instanceof InvalidParameterError;
}

/**
 * Whether an error thrown while evaluating a model at a point means "this
 * point has density zero" (reject it) rather than "the run failed": only a
 * distribution's parameter check, {@link InvalidParameterError}.
 */
export function rejectsPoint(err: unknown): boolean {
  return err instanceof InvalidParameterError;
}

function whereIn(afterSite: string | undefined): string {
  return afterSite === undefined ? 'before its first site' : `after site "${afterSite}"`;
}

/** What tfjs throws on a freed tensor: an op reading its data (`...(reading 'backend')`), or a method of it. */
const DISPOSED_TENSOR = /^Cannot read properties of undefined \(reading 'backend'\)$|^Tensor is disposed\.?$/;

/**
 * The way out when the model used a tensor that was freed: the tensors a
 * model makes while it runs are freed when that run ends, so one kept for
 * later runs (cached in an outer variable or object) is gone by the next run.
 */
function disposedTensorHint(err: unknown): string {
  if (!(err instanceof Error) || !DISPOSED_TENSOR.test(err.message)) return '';
  return ' (a tensor used here was freed: the tensors a model makes while it runs are freed when that run ends, so a tensor kept for later runs, e.g. cached in a variable or object outside the model, must be made outside the model, or wrapped in tf.keep)';
}

/** A tensor method called on something that is not a tensor (`mu.dataSync is not a function`). */
const TENSOR_METHOD_ON_NUMBER = /\.(dataSync|data|arraySync|array|bufferSync|buffer|print|dispose|clone|reshape|squeeze|expandDims|cast|add|sub|mul|div|neg|exp|log|sum|mean) is not a function$/;

/**
 * The way out when the model called a tensor method on a draw: a draw is a
 * plain number in some runs of every engine (the gradient engines' first,
 * layout-finding run and the runs that complete the draws) and a tensor in
 * others.
 */
function numberDrawHint(err: unknown): string {
  if (!(err instanceof TypeError) || !TENSOR_METHOD_ON_NUMBER.test(err.message)) return '';
  return ' (a draw is a plain number in some runs, such as the first, layout-finding run of nuts or hmc, and a tensor in others: read it with toNumber(x) or toArray(x) and compute with ops, which take both)';
}

function describeError(err: unknown): string {
  if (err instanceof TycheError) return err.message;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
