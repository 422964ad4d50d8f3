/**
 * The lean enumerator's cost per `infer` call on the burglary network, or on the dice model (`--n`), for an A/B
 * between source trees in alternated fresh processes (per-call costs of ~10-30 µs are bimodal between processes,
 * so compare several).
 *
 * Run: `npx tsx bench/enumerate-ab.ts /path/to/treeA /path/to/treeB [--processes 3] [--n 6]` (each tree a
 * checkout with `src/`, `models/` and `bench/dice-model.ts`; `node_modules` linked). Burglary: prints each
 * process's median and minimum CPU µs per call over 7 blocks of 3000 calls, after 3000 warm-up calls. With `--n`
 * (dice n, conditioned on the sum 5n): CPU ms per call over 7 blocks of `ceil(8000 / 6^n)` calls, after 3 such
 * blocks (n = 6: one call a block).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CALLS = 3000;
const BLOCKS = 7;

async function child(root: string, n: number | undefined): Promise<void> {
  const { infer } = await import(`${root}/src/index.js`);
  if (n !== undefined) return childDice(root, infer, n);
  const { burglary } = await import(`${root}/models/burglary.js`);
  for (let i = 0; i < CALLS; i++) await infer(burglary, { method: 'enumerate' });
  const per: number[] = [];
  for (let b = 0; b < BLOCKS; b++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < CALLS; i++) await infer(burglary, { method: 'enumerate' });
    const c = process.cpuUsage(c0);
    per.push((c.user + c.system) / CALLS);
  }
  per.sort((a, b) => a - b);
  console.log(`${root}: median ${per[BLOCKS >> 1]!.toFixed(1)} µs a call, min ${per[0]!.toFixed(1)}`);
}

/** The dice model of `root`'s bench, n dice conditioned on the sum 5n: CPU ms per call. */
async function childDice(root: string, infer: (...a: unknown[]) => Promise<unknown>, n: number): Promise<void> {
  const { dice } = await import(`${root}/bench/dice-model.js`);
  const calls = Math.ceil(8000 / 6 ** n);
  const block = async () => {
    const c0 = process.cpuUsage();
    for (let i = 0; i < calls; i++) await infer(dice, { method: 'enumerate' }, n, 5 * n);
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1000 / calls;
  };
  for (let b = 0; b < 3; b++) await block();
  const per: number[] = [];
  for (let b = 0; b < BLOCKS; b++) per.push(await block());
  per.sort((a, b) => a - b);
  console.log(`${root}: dice n=${n}: median ${per[BLOCKS >> 1]!.toFixed(2)} ms a call, min ${per[0]!.toFixed(2)}`);
}

const args = process.argv.slice(2);
/** The value after `flag`, and its position (-1 when absent). */
const flag = (name: string): [string | undefined, number] => {
  const i = args.indexOf(name);
  return [i >= 0 ? args[i + 1] : undefined, i];
};
const [nArg, ni] = flag('--n');
const n = nArg === undefined ? undefined : Number(nArg);
if (n !== undefined && !(Number.isInteger(n) && n >= 1 && n <= 8)) throw new Error(`--n must be an integer from 1 to 8, got ${nArg}`);
if (args[0] === '--child') {
  await child(args[1]!, n);
} else {
  const [pArg, pi] = flag('--processes');
  const processes = pArg === undefined ? 3 : Number(pArg);
  const roots = args.filter((a, i) => !a.startsWith('--') && (pi < 0 || i !== pi + 1) && (ni < 0 || i !== ni + 1));
  if (roots.length === 0) throw new Error('usage: npx tsx bench/enumerate-ab.ts TREE [TREE ...] [--processes N] [--n DICE]');
  const self = fileURLToPath(import.meta.url);
  for (let p = 0; p < processes; p++) {
    for (const root of roots) process.stdout.write(execFileSync('npx', ['tsx', self, '--child', root, ...(n === undefined ? [] : ['--n', String(n)])], { encoding: 'utf8' }));
  }
}
