/**
 * `serveLanguageModel`: a client that closes its connection stops its
 * generation. On the code before, the server ran the request to
 * `max_tokens` for no one (SURFACES, session 11): here the model's calls
 * went on growing after the client had gone.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/backend/select.js';
import { serveLanguageModel } from '../../../src/steer/lm/serve.js';
import { loadTransformerLM } from '../../../src/steer/lm/transformer/files.js';
import type { LanguageModel } from '../../../src/steer/lm/types.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let base: LanguageModel;
beforeAll(async () => {
  await initBackend('cpu');
  base = loadTransformerLM('kjv-char');
});
afterAll(() => base?.dispose?.());

describe('tyche serve: a client that goes away', () => {
  it('stops the generation it asked for (the model is called no more)', async () => {
    let calls = 0;
    // the shipped character model, each call slowed so that a long answer takes seconds
    const lm: LanguageModel = {
      name: base.name,
      vocab: base.vocab,
      contextLength: base.contextLength,
      async nextTokenLogprobs(prefixes) {
        calls++;
        await sleep(10);
        return base.nextTokenLogprobs(prefixes);
      },
    };
    const { server, url } = await serveLanguageModel(lm, { port: 0 });
    try {
      const u = new URL(`${url}/completions`);
      const body = JSON.stringify({ prompt: 'And God said', max_tokens: 100, temperature: 1, seed: 1 }) // (the model's context is 128);
      const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
      req.on('error', () => {}); // the socket we destroy
      req.end(body);
      // wait until the generation is under way, then hang up
      for (let i = 0; i < 500 && calls < 5; i++) await sleep(10);
      expect(calls).toBeGreaterThanOrEqual(5);
      req.destroy();
      await sleep(300);
      const afterHangUp = calls;
      await sleep(600);
      // the old code went on to 100 tokens (about 60 more calls in this time)
      expect(calls).toBe(afterHangUp);
      expect(calls).toBeLessThan(100);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  }, 60_000);
});
