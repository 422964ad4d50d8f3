/**
 * Builds the API reference from the TSDoc comments with TypeDoc (settings in
 * `typedoc.json`, output in `build/api/`) and fails on any TypeDoc error or
 * on any warning that is not in the baseline `scripts/api-docs-known-warnings.txt`.
 *
 * The warnings that matter are TypeDoc's validation warnings: a `{@link}`
 * that does not resolve, or a public symbol whose signature uses a type that
 * no entry point exports (the reference would show it as plain text). The
 * baseline lists those present when the check was introduced, so that new
 * ones fail CI while the owners of the listed files fix theirs; a baseline
 * entry that no longer occurs is reported so it can be deleted.
 *
 * Usage: `tsx scripts/build-api-docs.ts` (part of `npm run docs`).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const baselinePath = join(root, 'scripts', 'api-docs-known-warnings.txt');

/** One message TypeDoc printed, without colour codes. */
interface Message {
  level: 'error' | 'warning';
  text: string;
}

/** Drops ANSI colour sequences. */
function plain(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u001b\[[0-9;]*m/g, '');
}

/** `[warning] ...` / `[error] ...` lines of TypeDoc's output, minus its closing tally. */
function parseMessages(output: string): Message[] {
  const messages: Message[] = [];
  for (const line of plain(output).split('\n')) {
    const m = /^\[(warning|error)\]\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    if (/^Found \d+ errors? and \d+ warnings?$/.test(m[2])) continue;
    messages.push({ level: m[1] as Message['level'], text: m[2] });
  }
  return messages;
}

/** Baseline entries: one warning text a line; blank lines and `#` comments skipped. */
function readBaseline(): Set<string> {
  return new Set(
    readFileSync(baselinePath, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#')),
  );
}

const typedocBin = join(root, 'node_modules', 'typedoc', 'bin', 'typedoc');
const started = performance.now();
const run = spawnSync(process.execPath, [typedocBin, '--options', join(root, 'typedoc.json')], { cwd: root, encoding: 'utf8' });
const output = `${run.stdout ?? ''}${run.stderr ?? ''}`;
const messages = parseMessages(output);
const baseline = readBaseline();

const errors = messages.filter((m) => m.level === 'error');
const fresh = messages.filter((m) => m.level === 'warning' && !baseline.has(m.text));
const seen = new Set(messages.map((m) => m.text));
const fixed = [...baseline].filter((t) => !seen.has(t));

for (const m of errors) console.error(`api docs: error: ${m.text}`);
for (const m of fresh) console.error(`api docs: new warning: ${m.text}`);
for (const t of fixed) console.log(`api docs: no longer warned, delete from ${baselinePath}: ${t}`);

const failed = run.status !== 0 && errors.length === 0 ? `typedoc exited with status ${run.status}\n${output}` : '';
if (failed) console.error(`api docs: ${failed}`);
const known = messages.length - errors.length - fresh.length;
const seconds = ((performance.now() - started) / 1000).toFixed(1);
if (errors.length > 0 || fresh.length > 0 || failed) {
  console.error(`api docs: FAILED (${errors.length} error(s), ${fresh.length} new warning(s); fix the TSDoc or, for a deliberate exception, add the line to ${baselinePath})`);
  process.exit(1);
}
console.log(`api docs: build/api/index.html written in ${seconds} s (${known} known warning(s) in the baseline)`);
