/**
 * The King James Bible corpus of the `kjv-char` model, from Debian's
 * `bible-kjv` / `bible-kjv-text` packages (public domain text): one verse per
 * line, references stripped. Regenerate with
 *   apt-get install bible-kjv && npx tsx scripts/lm/kjv-corpus.ts
 * which writes .tmp/kjv-verses.txt. Every 50th verse is held out.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const KJV_PATH = fileURLToPath(new URL('../../.tmp/kjv-verses.txt', import.meta.url));

/** The verses, regenerating the file from the `bible` program when absent. */
export function kjvVerses(): string[] {
  if (!existsSync(KJV_PATH)) {
    let raw: string;
    try {
      raw = execFileSync('bible', ['-f', 'Gen1:1-Rev22:21'], { encoding: 'utf8', maxBuffer: 1 << 26 });
    } catch (err) {
      throw new Error(`kjv corpus: ${KJV_PATH} is absent and the Debian \`bible\` program failed (apt-get install bible-kjv): ${String(err)}`);
    }
    const verses = raw.split('\n').filter((l) => l.trim() !== '').map((l) => l.replace(/^\S+ /, ''));
    mkdirSync(fileURLToPath(new URL('../../.tmp/', import.meta.url)), { recursive: true });
    writeFileSync(KJV_PATH, verses.join('\n') + '\n');
  }
  return readFileSync(KJV_PATH, 'utf8').split('\n').filter((l) => l !== '');
}

/** Training and held-out verses (every 50th verse held out). */
export function kjvSplit(): { train: string[]; heldOut: string[] } {
  const all = kjvVerses();
  return { train: all.filter((_, i) => i % 50 !== 0), heldOut: all.filter((_, i) => i % 50 === 0) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const v = kjvVerses();
  console.log(`${v.length} verses in ${KJV_PATH}`);
}
