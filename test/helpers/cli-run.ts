/** Running the `tyche` command line as a child process, for the CLI tests. */
import { execFile } from 'node:child_process';

/** What a finished `tyche` process left: its exit code and output. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `bin/tyche.js` with `args` on the cpu backend (two minutes at most). */
export function tyche(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/tyche.js', ...args], { timeout: 120_000, env: { ...process.env, TYCHE_BACKEND: 'cpu' } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
