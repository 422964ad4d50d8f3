/**
 * Prints the reliability tier's table: for every engine and every bad input
 * (test/reliability/bad-input-cases.ts), the error class and the start of the
 * message it raised, and whether the message names what it must.
 *
 *   npx tsx scripts/reliability/bad-inputs.ts [engine ...]
 */
import { BAD_INPUTS, ENGINES, runCase } from '../../test/reliability/bad-input-cases.js';

const engines = process.argv.length > 2 ? process.argv.slice(2) : Object.keys(ENGINES);
let failures = 0;
for (const engine of engines) {
  console.log(`\n## ${engine}`);
  for (const c of BAD_INPUTS) {
    const err = await runCase(c, engine);
    let line: string;
    if (err === undefined) line = 'NO ERROR (returned a posterior)';
    else {
      const e = err as Error;
      const msg = String(e?.message ?? err).replace(/\s+/g, ' ');
      const ok = c.mentions.every((m) => msg.includes(m));
      if (!ok) failures++;
      line = `${ok ? 'ok  ' : 'BAD '} ${e?.constructor?.name ?? typeof err}: ${msg.slice(0, 150)}`;
    }
    if (err === undefined) failures++;
    console.log(`${c.name.padEnd(24)} ${line}`);
  }
}
console.log(`\n${failures} case(s) without the expected error`);
