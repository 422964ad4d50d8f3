/**
 * STEER (session 13): the `tyche steer` outputs shown in docs/steer/steering.md are what the
 * command prints. Each `$ tyche steer ...` line of the section's output block is run as
 * written (in process, on the shipped kjv-char) and its output compared line by line with the
 * docs, all but the `ms` column (wall time). Session 12's docs showed a `--pattern` example
 * that best-of-N met 0% of the time and a summary line the command never prints.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { steerMain } from '../../../src/cli/steer.js';

const slow = process.env.TYCHE_SLOW === '1';

/** The words of a shell command line: spaces split outside double quotes; inside, `\"` and `\\` are escapes (as bash). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let quoted = false;
  let started = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"') quoted = false;
      else if (c === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) word += line[++i];
      else word += c;
    } else if (c === '"') [quoted, started] = [true, true];
    else if (c === ' ') {
      if (started) words.push(word);
      [word, started] = ['', false];
    } else [word, started] = [word + c, true];
  }
  if (started) words.push(word);
  return words;
}

/** The `$ tyche steer` examples of the docs' `tyche steer` section: each command and the lines shown under it. */
function docsExamples(): { command: string; lines: string[] }[] {
  const md = readFileSync('docs/steer/steering.md', 'utf8');
  const section = md.slice(md.indexOf('## `tyche steer`'), md.indexOf('\n## ', md.indexOf('## `tyche steer`') + 1));
  const examples: { command: string; lines: string[] }[] = [];
  for (const block of section.split('```').filter((_, i) => i % 2 === 1)) {
    for (const line of block.split('\n').slice(1)) {
      if (line.startsWith('$ tyche steer ')) examples.push({ command: line.slice(2), lines: [] });
      else if (examples.length && line.trim()) examples[examples.length - 1]!.lines.push(line);
    }
  }
  return examples;
}

/** A line without the table's last column (wall time in ms); other lines as they are. */
function withoutMs(line: string, table: boolean): string {
  return table ? line.trimEnd().replace(/\s+\S+$/, '') : line;
}

describe.skipIf(!slow)('tyche steer prints what docs/steer/steering.md shows', () => {
  const examples = docsExamples();
  it('the docs show the three examples, the --pattern one first', () => {
    expect(examples.map((e) => e.command.split(' ')[2])).toEqual(['--pattern', '--no-letter', '--ends-with']);
  });
  for (const { command, lines } of examples) {
    it(command, async () => {
      let out = '';
      await steerMain(shellWords(command).slice(2), { stdout: { write: (s: string) => (out += s) }, stderr: { write: () => true } });
      const got = out.split('\n').filter((l) => l.trim());
      expect(got.length).toBe(lines.length);
      const tableRows = 4; // header and three methods
      got.forEach((l, i) => expect(withoutMs(l, i < tableRows), command).toBe(withoutMs(lines[i]!, i < tableRows)));
    }, 120_000);
  }
});
