/**
 * The OpenAI-compatible client against real server processes on localhost:
 * `tyche serve --model kjv-char` (spawned with bin/tyche.js), a process that
 * answers malformed JSON, and a port nobody listens on.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/backend/select.js';
import { OpenAICompletionsClient } from '../../../src/steer/lm/openai.js';
import { loadTransformerLM } from '../../../src/steer/lm/transformer/files.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** Spawn a process and resolve with the first stdout line matching `re`. */
function spawnAndWait(cmd: string, args: string[], re: RegExp): Promise<{ proc: ChildProcess; match: RegExpExecArray }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = re.exec(out);
      if (m) resolve({ proc, match: m });
    });
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    proc.on('exit', (code) => reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${err.slice(-500)}`)));
  });
}

let serveProc: ChildProcess | undefined;
let garbageProc: ChildProcess | undefined;
let url = '';
let garbageUrl = '';

beforeAll(async () => {
  const [serve, garbage] = await Promise.all([
    spawnAndWait(process.execPath, ['bin/tyche.js', 'serve', '--model', 'kjv-char', '--port', '0'], /at (http:\/\/\S+)\n/),
    spawnAndWait(process.execPath, ['-e', "const s=require('http').createServer((q,r)=>{r.writeHead(200,{'content-type':'application/json'});r.end('{\"choices\": [oops')});s.listen(0,'127.0.0.1',()=>console.log('port '+s.address().port))"], /port (\d+)\n/),
  ]);
  serveProc = serve.proc;
  url = serve.match[1]!;
  garbageProc = garbage.proc;
  garbageUrl = `http://127.0.0.1:${garbage.match[1]}/v1`;
}, 90_000);

afterAll(() => {
  serveProc?.kill('SIGTERM');
  garbageProc?.kill('SIGTERM');
});

describe('OpenAI-compatible client against `tyche serve`', () => {
  it('lists the model and continues several prompts with stop strings and top-k log-probabilities', async () => {
    const client = new OpenAICompletionsClient({ baseURL: url, model: 'kjv-char' });
    expect(await client.models()).toEqual(['kjv-char']);
    const prompts = ['And God said', 'In the beginning'];
    const a = await client.complete(prompts, { maxTokens: 30, temperature: 1, stop: [',', ';'], logprobs: 3, seed: 7 });
    const b = await client.complete(prompts, { maxTokens: 30, temperature: 1, stop: [',', ';'], logprobs: 3, seed: 7 });
    expect(a.map((c) => c.text)).toEqual(b.map((c) => c.text)); // seeded
    for (const c of a) {
      expect(c.text.includes(',') || c.text.includes(';')).toBe(false);
      expect(c.tokens.join('')).toBe(c.text);
      expect(['stop', 'length']).toContain(c.finishReason);
      c.topLogprobs.forEach((top, j) => {
        expect(top.size).toBe(3);
        expect(c.tokenLogprobs[j]!).toBeLessThanOrEqual(Math.max(...top.values()) + 1e-6);
      });
    }
    // The reported log-probabilities are the model's own: compare the first step with tfjs in this process.
    await initBackend();
    const lm = loadTransformerLM('kjv-char');
    const [row] = await lm.nextTokenLogprobs([lm.vocab.encode(prompts[0]!)]);
    const first = a[0]!.tokens.length > 0 ? a[0]!.topLogprobs[0]! : null;
    if (first) for (const [tok, lp] of first) expect(Math.abs(lp - row![lm.vocab.encode(tok)[0]!]!)).toBeLessThan(1e-5);
    lm.dispose();
  });

  it('reports HTTP errors with the server message, the model and the URL', async () => {
    const client = new OpenAICompletionsClient({ baseURL: url, model: 'gpt-nothing' });
    await expect(client.complete('hi')).rejects.toThrow(/server at http:\/\/127\.0\.0\.1:\d+\/v1\/completions \(model "gpt-nothing"\): HTTP 404: The model `gpt-nothing` does not exist/);
    const ok = new OpenAICompletionsClient({ baseURL: url, model: 'kjv-char' });
    await expect(ok.complete('hi', { maxTokens: 100000 })).rejects.toThrow(/HTTP 400: max_tokens must be an integer/);
    await expect(ok.complete('~~')).rejects.toThrow(/HTTP 400: prompt 0: .*character "~"/);
  });

  it('says when a server answers malformed JSON', async () => {
    const client = new OpenAICompletionsClient({ baseURL: garbageUrl, model: 'm' });
    await expect(client.complete('hi')).rejects.toThrow(/server at http:\/\/127\.0\.0\.1:\d+\/v1\/completions \(model "m"\): answered malformed JSON/);
  });

  it('says when nothing listens', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const client = new OpenAICompletionsClient({ baseURL: `http://127.0.0.1:${port}/v1`, model: 'm', timeoutMs: 5000 });
    await expect(client.models()).rejects.toThrow(new RegExp(`server at http://127.0.0.1:${port}/v1/models \\(model "m"\\): cannot connect \\(ECONNREFUSED\\)`));
  });
});
