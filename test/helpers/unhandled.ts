/**
 * Counting the unhandled promise rejections that reach the Node process
 * while a test's code runs (one of them ends a Node process by default).
 *
 * @module
 */

/** Runs `fn`, counting the unhandled rejections that reach the process meanwhile (and for `settleMs` after). */
export async function countUnhandled(fn: () => Promise<void>, settleMs = 50): Promise<number> {
  let n = 0;
  const count = () => {
    n++;
  };
  process.on('unhandledRejection', count);
  try {
    await fn();
    await new Promise((r) => setTimeout(r, settleMs));
  } finally {
    process.off('unhandledRejection', count);
  }
  return n;
}
