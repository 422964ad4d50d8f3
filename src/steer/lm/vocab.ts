/**
 * Ready-made vocabularies: tokens given as strings ({@link TokenVocabulary},
 * e.g. characters or words), and the 256 bytes ({@link ByteVocabulary}).
 * Special tokens (EOS, and BOS where wanted) come after the text tokens.
 *
 * @module
 */
import type { Vocabulary } from './types.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);

/** Options shared by the vocabularies here. */
export interface VocabularyOptions {
  /** Add a beginning-of-sequence token after EOS (default false). */
  readonly bos?: boolean;
}

function joinBytes(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Shared decode: bytes of every token joined, then decoded once. */
function decodeWith(v: Vocabulary, ids: readonly number[]): string {
  return decoder.decode(joinBytes(ids.map((id) => v.tokenBytes(id))));
}

/**
 * A vocabulary whose text tokens are given strings (characters, words,
 * pieces): token i is `tokens[i]`, then EOS, then BOS if asked for.
 * `encode` is greedy longest match, which is exact for a character
 * vocabulary.
 */
export class TokenVocabulary implements Vocabulary {
  readonly size: number;
  readonly eos: number;
  readonly bos: number | null;
  private readonly bytes: Uint8Array[];
  private readonly index = new Map<string, number>();
  private readonly maxLen: number;

  /**
   * @param tokens - distinct, non-empty token strings (ids 0 .. tokens.length - 1)
   */
  constructor(
    readonly tokens: readonly string[],
    options: VocabularyOptions = {},
  ) {
    tokens.forEach((t, i) => {
      if (typeof t !== 'string' || t.length === 0) throw new Error(`TokenVocabulary: token ${i} must be a non-empty string`);
      if (this.index.has(t)) throw new Error(`TokenVocabulary: token ${JSON.stringify(t)} appears twice (ids ${this.index.get(t)} and ${i})`);
      this.index.set(t, i);
    });
    this.eos = tokens.length;
    this.bos = options.bos ? tokens.length + 1 : null;
    this.size = tokens.length + (options.bos ? 2 : 1);
    this.bytes = tokens.map((t) => encoder.encode(t));
    this.maxLen = Math.max(0, ...tokens.map((t) => t.length));
  }

  /** A vocabulary with one token per distinct character of `alphabet` (in order of first appearance). */
  static characters(alphabet: string, options: VocabularyOptions = {}): TokenVocabulary {
    return new TokenVocabulary([...new Set(Array.from(alphabet))], options);
  }

  /** True for EOS and BOS. */
  isSpecial(id: number): boolean {
    return id === this.eos || id === this.bos;
  }

  tokenBytes(id: number): Uint8Array {
    this.check(id);
    return id < this.tokens.length ? this.bytes[id] : EMPTY;
  }

  tokenText(id: number): string {
    this.check(id);
    return id < this.tokens.length ? this.tokens[id] : '';
  }

  /** The id of a text token, or undefined. */
  id(token: string): number | undefined {
    return this.index.get(token);
  }

  decode(ids: readonly number[]): string {
    return decodeWith(this, ids);
  }

  /** Greedy longest-match tokenisation; throws naming the first character no token covers. */
  encode(text: string): number[] {
    const out: number[] = [];
    let i = 0;
    while (i < text.length) {
      let found = -1;
      let len = 0;
      for (let l = Math.min(this.maxLen, text.length - i); l >= 1; l--) {
        const id = this.index.get(text.slice(i, i + l));
        if (id !== undefined) {
          found = id;
          len = l;
          break;
        }
      }
      if (found < 0) throw new Error(`TokenVocabulary.encode: no token covers ${JSON.stringify(text.slice(i, i + 8))} at offset ${i}`);
      out.push(found);
      i += len;
    }
    return out;
  }

  private check(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.size) throw new Error(`TokenVocabulary: unknown token id ${id} (ids are 0..${this.size - 1})`);
  }
}

/** The 256 byte values as tokens 0..255, then EOS (256), then BOS (257) if asked for. */
export class ByteVocabulary implements Vocabulary {
  readonly size: number;
  readonly eos = 256;
  readonly bos: number | null;
  private readonly bytes: Uint8Array[] = Array.from({ length: 256 }, (_, b) => Uint8Array.of(b));

  constructor(options: VocabularyOptions = {}) {
    this.bos = options.bos ? 257 : null;
    this.size = options.bos ? 258 : 257;
  }

  tokenBytes(id: number): Uint8Array {
    if (!Number.isInteger(id) || id < 0 || id >= this.size) throw new Error(`ByteVocabulary: unknown token id ${id} (ids are 0..${this.size - 1})`);
    return id < 256 ? this.bytes[id] : EMPTY;
  }

  tokenText(id: number): string {
    return decoder.decode(this.tokenBytes(id));
  }

  decode(ids: readonly number[]): string {
    return decodeWith(this, ids);
  }

  /** The UTF-8 bytes of `text`. */
  encode(text: string): number[] {
    return Array.from(encoder.encode(text));
  }
}
