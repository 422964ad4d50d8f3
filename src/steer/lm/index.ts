/**
 * The language-model layer: the {@link LanguageModel} interface, the wrapper
 * every model gets ({@link CachedLanguageModel}: auto-batching, prefix trie,
 * KV caches, counters), vocabularies, sampling helpers, exact LMs (n-gram,
 * weighted set, PCFG) and exact conditioning on a regular expression by
 * dynamic programming. See docs/steer/lm.md.
 *
 * @module
 */
export { type Vocabulary, type KVCache, type ExtendRequest, type ExtendResult, type LanguageModel, type IncrementalLanguageModel, type LanguageModelCallOptions, isIncremental } from './types.js';
export {
  LanguageModelError,
  UnknownTokenError,
  ContextLengthError,
  VocabularyMismatchError,
  ZeroProbabilityPrefixError,
  validatePrefix,
  vocabularyDifference,
  assertSameVocabulary,
} from './errors.js';
export { TokenVocabulary, ByteVocabulary, type VocabularyOptions } from './vocab.js';
export { type SampleOptions, sampleToken, shapeRow, sampleFromLogprobs, logSumExpRow, argmaxRow } from './sampling.js';
export { TickBatcher, type FlushMode } from './batcher.js';
export { PrefixTrie, TrieNode, type TrieBudget, type TrieCounts } from './trie.js';
export { CachedLanguageModel, wrapLanguageModel, type CachedLanguageModelOptions, type LanguageModelStats, type LogprobsRequestOptions } from './cached.js';
export { FiniteStateLanguageModel, StateCache, type FiniteStateLM, isFiniteStateLM } from './finite-state.js';
export { NGramLM, type NGramOptions, type Smoothing } from './ngram.js';
export { MarkovLM } from './markov.js';
export { WeightedSetLM, type WeightedString } from './weighted-set.js';
export { PcfgLM, type Pcfg, type PcfgRule } from './pcfg.js';
export { CharRegex, compileRegex, RegexSyntaxError, type CharAutomaton } from './regex.js';
export { RegexConditionedLM, conditionOnRegex, type ConditionOptions, type PositionMarginals, type ExactString } from './dp.js';
export { TransformerLM, TransformerKVCache, type TransformerLMOptions } from './transformer/lm.js';
export { type FusedStepOptions, type TypedKV } from './transformer/step.js';
export { type TransformerConfig, type TransformerWeights, initWeights, weightShapes, parameterCount } from './transformer/model.js';
export { CharVocabulary, CHAR_BOS, CHAR_EOS } from './transformer/tokenizer.js';
export { type ModelHeader, encodeWeights, decodeWeights, parseHeader } from './transformer/weights.js';
export { ProcessRewardModel } from './transformer/prm.js';
export { ARITH_ALPHABET, type ArithProblem, type StepCheck, arithmeticProblems, randomProblem, solve, checkSolution, corruptedSolution, extractAnswer } from './arithmetic.js';
export { generate, topK, type GenerateOptions, type Generation } from './generate.js';
export { OpenAICompletionsClient, OpenAIClientError, type OpenAIClientOptions, type CompletionOptions, type Completion } from './openai.js';
export * from './potentials/index.js';
export * from './samplers/index.js';
export * from './smc/index.js';
export * from './scaling/index.js';
