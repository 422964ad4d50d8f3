/**
 * A character-level tokenizer for the shipped transformers.
 *
 * Token 0 is BOS, token 1 is EOS, and tokens 2.. are single characters (each
 * one Unicode code point, in the order given). Encoding a text that contains a
 * character outside the alphabet is an error naming the character and where
 * it is.
 *
 * @module
 */
import type { Vocabulary } from '../types.js';

/** BOS id in every {@link CharVocabulary}. */
export const CHAR_BOS = 0;
/** EOS id in every {@link CharVocabulary}. */
export const CHAR_EOS = 1;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** A {@link Vocabulary} of single characters plus BOS and EOS. */
export class CharVocabulary implements Vocabulary {
  readonly size: number;
  readonly bos = CHAR_BOS;
  readonly eos = CHAR_EOS;
  /** The characters, token id `i + 2` being `chars[i]`. */
  readonly chars: readonly string[];
  private readonly index = new Map<string, number>();
  private readonly bytes: Uint8Array[];

  /**
   * @param alphabet - the characters (each one code point, no repeats)
   * @param name - used in error messages (e.g. the model's name)
   */
  constructor(alphabet: string | readonly string[], readonly name = 'char-vocabulary') {
    const chars = typeof alphabet === 'string' ? Array.from(alphabet) : [...alphabet];
    for (const [i, c] of chars.entries()) {
      if (Array.from(c).length !== 1) throw new Error(`${name}: alphabet entry ${i} (${JSON.stringify(c)}) is not one character`);
      if (this.index.has(c)) throw new Error(`${name}: alphabet repeats the character ${JSON.stringify(c)}`);
      this.index.set(c, i + 2);
    }
    this.chars = chars;
    this.size = chars.length + 2;
    this.bytes = [new Uint8Array(0), new Uint8Array(0), ...chars.map((c) => utf8.encode(c))];
  }

  private check(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.size) {
      throw new Error(`${this.name}: unknown token id ${id} (vocabulary size ${this.size})`);
    }
  }

  tokenBytes(id: number): Uint8Array {
    this.check(id);
    return this.bytes[id]!;
  }

  tokenText(id: number): string {
    this.check(id);
    return id < 2 ? '' : this.chars[id - 2]!;
  }

  decode(ids: readonly number[]): string {
    let n = 0;
    for (const id of ids) n += this.tokenBytes(id).length;
    const out = new Uint8Array(n);
    let o = 0;
    for (const id of ids) {
      const b = this.bytes[id]!;
      out.set(b, o);
      o += b.length;
    }
    return utf8Decoder.decode(out);
  }

  encode(text: string): number[] {
    const ids: number[] = [];
    let pos = 0;
    for (const c of text) {
      const id = this.index.get(c);
      if (id === undefined) {
        throw new Error(`${this.name}: character ${JSON.stringify(c)} at index ${pos} of the text is not in the vocabulary`);
      }
      ids.push(id);
      pos += c.length;
    }
    return ids;
  }

  /** True when every character of `text` is in the alphabet. */
  covers(text: string): boolean {
    for (const c of text) if (!this.index.has(c)) return false;
    return true;
  }
}
