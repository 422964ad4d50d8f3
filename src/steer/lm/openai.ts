/**
 * A client for OpenAI-compatible completion servers (vLLM, llama.cpp's
 * `llama-server`, `tyche serve`, ...): text continuation with `stop` strings
 * and the top-k log-probabilities of each generated token. Uses `fetch`, so
 * it runs in Node and in browsers.
 *
 * Limits of the protocol (see docs/steer/lm-models.md): a server returns at
 * most the top-k (vLLM: k ≤ 20 by default) log-probabilities per position,
 * never the full vocabulary, so this client is **not** a
 * {@link LanguageModel}. Over HTTP, steering works at the level of steps
 * (whole continuations scored by a potential or a PRM, as in particle
 * filtering with a PRM) or with proposals built from the top-k plus one
 * "remainder" bucket of the leftover probability mass; token-level exact
 * weights (locally optimal proposals, exact masking) need a full-vocabulary
 * model such as the llama.cpp adapter.
 *
 * @module
 */

/** Options of {@link OpenAICompletionsClient}. */
export interface OpenAIClientOptions {
  /** Base URL including `/v1`, e.g. `http://localhost:8000/v1`. */
  readonly baseURL: string;
  /** The model id to request. */
  readonly model: string;
  /** Sent as `Authorization: Bearer ...` when given. */
  readonly apiKey?: string;
  /** Per-request timeout in milliseconds (default 120000). */
  readonly timeoutMs?: number;
  /** A fetch implementation (default: the global one). */
  readonly fetch?: typeof fetch;
}

/** Options of one completion request. */
export interface CompletionOptions {
  /** Most new tokens (default 16). */
  readonly maxTokens?: number;
  /** Sampling temperature (default 1; 0 = greedy). */
  readonly temperature?: number;
  /** Nucleus sampling (sent only when given). */
  readonly topP?: number;
  /** Stop strings: the continuation ends before the first one. */
  readonly stop?: readonly string[];
  /** Return the top `logprobs` alternatives per generated token (0..20). */
  readonly logprobs?: number;
  /** Seed for the server's sampler. */
  readonly seed?: number;
  /** Aborts the request. */
  readonly signal?: AbortSignal;
}

/** One continuation. */
export interface Completion {
  readonly text: string;
  /** `stop` (EOS or a stop string) or `length`. */
  readonly finishReason: string;
  /** Generated tokens as text (when logprobs were asked for). */
  readonly tokens: string[];
  /** Log-probability of each generated token. */
  readonly tokenLogprobs: number[];
  /** Per generated token, the top alternatives (token text → log-probability). */
  readonly topLogprobs: Map<string, number>[];
}

/** An error from the server or the connection, naming the model and URL. */
export class OpenAIClientError extends Error {
  constructor(
    message: string,
    readonly url: string,
    readonly model: string,
    readonly status: number | null,
  ) {
    super(message);
    this.name = 'OpenAIClientError';
  }
}

/** A client of one model on an OpenAI-compatible server. */
export class OpenAICompletionsClient {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;

  constructor(readonly options: OpenAIClientOptions) {
    this.base = options.baseURL.replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? fetch;
  }

  private async request(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<unknown> {
    const url = `${this.base}${path}`;
    const who = `OpenAI-compatible server at ${url} (model "${this.options.model}")`;
    const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 120_000);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    let res: Response;
    try {
      res = await this.fetchImpl(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new OpenAIClientError(`${who}: cannot connect (${why}); is the server running?`, url, this.options.model, null);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new OpenAIClientError(`${who}: answered malformed JSON (HTTP ${res.status}): ${JSON.stringify(text.slice(0, 120))}`, url, this.options.model, res.status);
    }
    if (!res.ok) {
      const msg = (json as { error?: { message?: string } | string }).error;
      throw new OpenAIClientError(`${who}: HTTP ${res.status}: ${typeof msg === 'string' ? msg : (msg?.message ?? text.slice(0, 200))}`, url, this.options.model, res.status);
    }
    return json;
  }

  /** The model ids the server lists. */
  async models(): Promise<string[]> {
    const json = (await this.request('GET', '/models')) as { data?: { id?: unknown }[] };
    if (!Array.isArray(json.data)) throw new OpenAIClientError(`OpenAI-compatible server at ${this.base}/models: answer has no "data" list`, `${this.base}/models`, this.options.model, 200);
    return json.data.map((m) => String(m.id));
  }

  /** Continue each prompt (one request; the server batches them). */
  async complete(prompts: string | readonly string[], options: CompletionOptions = {}): Promise<Completion[]> {
    const list = typeof prompts === 'string' ? [prompts] : [...prompts];
    const body: Record<string, unknown> = {
      model: this.options.model,
      prompt: list,
      max_tokens: options.maxTokens ?? 16,
      temperature: options.temperature ?? 1,
    };
    if (options.topP !== undefined) body.top_p = options.topP;
    if (options.stop?.length) body.stop = [...options.stop];
    if (options.logprobs !== undefined) body.logprobs = options.logprobs;
    if (options.seed !== undefined) body.seed = options.seed;
    const url = `${this.base}/completions`;
    const json = (await this.request('POST', '/completions', body, options.signal)) as { choices?: unknown };
    const bad = (why: string): OpenAIClientError => new OpenAIClientError(`OpenAI-compatible server at ${url} (model "${this.options.model}"): unexpected answer: ${why}`, url, this.options.model, 200);
    if (!Array.isArray(json.choices)) throw bad('no "choices" list');
    const out: Completion[] = new Array(list.length);
    for (const c of json.choices as { index?: number; text?: unknown; finish_reason?: unknown; logprobs?: { tokens?: string[]; token_logprobs?: number[]; top_logprobs?: (Record<string, number> | null)[] } | null }[]) {
      const i = typeof c.index === 'number' ? c.index : out.findIndex((x) => x === undefined);
      if (i < 0 || i >= list.length || typeof c.text !== 'string') throw bad(`choice ${JSON.stringify(c).slice(0, 80)}`);
      const lp = c.logprobs ?? null;
      out[i] = {
        text: c.text,
        finishReason: String(c.finish_reason ?? ''),
        tokens: lp?.tokens ?? [],
        tokenLogprobs: lp?.token_logprobs ?? [],
        topLogprobs: (lp?.top_logprobs ?? []).map((m) => new Map(Object.entries(m ?? {}))),
      };
    }
    if (out.some((x) => x === undefined)) throw bad(`${json.choices.length} choices for ${list.length} prompts`);
    return out;
  }
}
