/**
 * PROBE, session 7: shared pieces of the steering probes (default and slow tier). Exact answers
 * come from enumerating every string up to a length through the LM's own `nextTokenLogprobs`
 * (not through the library's dynamic programs), so a wrong DP cannot hide a wrong sampler.
 */
import type { LanguageModel } from '../../src/steer/lm/types.js';
import { shapeRow, type SampleOptions } from '../../src/steer/lm/sampling.js';

/** One complete string: its tokens, its text and log p(x · EOS) (or log p(x) when cut at the length). */
export interface Enumerated {
  readonly tokens: readonly number[];
  readonly text: string;
  /** log p_LM(x · EOS). */
  readonly logp: number;
  /** log p_LM(x) (prefix probability, no EOS). */
  readonly logPrefix: number;
}

/**
 * Every string of at most `maxLen` tokens with its probability, by depth-first search over the
 * LM's rows; `sampling` reshapes every row first (the law a tempered / top-k sampler draws from).
 */
export async function enumerateStrings(lm: LanguageModel, maxLen: number, sampling?: SampleOptions): Promise<Enumerated[]> {
  const out: Enumerated[] = [];
  const eos = lm.vocab.eos;
  const walk = async (x: number[], lp: number): Promise<void> => {
    const [raw] = await lm.nextTokenLogprobs([x]);
    const row = sampling ? shapeRow(raw!, sampling) : raw!;
    out.push({ tokens: x, text: lm.vocab.decode(x), logp: lp + row[eos]!, logPrefix: lp });
    if (x.length === maxLen) return;
    for (let y = 0; y < lm.vocab.size; y++) if (y !== eos && y !== lm.vocab.bos && row[y]! > -Infinity) await walk([...x, y], lp + row[y]!);
  };
  await walk([], 0);
  return out;
}

