/**
 * Session 14 (STEERUSER): the npm package carries every file the shipped-model loaders read.
 *
 * Before session 14 `package.json`'s `files` listed `models/diffusion` but not `models/lm`, so in an
 * installed package the first example of docs/steer/steering.md (`loadTransformerLM('kjv-char')`),
 * `tyche steer` and `tyche serve` all failed with "transformer model kjv-char: file
 * .../node_modules/tyche/models/lm/kjv-char.json does not exist". The repository's own tests never
 * noticed: they read the weights from the checkout. Planted bug: drop `"models/lm"` from `files`.
 */
import { execFileSync } from 'node:child_process';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SHIPPED_LM_DIR, SHIPPED_MODELS } from '../../../src/steer/lm/transformer/files.js';
import { SHIPPED_DIFFUSION, SHIPPED_DIFFUSION_DIR } from '../../../src/steer/diffusion/files.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The paths `npm pack` would put in the tarball (no build: `--ignore-scripts`). */
function packedFiles(): Set<string> {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const [pack] = JSON.parse(out) as { files: { path: string }[] }[];
  return new Set(pack.files.map((f) => f.path));
}

describe('the npm package ships the models its loaders read (session 14)', () => {
  it('every shipped transformer, diffusion network and the digits data are in the tarball', () => {
    const files = packedFiles();
    const lmDir = relative(ROOT, SHIPPED_LM_DIR).split('\\').join('/');
    const diffusionDir = relative(ROOT, SHIPPED_DIFFUSION_DIR).split('\\').join('/');
    const needed = [
      ...SHIPPED_MODELS.flatMap((n) => [`${lmDir}/${n}.json`, `${lmDir}/${n}.bin`]),
      ...SHIPPED_DIFFUSION.flatMap((n) => [`${diffusionDir}/${n}.json`, `${diffusionDir}/${n}.bin`]),
      'models/data/digits.csv.gz',
    ];
    const missing = needed.filter((p) => !files.has(p));
    expect(missing).toEqual([]);
  }, 60_000);
});
