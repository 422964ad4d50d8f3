/**
 * Command-line parsing for `tyche`: options, defaults, validation and the
 * help text. Parsing loads no TensorFlow.js, so bad arguments fail fast.
 *
 * @module
 */
import { parseArgs } from 'node:util';

/** A usage error: reported with the help hint and exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The parsed `tyche run` command. */
export interface RunCommand {
  /** The subcommand. */
  readonly command: 'run';
  /** Path of the model module. */
  readonly modelFile: string;
  /** Engine name (`--method`). */
  readonly method: string;
  /** Random seed (`--seed`). */
  readonly seed: number;
  /** MCMC chains (`--chains`). */
  readonly chains?: number;
  /** Draws per chain (`--samples`). */
  readonly samples?: number;
  /** Warmup iterations per chain (`--warmup`). */
  readonly warmup?: number;
  /** Particles (`--particles`). */
  readonly particles?: number;
  /** JSON file whose content is the model's argument. */
  readonly data?: string;
  /** Where to write the draws (ArviZ `from_dict` layout). */
  readonly out?: string;
  /** Draw a progress bar on stderr (default: when stderr is a terminal). */
  readonly progress: boolean;
}

/** What the command line asks for. */
export type Command = RunCommand | { readonly command: 'help' } | { readonly command: 'version' };

/** The integer options of `run`, mapped to the engine option of the same name. */
export const ENGINE_INT_OPTIONS = ['chains', 'samples', 'warmup', 'particles'] as const;

/** The text of `tyche --help`. */
export const HELP = `tyche: probabilistic programming in TypeScript

Usage:
  tyche run <model file> [options]    run inference and print a summary table
  tyche steer --help                  steer a language model to a constraint (SMC vs best-of-N vs masking)
  tyche diffuse --help                sample / steer a shipped diffusion model toward a reward (PNG + JSON)
  tyche serve --help                  serve a language model over the OpenAI-compatible completions API
  tyche --help                        show this help
  tyche --version                     print the version

The model file is an ES module (.ts or .js) whose default export is a tyche
model (made with \`model(...)\`, or a bare async model function). It may also
export \`data\`: the model is called with one argument, the data, taken from
--data if given, else from the module's \`data\` export, else with none.

Options of run:
  --method <name>     inference engine (default: nuts). One of: enumerate,
                      importance, smc, tempered, mh, nuts, hmc, and any other
                      registered engine
  --chains <n>        MCMC chains (nuts, hmc: default 4; mh: default 1)
  --samples <n>       draws kept per chain (MCMC; default 1000)
  --warmup <n>        warmup iterations per chain (MCMC; default 1000 for
                      nuts/hmc, samples/2 for mh)
  --particles <n>     particles (importance, smc, tempered; default 1000)
  --seed <n>          random seed, an integer (default 0); the same seed gives
                      the same draws on the same backend
  --data <file.json>  JSON file passed to the model as its argument
  --out <file.json>   write the draws and sampler statistics as JSON in the
                      layout of ArviZ's from_dict (see docs/cli.md)
  --no-progress       never draw the progress bar (it is drawn on stderr only
                      when stderr is a terminal)
  -h, --help          show this help
  -v, --version       print the version

An option the chosen engine does not take (e.g. --chains with importance) is
an error. Exit status: 0 on success, 2 for bad arguments, 1 when loading the
model or inference fails.

Examples:
  tyche run models/eight-schools.ts --method nuts --chains 4 --seed 1
  tyche run my-model.ts --data data.json --out posterior.json
  tyche run models/eight-schools.ts --method importance --particles 20000
`;

function positiveInt(name: string, raw: string | undefined, min = 1): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < min || !Number.isSafeInteger(Number(raw))) {
    throw new UsageError(`--${name} must be ${min === 0 ? 'a non-negative' : 'a positive'} integer, got "${raw}"`);
  }
  return Number(raw);
}

/** Parse `argv` (without `node` and the script). Throws {@link UsageError} on bad arguments. */
export function parseCommand(argv: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        method: { type: 'string' },
        chains: { type: 'string' },
        samples: { type: 'string' },
        warmup: { type: 'string' },
        particles: { type: 'string' },
        seed: { type: 'string' },
        data: { type: 'string' },
        out: { type: 'string' },
        'no-progress': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (err) {
    // node's messages name the option, e.g. "Unknown option '--chain'"
    throw new UsageError(err instanceof Error ? err.message.replace(/\. To specify a positional argument.*$/s, '') : String(err));
  }
  const { values, positionals } = parsed;
  if (values.help) return { command: 'help' };
  if (values.version) return { command: 'version' };
  if (positionals.length === 0) throw new UsageError('missing command; expected `tyche run <model file>`');
  const [command, ...rest] = positionals;
  if (command === 'help') return { command: 'help' };
  if (command !== 'run') throw new UsageError(`unknown command "${command}"; expected "run"`);
  if (rest.length === 0) throw new UsageError('run: missing the model file, e.g. `tyche run model.ts`');
  if (rest.length > 1) throw new UsageError(`run: expected one model file, got ${rest.length}: ${rest.join(' ')}`);
  const seedRaw = values.seed ?? '0';
  if (!/^-?\d+$/.test(seedRaw.trim()) || !Number.isSafeInteger(Number(seedRaw))) throw new UsageError(`--seed must be an integer, got "${seedRaw}"`);
  const method = values.method ?? 'nuts';
  if (method.trim() === '') throw new UsageError('--method must not be empty');
  for (const [flag, v] of [['--data', values.data], ['--out', values.out]] as const) {
    if (v !== undefined && v.trim() === '') throw new UsageError(`${flag} needs a file name`);
  }
  return {
    command: 'run',
    modelFile: rest[0],
    method,
    seed: Number(seedRaw),
    chains: positiveInt('chains', values.chains),
    samples: positiveInt('samples', values.samples),
    warmup: positiveInt('warmup', values.warmup, 0),
    particles: positiveInt('particles', values.particles),
    data: values.data,
    out: values.out,
    progress: values['no-progress'] !== true,
  };
}
