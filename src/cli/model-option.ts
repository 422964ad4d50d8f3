/**
 * `--model NAME|PATH` of `tyche steer` and `tyche serve`: a shipped
 * transformer by name or a saved one by path, with a usage error (not a
 * stack trace) for a name that is neither, naming the shipped models and
 * the nearest one, and for a shipped reward model given where a language
 * model is needed.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { nearMiss } from '../core/options.js';
import { SHIPPED_MODELS, loadTransformerLM, modelPath, readModelHeader } from '../steer/lm/transformer/files.js';
import type { TransformerLM } from '../steer/lm/transformer/lm.js';
import { UsageError } from './args.js';

/** Load the language model `--model` names, or throw a `UsageError` that starts with `command:`. */
export function loadModelOption(command: string, nameOrPath: string): TransformerLM {
  const stem = modelPath(nameOrPath);
  const lms = SHIPPED_MODELS.filter((m) => readModelHeader(m).config.head === 'lm');
  if (!existsSync(`${stem}.json`) || !existsSync(`${stem}.bin`)) {
    const near = nearMiss(nameOrPath, lms);
    throw new UsageError(
      `${command}: --model "${nameOrPath}" is neither a shipped language model (${lms.join(', ')}) nor a saved model (${existsSync(`${stem}.json`) ? `${stem}.bin` : `${stem}.json`} does not exist)${near === undefined ? '' : `; did you mean ${near}?`}`,
    );
  }
  const head = readModelHeader(nameOrPath).config.head;
  if (head !== 'lm') throw new UsageError(`${command}: --model "${nameOrPath}" is a reward model (a "${head}" head), not a language model; the shipped language models are ${lms.join(', ')}`);
  return loadTransformerLM(nameOrPath);
}
