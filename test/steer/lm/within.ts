/** A test helper for runs that may hang: `run`'s outcome within `ms`. */

/** `run`'s outcome within `ms`: 'finished', the error's name, or 'hung'. */
export async function within(ms: number, run: Promise<unknown>): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<string>((r) => (timer = setTimeout(() => r('hung'), ms)));
  try {
    return await Promise.race([run.then(() => 'finished', (e: Error) => e.name), hung]);
  } finally {
    clearTimeout(timer);
  }
}
