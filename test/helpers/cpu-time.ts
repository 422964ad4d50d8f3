/**
 * This process's CPU time, for timing checks that must hold on a loaded machine: wall time there also holds the
 * time the OS gave other processes, CPU time only the work this process did (FLAKE, session 16, docs/design.md).
 */
import { readFileSync } from 'node:fs';

/** This process's CPU time (user and system, all its threads) in milliseconds. */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * The calling thread's CPU time in milliseconds, from Linux's `/proc/thread-self/schedstat` (nanoseconds), else
 * {@link cpuMs}. For the work of the event loop alone: V8 marks garbage on helper threads at the same time, which the
 * process's total counts too (a stretch of 20 ms on the main thread read up to 38 ms that way).
 */
export function threadCpuMs(): number {
  if (schedstat === false) return cpuMs();
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
  } catch {
    schedstat = false;
    return cpuMs();
  }
}
let schedstat: boolean | undefined;
