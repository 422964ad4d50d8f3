/**
 * `tyche serve`: serve a language model over the OpenAI-compatible
 * completions protocol (see src/steer/lm/serve.ts).
 *
 * ```sh
 * npx tyche serve --model kjv-char --port 8000          # a shipped tfjs transformer
 * npx tyche serve --gguf ./model.gguf --port 8000       # any GGUF through llama.cpp (node-llama-cpp)
 * ```
 *
 * Prints `tyche serve: <model id> at <url>` once listening; stops on SIGINT/SIGTERM.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { initBackend } from '../backend/select.js';
import { loadLlamaCpp } from '../steer/lm/llama-cpp.js';
import { serveLanguageModel } from '../steer/lm/serve.js';
import type { LanguageModel } from '../steer/lm/types.js';
import { UsageError } from './args.js';
import { loadModelOption } from './model-option.js';
import { parseCommandOptions } from './parse-options.js';
import type { CliIO } from './run.js';

/** Help text of `tyche serve`. */
export const SERVE_HELP = `tyche serve: serve a language model over the OpenAI-compatible completions API

Usage: tyche serve (--model NAME|PATH | --gguf FILE) [--port 8000] [--host 127.0.0.1] [--model-id ID] [--max-prompts 1024]

  --model NAME|PATH   a shipped tfjs transformer (kjv-char, arith-char) or a saved one (models/lm format)
  --gguf FILE         a local GGUF file run by llama.cpp (needs node-llama-cpp)
  --port N            port (0 = any free port)
  --host H            interface to listen on
  --model-id ID       the model id clients send (default: the model's name)
  --max-prompts N     most prompts in one request (default 1024; a request's prompts run in one batch)
Endpoints: GET /v1/models, POST /v1/completions (prompt, max_tokens, temperature, top_k, top_p, stop, logprobs, seed;
an unknown field is a 400).
`;

/** Run `tyche serve` with the arguments after `serve`; resolves when the server closes. */
export async function serveMain(argv: readonly string[], io: CliIO): Promise<void> {
  const values = parseCommandOptions('serve', argv, { model: { type: 'string' }, gguf: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, 'model-id': { type: 'string' }, 'max-prompts': { type: 'string' }, help: { type: 'boolean' } });
  if (values.help) {
    io.stdout.write(SERVE_HELP);
    return;
  }
  if (!values.model === !values.gguf) throw new UsageError('serve: give exactly one of --model NAME|PATH or --gguf FILE');
  const port = values.port === undefined ? 8000 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`serve: --port must be an integer 0..65535, got ${values.port}`);
  const maxPrompts = values['max-prompts'] === undefined ? undefined : Number(values['max-prompts']);
  if (maxPrompts !== undefined && !(Number.isInteger(maxPrompts) && maxPrompts >= 1)) throw new UsageError(`serve: --max-prompts must be a positive integer, got ${values['max-prompts']}`);
  let lm: LanguageModel;
  if (values.gguf) {
    if (!existsSync(values.gguf)) throw new UsageError(`serve: --gguf ${values.gguf}: no such file`);
    lm = await loadLlamaCpp({ modelPath: values.gguf });
  } else {
    await initBackend();
    lm = loadModelOption('serve', values.model!);
  }
  const { server, url } = await serveLanguageModel(lm, { port, host: values.host, modelId: values['model-id'], maxPrompts });
  io.stdout.write(`tyche serve: ${values['model-id'] ?? lm.name} at ${url}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      server.close(() => resolve());
      server.closeAllConnections();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  lm.dispose?.();
}
