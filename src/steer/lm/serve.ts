/**
 * `tyche serve`: expose any tyche {@link LanguageModel} over HTTP with the
 * OpenAI-compatible completions protocol, in the request and response shapes
 * vLLM documents (Node only):
 *
 * - `GET /v1/models` → `{ object: 'list', data: [{ id, object: 'model', created, owned_by, max_model_len }] }`
 * - `POST /v1/completions` with `model`, `prompt` (string or array of
 *   strings), `max_tokens` (default 16), `temperature` (default 1; 0 =
 *   greedy), `top_k`, `top_p`, `stop` (string or array), `logprobs` (top-k per token,
 *   at most 20), `seed`, `n` (1) → `{ id, object: 'text_completion', created,
 *   model, choices: [{ index, text, logprobs: { tokens, token_logprobs,
 *   top_logprobs, text_offset } | null, finish_reason }], usage }`.
 *
 * Several prompts in one request are generated in one batch. Errors answer
 * `{ error: { message, type, param, code } }` with status 400 or 404.
 *
 * @module
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { nearMiss } from '../../core/options.js';
import { generate } from './generate.js';
import type { LanguageModel } from './types.js';

/** Options of {@link serveLanguageModel}. */
export interface ServeOptions {
  /** Port (0 = any free port; default 8000). */
  readonly port?: number;
  /** Interface (default 127.0.0.1). */
  readonly host?: string;
  /** The model id clients name (default: the model's name). */
  readonly modelId?: string;
  /** Largest `max_tokens` accepted (default: the model's context length). */
  readonly maxTokens?: number;
  /**
   * Most prompts in one request (default 1024): a request's prompts are generated in one batch, so a 4 MiB body of
   * short prompts (about 400,000) would hold the model's memory for all of them at once.
   */
  readonly maxPrompts?: number;
}

/**
 * The request fields this server reads (or refuses unless neutral), plus `user` and `stream_options` (metadata it
 * ignores). Any other field is refused: a misspelt `temprature` was ignored and the prompt sampled at temperature 1,
 * and vLLM fields this server does not implement (`min_tokens`, `ignore_eos`, ...) changed nothing without a word.
 */
const FIELDS = ['model', 'prompt', 'max_tokens', 'temperature', 'top_k', 'top_p', 'stop', 'logprobs', 'seed', 'n', 'echo', 'stream', 'presence_penalty', 'frequency_penalty', 'repetition_penalty', 'min_p', 'best_of', 'logit_bias', 'suffix', 'user', 'stream_options'];
const FIELD_SET = new Set(FIELDS);

/** Default of {@link ServeOptions.maxPrompts}. */
const MAX_PROMPTS = 1024;

