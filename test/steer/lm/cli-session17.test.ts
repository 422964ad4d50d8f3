/**
 * Session 17 (STEERUSER3): a newcomer's typos on the steering commands. `tyche steer --model kjv-chr` (and
 * `tyche serve --model kjv-chr`, `--gguf` of a missing file, `--model arith-prm`, the reward model) ended in a stack
 * trace with exit 1 ("Error: transformer model kjv-chr: file kjv-chr.json does not exist at readModelFiles ..."); an
 * unknown option (`--partciles`, `--prot`, `--lamda`) was named without the option meant. They are now usage errors
 * (exit 2, no stack) that name the shipped language models and the nearest option or model. Fails on the old code
 * (plain `Error`s; messages without "did you mean").
 */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/cli/args.js';
import { parseDiffuse } from '../../../src/cli/diffuse.js';
import { serveMain } from '../../../src/cli/serve.js';
import { steerMain } from '../../../src/cli/steer.js';

const io = { stdout: { write: () => true }, stderr: { write: () => true } };

async function usageError(p: Promise<unknown> | (() => unknown)): Promise<string> {
  const err = await (typeof p === 'function' ? Promise.resolve().then(p) : p).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UsageError);
  return (err as Error).message;
}

describe('steering commands: typos are usage errors that say what was meant (session 17)', () => {
  it('an unknown option names the nearest known one, in steer, serve and diffuse', async () => {
    expect(await usageError(steerMain(['--no-letter', 'e', '--partciles', '8'], io))).toBe("steer: Unknown option '--partciles' (did you mean --particles?)");
    expect(await usageError(serveMain(['--model', 'kjv-char', '--prot', '0'], io))).toBe("serve: Unknown option '--prot' (did you mean --port?)");
    expect(await usageError(() => parseDiffuse(['--lamda', '2']))).toBe("diffuse: Unknown option '--lamda' (did you mean --lambda?)");
    expect(await usageError(() => parseDiffuse(['--zzz']))).toBe("diffuse: Unknown option '--zzz'");
  });

  it('a model name that is not shipped, a reward model, a missing GGUF file', async () => {
    expect(await usageError(steerMain(['--no-letter', 'e', '--model', 'kjv-chr'], io))).toMatch(/^steer: --model "kjv-chr" is neither a shipped language model \(kjv-char, arith-char\) nor a saved model \(.*kjv-chr\.json does not exist\); did you mean kjv-char\?$/);
    expect(await usageError(serveMain(['--model', 'arith-chr'], io))).toMatch(/did you mean arith-char\?$/);
    expect(await usageError(steerMain(['--no-letter', 'e', '--model', 'arith-prm'], io))).toBe('steer: --model "arith-prm" is a reward model (a "scalar" head), not a language model; the shipped language models are kjv-char, arith-char');
    expect(await usageError(serveMain(['--gguf', '/nonexistent/model.gguf'], io))).toBe('serve: --gguf /nonexistent/model.gguf: no such file');
  }, 60_000);
});
