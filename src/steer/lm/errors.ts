/**
 * Errors of the language-model layer. Each names the model and the cause, so
 * a failure deep inside a steering run says which model rejected what.
 *
 * @module
 */
import type { LanguageModel, Vocabulary } from './types.js';

/** Base class: every error of the LM layer carries the model's name. */
export class LanguageModelError extends Error {
  /** @param model - the name of the model the error is about */
  constructor(
    readonly model: string,
    message: string,
  ) {
    super(`language model "${model}": ${message}`);
    this.name = 'LanguageModelError';
  }
}

/** A token id outside `0 .. vocab.size - 1` (or not an integer). */
export class UnknownTokenError extends LanguageModelError {
  constructor(
    model: string,
    readonly tokenId: number,
    readonly position: number,
    readonly vocabSize: number,
  ) {
    super(model, `unknown token id ${tokenId} at position ${position} of the prefix (vocabulary has ids 0..${vocabSize - 1})`);
    this.name = 'UnknownTokenError';
  }
}

/** A prefix longer than the model can condition on. */
export class ContextLengthError extends LanguageModelError {
  constructor(
    model: string,
    readonly prefixLength: number,
    readonly contextLength: number,
    readonly withBos: boolean,
  ) {
    super(
      model,
      `prefix of ${prefixLength} tokens${withBos ? ' (plus BOS)' : ''} is longer than the context length ${contextLength}`,
    );
    this.name = 'ContextLengthError';
  }
}

/** Two models (or a model and a potential) whose vocabularies differ. */
export class VocabularyMismatchError extends LanguageModelError {
  constructor(
    model: string,
    readonly other: string,
    readonly cause_: string,
  ) {
    super(model, `vocabulary does not match that of "${other}": ${cause_}`);
    this.name = 'VocabularyMismatchError';
  }
}

/** A next-token distribution asked for a prefix the model gives probability zero (exact models only). */
export class ZeroProbabilityPrefixError extends LanguageModelError {
  constructor(
    model: string,
    readonly prefix: readonly number[],
  ) {
    super(model, `the prefix [${prefix.slice(0, 20).join(', ')}${prefix.length > 20 ? ', ...' : ''}] has probability zero, so its next-token distribution is undefined`);
    this.name = 'ZeroProbabilityPrefixError';
  }
}

/**
 * Check a prefix against a model: integer token ids inside the vocabulary and
 * a length (plus BOS where the model adds one) within the context.
 * @throws UnknownTokenError, ContextLengthError
 */
export function validatePrefix(lm: Pick<LanguageModel, 'name' | 'vocab' | 'contextLength'>, prefix: readonly number[]): void {
  const n = lm.vocab.size;
  for (let i = 0; i < prefix.length; i++) {
    const t = prefix[i];
    if (!Number.isInteger(t) || t < 0 || t >= n) throw new UnknownTokenError(lm.name, t, i, n);
  }
  const withBos = lm.vocab.bos !== null;
  // The model conditions on the prefix (plus BOS); the last position predicts the next token.
  if (prefix.length + (withBos ? 1 : 0) > lm.contextLength) {
    throw new ContextLengthError(lm.name, prefix.length, lm.contextLength, withBos);
  }
}

/**
 * The first difference between two vocabularies, or null when they agree
 * (same size, BOS, EOS and bytes of every token).
 */
export function vocabularyDifference(a: Vocabulary, b: Vocabulary): string | null {
  if (a.size !== b.size) return `sizes differ (${a.size} vs ${b.size})`;
  if (a.eos !== b.eos) return `EOS ids differ (${a.eos} vs ${b.eos})`;
  if (a.bos !== b.bos) return `BOS ids differ (${a.bos} vs ${b.bos})`;
  for (let id = 0; id < a.size; id++) {
    const x = a.tokenBytes(id);
    const y = b.tokenBytes(id);
    let same = x.length === y.length;
    for (let i = 0; same && i < x.length; i++) same = x[i] === y[i];
    if (!same) return `token ${id} is ${JSON.stringify(a.tokenText(id))} in one and ${JSON.stringify(b.tokenText(id))} in the other`;
  }
  return null;
}

/**
 * Throw a {@link VocabularyMismatchError} naming both models unless their
 * vocabularies agree token for token. Call it before combining two models
 * (a proposal and a target, a model and a potential).
 */
export function assertSameVocabulary(
  a: { readonly name: string; readonly vocab: Vocabulary },
  b: { readonly name: string; readonly vocab: Vocabulary },
): void {
  if (a.vocab === b.vocab) return;
  const diff = vocabularyDifference(a.vocab, b.vocab);
  if (diff !== null) throw new VocabularyMismatchError(a.name, b.name, diff);
}