class BadRequest extends Error {
  constructor(
    message: string,
    readonly param: string | null,
    readonly status = 400,
  ) {
    super(message);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 1 << 22) reject(new BadRequest('request body larger than 4 MiB', null, 413));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

let counter = 0;

/**
 * Answer one `/v1/completions` body (exported for the server and its tests).
 * `signal` stops the generation (the server aborts it when the client goes away).
 */
export async function completions(lm: LanguageModel, modelId: string, body: Record<string, unknown>, maxTokensCap: number, signal?: AbortSignal, maxPrompts = MAX_PROMPTS): Promise<unknown> {
  for (const k of Object.keys(body)) {
    if (FIELD_SET.has(k)) continue;
    const near = nearMiss(k, FIELDS);
    throw new BadRequest(`unknown field ${JSON.stringify(k)}${near ? ` (did you mean ${near}?)` : ''}: this server reads ${FIELDS.slice(0, 9).join(', ')} (and refuses other sampling parameters unless neutral)`, k);
  }
  if (body.model !== undefined && body.model !== modelId) throw new BadRequest(`The model \`${String(body.model)}\` does not exist. This server serves "${modelId}".`, 'model', 404);
  const prompts = typeof body.prompt === 'string' ? [body.prompt] : Array.isArray(body.prompt) && body.prompt.every((p) => typeof p === 'string') ? (body.prompt as string[]) : null;
  if (!prompts || prompts.length === 0) throw new BadRequest('prompt must be a string or a non-empty array of strings', 'prompt');
  if (prompts.length > maxPrompts) throw new BadRequest(`prompt has ${prompts.length} prompts, more than this server takes in one request (${maxPrompts}; they are generated in one batch): split the request`, 'prompt');
  const num = (k: string, dflt: number | null, ok: (x: number) => boolean, what: string): number | null => {
    const v = body[k];
    if (v === undefined || v === null) return dflt;
    // a number as written (JSON.stringify gave "null" for 1e999, which JSON.parse reads as Infinity)
    if (typeof v !== 'number' || !ok(v)) throw new BadRequest(`${k} must be ${what}, got ${typeof v === 'number' ? String(v) : JSON.stringify(v)}`, k);
    return v;
  };
  const maxTokens = num('max_tokens', 16, (x) => Number.isInteger(x) && x >= 0 && x <= maxTokensCap, `an integer in 0..${maxTokensCap}`)!;
  const temperature = num('temperature', 1, (x) => x >= 0 && Number.isFinite(x), 'a number >= 0')!;
  const topK = num('top_k', null, (x) => Number.isInteger(x) && (x === -1 || x >= 1), 'a positive integer or -1');
  const topP = num('top_p', 1, (x) => x > 0 && x <= 1, 'a number in (0, 1]')!;
  // sampling parameters this server does not implement: their neutral values (what OpenAI clients send by
  // default) pass, anything else is refused (before session 14 top_p and these were ignored without a word)
  const neutral: [string, number][] = [['presence_penalty', 0], ['frequency_penalty', 0], ['repetition_penalty', 1], ['min_p', 0], ['best_of', 1]];
  for (const [k, v] of neutral) {
    if (body[k] !== undefined && body[k] !== null && body[k] !== v) throw new BadRequest(`${k} is not supported by this server (only ${v}), got ${JSON.stringify(body[k])}`, k);
  }
  if (body.logit_bias !== undefined && body.logit_bias !== null && !(typeof body.logit_bias === 'object' && Object.keys(body.logit_bias).length === 0)) throw new BadRequest('logit_bias is not supported by this server', 'logit_bias');
  if (body.suffix !== undefined && body.suffix !== null && body.suffix !== '') throw new BadRequest('suffix is not supported by this server', 'suffix');
  const logprobs = num('logprobs', null, (x) => Number.isInteger(x) && x >= 0 && x <= 20, 'an integer in 0..20');
  const seed = num('seed', null, Number.isInteger, 'an integer');
  const n = num('n', 1, (x) => x === 1, '1 (this server returns one choice per prompt)');
  void n;
  if (body.echo) throw new BadRequest('echo is not supported', 'echo');
  if (body.stream) throw new BadRequest('stream is not supported', 'stream');
  const stop = body.stop === undefined || body.stop === null ? [] : typeof body.stop === 'string' ? [body.stop] : Array.isArray(body.stop) && body.stop.every((s) => typeof s === 'string') ? (body.stop as string[]) : null;
  if (stop === null) throw new BadRequest('stop must be a string or an array of strings', 'stop');
  if (stop.some((s) => s.length === 0)) throw new BadRequest('stop strings must be non-empty (an empty one would end every completion at once)', 'stop');
  if (!lm.vocab.encode) throw new BadRequest(`model "${modelId}" has no tokenizer, so it cannot take text prompts`, 'prompt');
  const ids = prompts.map((p, i) => {
    try {
      return lm.vocab.encode!(p);
    } catch (err) {
      throw new BadRequest(`prompt ${i}: ${(err as Error).message}`, 'prompt');
    }
  });
  const bos = lm.vocab.bos !== null ? 1 : 0;
  ids.forEach((p, i) => {
    if (p.length + bos > lm.contextLength) throw new BadRequest(`prompt ${i} has ${p.length} tokens, more than the model's context of ${lm.contextLength}`, 'prompt');
    // as vLLM: the prompt and max_tokens must fit the context together (before session 14 the longest
    // prompt's room silently cut every prompt of the request short, with finish_reason "length")
    if (p.length + bos + maxTokens > lm.contextLength)
      throw new BadRequest(`prompt ${i} has ${p.length} tokens${bos ? ' (and a BOS token)' : ''} and max_tokens is ${maxTokens}: together more than the model's context of ${lm.contextLength}; reduce max_tokens or the prompt`, 'max_tokens');
  });
  const gens = await generate(lm, ids, {
    maxTokens,
    temperature,
    topK: topK === null || topK === -1 ? undefined : topK,
    topP,
    // a seeded prompt's completion is its own (as vLLM: each prompt of a request is sampled with the seed),
    // whatever prompts share the request; unseeded, one fresh stream draws for all
    rng: seed === null ? `${Date.now()}-${counter}` : ids.map(() => seed),
    stop,
    topLogprobs: logprobs ?? 0,
    signal,
  });
  const created = Math.floor(Date.now() / 1000);
  const text = (id: number): string => lm.vocab.tokenText(id);
  const choices = gens.map((g, index) => {
    let lp: unknown = null;
    if (logprobs !== null) {
      const offsets: number[] = [];
      let o = prompts[index]!.length;
      for (const t of g.tokens) {
        offsets.push(o);
        o += text(t).length;
      }
      lp = {
        tokens: g.tokens.map(text),
        token_logprobs: g.logprobs,
        top_logprobs: g.top.map((row) => Object.fromEntries(row.map(([t, v]) => [text(t), v]))),
        text_offset: offsets,
      };
    }
    return { index, text: g.text, logprobs: lp, finish_reason: g.finish === 'length' ? 'length' : 'stop', stop_reason: null };
  });
  const promptTokens = ids.reduce((a, p) => a + p.length, 0);
  const completionTokens = gens.reduce((a, g) => a + g.tokens.length, 0);
  return {
    id: `cmpl-tyche-${++counter}`,
    object: 'text_completion',
    created,
    model: modelId,
    choices,
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
  };
}

/** Start serving `lm`; resolves to the listening server and its base URL (`http://host:port/v1`). */
export async function serveLanguageModel(lm: LanguageModel, options: ServeOptions = {}): Promise<{ server: Server; url: string }> {
  const modelId = options.modelId ?? lm.name;
  const cap = options.maxTokens ?? (Number.isFinite(lm.contextLength) ? lm.contextLength : 4096);
  const maxPrompts = options.maxPrompts ?? MAX_PROMPTS;
  if (!(Number.isInteger(maxPrompts) && maxPrompts >= 1)) throw new RangeError(`serveLanguageModel: maxPrompts must be a positive integer, got ${options.maxPrompts}`);
  const created = Math.floor(Date.now() / 1000);
  const server = createServer((req, res) => {
    // a client that goes away before its answer stops its generation (it would otherwise run to max_tokens)
    const gone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) gone.abort(new Error('the client closed the connection'));
    });
    void (async () => {
      try {
        const path = (req.url ?? '/').split('?')[0];
        if (req.method === 'GET' && path === '/v1/models') {
          send(res, 200, { object: 'list', data: [{ id: modelId, object: 'model', created, owned_by: 'tyche', root: modelId, max_model_len: lm.contextLength }] });
        } else if (req.method === 'GET' && path === '/health') {
          res.writeHead(200).end();
        } else if (req.method === 'POST' && path === '/v1/completions') {
          const raw = await readBody(req);
          let body: unknown;
          try {
            body = JSON.parse(raw);
          } catch {
            throw new BadRequest('the request body is not valid JSON', null);
          }
          if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequest('the request body must be a JSON object', null);
          send(res, 200, await completions(lm, modelId, body as Record<string, unknown>, cap, gone.signal, maxPrompts));
        } else {
          throw new BadRequest(`no route ${req.method} ${path} (this server has GET /v1/models and POST /v1/completions)`, null, 404);
        }
      } catch (err) {
        if (gone.signal.aborted) return; // no one to answer
        const status = err instanceof BadRequest ? err.status : 500;
        send(res, status, {
          error: { message: (err as Error).message, type: status === 404 ? 'NotFoundError' : status === 500 ? 'InternalServerError' : 'BadRequestError', param: err instanceof BadRequest ? err.param : null, code: status },
        });
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8000, options.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return { server, url: `http://${addr.address}:${addr.port}/v1` };
}
