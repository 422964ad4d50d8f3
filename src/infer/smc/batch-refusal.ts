/**
 * The error a batched program-SMC run throws where the program cannot run
 * batched (the engine then runs it per particle, and
 * `diagnostics.notBatched` gives the message).
 *
 * @module
 */

/** Why a program cannot run batched (the engine then runs it per particle). */
export class NotBatchableError extends Error {
  override readonly name = 'NotBatchableError';
}
