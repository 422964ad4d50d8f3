/**
 * The option parser of the `steer`, `serve` and `diffuse` commands: Node's
 * `parseArgs` in strict mode, its errors turned into usage errors that name
 * the command and, for an unknown option, the nearest known one
 * (`--partciles` → "did you mean --particles?").
 *
 * @module
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { nearMiss } from '../core/options.js';
import { UsageError } from './args.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parse `argv` against `options` (strict); a bad command line is a `UsageError` starting with `command:`. */
export function parseCommandOptions<O extends Options>(command: string, argv: readonly string[], options: O): ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true }>>['values'] {
  try {
    return parseArgs({ args: [...argv], options, strict: true }).values;
  } catch (err) {
    const message = (err as Error).message;
    const unknown = /^Unknown option '--([^'=]+)'/.exec(message);
    const near = unknown ? nearMiss(unknown[1]!, Object.keys(options)) : undefined;
    throw new UsageError(`${command}: ${message}${near === undefined ? '' : ` (did you mean --${near}?)`}`);
  }
}
