/**
 * The `tyche` command-line program (see `tyche --help` and docs/cli.md).
 *
 * ```sh
 * npx tyche run models/eight-schools.ts --method nuts --chains 4 --seed 1 --out posterior.json
 * ```
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { HELP, UsageError, parseCommand } from './cli/args.js';
import { isTycheError } from './core/errors.js';
import { type CliIO, runCommand } from './cli/run.js';

export { HELP, UsageError, parseCommand, type Command, type RunCommand } from './cli/args.js';
export type { CliIO } from './cli/run.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * Run the program with `argv` (the arguments after the script name).
 * Resolves to the exit status: 0 success, 2 bad arguments, 1 failure.
 */
export async function main(argv: readonly string[], io: CliIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  try {
    // `tyche serve` lives in its own module (it loads language models): import it only when asked.
    if (argv[0] === 'serve') return await (await import('./cli/serve.js')).serveMain(argv.slice(1), io).then(() => 0);
    if (argv[0] === 'diffuse') return await (await import('./cli/diffuse.js')).diffuseMain(argv.slice(1), io).then(() => 0);
    if (argv[0] === 'steer') return await (await import('./cli/steer.js')).steerMain(argv.slice(1), io).then(() => 0);
    const cmd = parseCommand(argv);
    if (cmd.command === 'help') io.stdout.write(HELP);
    else if (cmd.command === 'version') io.stdout.write(`${version()}\n`);
    else await runCommand(cmd, io);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`tyche: error: ${err.message}\nRun \`tyche --help\` for usage.\n`);
      return 2;
    }
    // tyche's own errors (a bad model, data or option) are one clear line; anything else keeps its stack for a bug report
    io.stderr.write(`tyche: error: ${isTycheError(err) ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}
