/**
 * The states of a grouped unfold run (`unfold-group.ts`): a number a
 * particle, or a small plain array or object of numbers (`[level, trend]`,
 * `{ x, v }`) whose leaves are each one column of the population. A layout
 * is fixed by the initial state; every state a kernel returns must have it
 * (the same keys in the same order), else the run gives up.
 *
 * @module
 */
import { isTensor } from '../../core/value.js';

/** A structured state's layout: its keys in order (an array's are its indices); `null` is a number state. */
export interface StateLayout {
  readonly array: boolean;
  readonly keys: readonly string[];
}

/** The most leaves a structured state may have (a state-space model's few components). */
const MAX_LEAVES = 16;

/** The layout of `state` (`null`: a number or a tensor), or why it has none (nested, empty, too many leaves, not plain). */
export function layoutOf(state: unknown): StateLayout | null | string {
  if (state === null || typeof state !== 'object' || isTensor(state)) return null;
  const array = Array.isArray(state);
  const proto = Object.getPrototypeOf(state) as unknown;
  if (!array && proto !== Object.prototype && proto !== null) return 'the state is not a number, or a plain array or object of numbers';
  const keys = Object.keys(state);
  if (keys.length === 0 || keys.length > MAX_LEAVES) return `the state has ${keys.length} components (1 to ${MAX_LEAVES} are grouped)`;
  return { array, keys };
}

/** Whether two layouts are the same (both numbers, or the same kind with the same keys in order). */
export function sameLayout(a: StateLayout | null, b: StateLayout | null): boolean {
  if (a === null || b === null) return a === b;
  return a.array === b.array && a.keys.length === b.keys.length && a.keys.every((k, i) => k === b.keys[i]);
}

/** The leaves of `state` in `layout`'s order, or undefined where its layout is another. */
export function leavesOf(state: unknown, layout: StateLayout | null): unknown[] | undefined {
  const own = layoutOf(state);
  if (typeof own === 'string' || !sameLayout(own, layout)) return undefined;
  if (layout === null) return [state];
  return layout.keys.map((k) => (state as Record<string, unknown>)[k]);
}

/** A state of `layout` from its leaves: the one leaf, or a frozen plain array or object (states are frozen on every runtime). */
export function buildState(layout: StateLayout | null, leaves: readonly unknown[]): unknown {
  if (layout === null) return leaves[0];
  if (layout.array) return Object.freeze(leaves.slice());
  const out: Record<string, unknown> = {};
  layout.keys.forEach((k, i) => {
    out[k] = leaves[i];
  });
  return Object.freeze(out);
}
