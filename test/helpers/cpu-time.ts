/**
 * This process's CPU time, for timing checks that must hold on a loaded machine: wall time there also holds the
 * time the OS gave other processes, CPU time only the work this process did (FLAKE, session 16, docs/design.md).
 */

/** This process's CPU time (user and system, all its threads) in milliseconds. */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
