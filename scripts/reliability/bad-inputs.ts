/**
 * Prints the reliability tier's table: for every engine and every bad input
 * (test/reliability/bad-input-cases.ts), the error class and the start of the
 * message it raised, and whether the message names what it must.
 *
 *   npx tsx scripts/reliability/bad-inputs.ts [--grid] [engine ...]
 *
 * `--grid` prints one line per engine: the error class of each case
 * (IPE InvalidParameterError, ME ModelError, MCE ModelCodeError, TE TycheError),
 * with `!` where the message misses what it must name and `-` where no error came.
 */
import { BAD_INPUTS, ENGINES, runCase } from '../../test/reliability/bad-input-cases.js';

const argv = process.argv.slice(2);
const grid = argv.includes('--grid');
const named = argv.filter((a) => a !== '--grid');
const engines = named.length > 0 ? named : Object.keys(ENGINES);
const SHORT: Record<string, string> = { InvalidParameterError: 'IPE', ModelError: 'ME', ModelCodeError: 'MCE', TycheError: 'TE' };

let failures = 0;
if (grid) console.log(`${'engine'.padEnd(11)} ${BAD_INPUTS.map((c) => c.name.slice(0, 11).padEnd(11)).join(' ')}`);
for (const engine of engines) {
  if (!grid) console.log(`\n## ${engine}`);
  const cells: string[] = [];
  for (const c of BAD_INPUTS) {
    const err = await runCase(c, engine);
    const e = err as Error | undefined;
    const msg = String(e?.message ?? err).replace(/\s+/g, ' ');
    const ok = err !== undefined && c.mentions.every((m) => msg.includes(m));
    if (!ok) failures++;
    const cls = err === undefined ? '-' : (e?.constructor?.name ?? typeof err);
    if (grid) cells.push(`${SHORT[cls] ?? cls}${ok ? '' : '!'}`.padEnd(11));
    else console.log(`${c.name.padEnd(24)} ${err === undefined ? 'NO ERROR (returned a posterior)' : `${ok ? 'ok  ' : 'BAD '} ${cls}: ${msg.slice(0, 150)}`}`);
  }
  if (grid) console.log(`${engine.padEnd(11)} ${cells.join(' ')}`);
}
console.log(`\n${failures} case(s) without the expected error`);
