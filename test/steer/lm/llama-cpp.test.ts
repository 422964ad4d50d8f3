/**
 * llama.cpp (node-llama-cpp) against tfjs on the same weights: the shipped
 * kjv-char transformer is exported to GGUF and loaded in llama.cpp, and both
 * give the same next-token log-probabilities. Skips, saying why, when
 * node-llama-cpp is not installed.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/backend/select.js';
import { exportTransformerGGUF, readGGUFInfo } from '../../../src/steer/lm/gguf.js';
import { type LlamaCppLanguageModel, loadLlamaCpp } from '../../../src/steer/lm/llama-cpp.js';
import { loadTransformerLM } from '../../../src/steer/lm/transformer/files.js';
import type { TransformerLM } from '../../../src/steer/lm/transformer/lm.js';
import { lmConformance } from '../../helpers/lm-conformance.js';

const pkg = 'node-llama-cpp';
const available = await import(pkg).then(
  () => true,
  () => false,
);
if (!available) console.warn('llama-cpp.test.ts: skipped: node-llama-cpp is not installed (npm install node-llama-cpp@3.21.1)');

/**
 * Tolerance on log-probabilities (nats) of tokens with probability above 1e-6: both runtimes compute in
 * float32 (llama.cpp in precise mode: float32 KV cache, no flash attention) and differ only in
 * summation order and exp/SiLU approximations, measured at ~4e-6; see docs/steer/lm-models.md.
 */
export const LLAMA_CPP_TOLERANCE = 1e-4;

const dir = mkdtempSync(join(tmpdir(), 'tyche-gguf-'));
const gguf = join(dir, 'kjv-char.gguf');

describe.skipIf(!available)('llama.cpp adapter on the exported kjv-char transformer', () => {
  let tfLM: TransformerLM;
  let cpp: LlamaCppLanguageModel;
  beforeAll(async () => {
    await initBackend();
    tfLM = loadTransformerLM('kjv-char');
    exportTransformerGGUF(tfLM, gguf);
    cpp = await loadLlamaCpp({ modelPath: gguf, sequences: 4, name: 'kjv-char.gguf', threads: 1 });
  }, 120_000);
  afterAll(async () => {
    await cpp?.close();
    tfLM?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes a GGUF v3 llama file whose metadata reads back', () => {
    const info = readGGUFInfo(gguf, 1000);
    expect(info.version).toBe(3);
    expect(info.metadata['general.architecture']).toBe('llama');
    expect(info.metadata['llama.block_count']).toBe(tfLM.config.nLayers);
    expect((info.metadata['tokenizer.ggml.tokens'] as string[]).length).toBe(tfLM.vocab.size);
  });

  it('has the same vocabulary bytes and tokenizes text one character per token, as tyche does', () => {
    for (let id = 0; id < tfLM.vocab.size; id++) expect(cpp.vocab.tokenText(id)).toBe(tfLM.vocab.tokenText(id));
    expect(cpp.vocab.encode('And God said, Let there be light')).toEqual(tfLM.vocab.encode('And God said, Let there be light'));
    expect(cpp.vocab.bos).toBe(tfLM.vocab.bos);
    expect(cpp.vocab.eos).toBe(tfLM.vocab.eos);
  });

  it(`gives tfjs's next-token log-probabilities within ${LLAMA_CPP_TOLERANCE} nats, many sequences at once`, async () => {
    const texts = ['', 'A', 'And God said', 'In the beginning God created the heaven and the earth', 'The LORD is my shepherd; I shall not want', 'And it came to pass, when'];
    const prefixes = texts.map((t) => tfLM.vocab.encode(t));
    const [a, b] = [await tfLM.nextTokenLogprobs(prefixes), await cpp.nextTokenLogprobs(prefixes)];
    let worst = 0;
    for (let i = 0; i < prefixes.length; i++) {
      for (let t = 0; t < tfLM.vocab.size; t++) {
        if (Math.exp(a[i]![t]!) > 1e-6) worst = Math.max(worst, Math.abs(a[i]![t]! - b[i]![t]!));
      }
    }
    console.log(`llama.cpp vs tfjs: largest |log p difference| = ${worst.toExponential(2)} nats over ${prefixes.length} prefixes`);
    expect(worst).toBeLessThan(LLAMA_CPP_TOLERANCE);
  });

  it('has teeth: with llama.cpp fast defaults (f16 KV cache, flash attention) the same comparison exceeds the tolerance', async () => {
    const fast = await loadLlamaCpp({ modelPath: gguf, sequences: 2, name: 'kjv-char-f16.gguf', threads: 1, kvCacheF32: false });
    const prefixes = ['And it came to pass, when', 'The LORD is my shepherd; I shall not want'].map((t) => tfLM.vocab.encode(t));
    const [a, b] = [await tfLM.nextTokenLogprobs(prefixes), await fast.nextTokenLogprobs(prefixes)];
    let worst = 0;
    for (let i = 0; i < prefixes.length; i++) for (let t = 0; t < tfLM.vocab.size; t++) if (Math.exp(a[i]![t]!) > 1e-6) worst = Math.max(worst, Math.abs(a[i]![t]! - b[i]![t]!));
    await fast.close();
    expect(worst).toBeGreaterThan(LLAMA_CPP_TOLERANCE);
  });

  it('reuses a sequence KV cache for a prefix that extends the last one', async () => {
    const p = tfLM.vocab.encode('And the earth was');
    await cpp.nextTokenLogprobs([p]);
    const before = cpp.stats.tokensEvaluated;
    const [row] = await cpp.nextTokenLogprobs([[...p, tfLM.vocab.encode(' ')[0]!]]);
    expect(cpp.stats.tokensEvaluated - before).toBeLessThanOrEqual(p.length); // not the whole prefix again (4 sequences may each hold another)
    expect(row!.length).toBe(tfLM.vocab.size);
  });

  it('names a missing file and an unsupported architecture', async () => {
    await expect(loadLlamaCpp({ modelPath: join(dir, 'absent.gguf') })).rejects.toThrow(/absent.gguf does not exist/);
    const bytes = readFileSync(gguf);
    const text = Buffer.from(bytes).toString('latin1').replace('general.architecture\u0008\u0000\u0000\u0000\u0005\u0000\u0000\u0000\u0000\u0000\u0000\u0000llama', 'general.architecture\u0008\u0000\u0000\u0000\u0005\u0000\u0000\u0000\u0000\u0000\u0000\u0000zorba');
    const bad = join(dir, 'zorba.gguf');
    writeFileSync(bad, Buffer.from(text, 'latin1'));
    await expect(loadLlamaCpp({ modelPath: bad })).rejects.toThrow(/unsupported architecture "zorba"/);
    const notGguf = join(dir, 'not.gguf');
    writeFileSync(notGguf, 'hello world, not a model');
    await expect(loadLlamaCpp({ modelPath: notGguf })).rejects.toThrow(/not a GGUF file/);
  });
});

if (available) {
  lmConformance('llama.cpp (exported kjv-char GGUF)', async () => {
    await initBackend();
    const lm = loadTransformerLM('kjv-char');
    const path = join(mkdtempSync(join(tmpdir(), 'tyche-gguf-')), 'conformance.gguf');
    exportTransformerGGUF(lm, path);
    lm.dispose();
    return loadLlamaCpp({ modelPath: path, sequences: 4, name: 'kjv-char.gguf', threads: 1 });
  }, { prefixes: 8, maxPrefixLength: 30 });
}
