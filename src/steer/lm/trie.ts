/**
 * A prefix trie of next-token rows and KV caches with bounded memory: rows
 * and caches are evicted least-recently-used first once a budget (rows,
 * bytes, caches) is exceeded, an evicted cache is disposed, and nodes left
 * with nothing below them are pruned.
 *
 * @module
 */
import type { KVCache } from './types.js';

/** One prefix: the path of tokens from the root. */
export class TrieNode {
  readonly children = new Map<number, TrieNode>();
  /** Next-token log-probabilities after this prefix, when cached. */
  row: Float32Array | null = null;
  /** The model's cache after this prefix, when kept. */
  kv: KVCache | null = null;
  /** Set while this prefix is being evaluated (the wrapper's job), so identical requests wait for it. */
  pending: object | null = null;
  /** Pinned nodes are never evicted (their cache is an input of a running pass). */
  pins = 0;

  constructor(
    readonly token: number,
    readonly parent: TrieNode | null,
    readonly depth: number,
  ) {}
}

/** Memory budget of a {@link PrefixTrie}. */
export interface TrieBudget {
  /** Most rows kept (default 100 000). */
  readonly maxRows?: number;
  /** Most bytes of rows kept (default 256 MiB). */
  readonly maxRowBytes?: number;
  /** Most KV caches kept (default 1024). */
  readonly maxKvCaches?: number;
}

/** Counts of what the trie holds and has evicted. */
export interface TrieCounts {
  readonly nodes: number;
  readonly rows: number;
  readonly rowBytes: number;
  readonly kvCaches: number;
  readonly evictedRows: number;
  readonly evictedKvCaches: number;
}

/** The prefix trie (see the module note). */
export class PrefixTrie {
  readonly root = new TrieNode(-1, null, 0);
  private readonly rowLru = new Map<TrieNode, true>();
  private readonly kvLru = new Map<TrieNode, true>();
  private rowBytes = 0;
  private nodes = 1;
  private evictedRows = 0;
  private evictedKv = 0;
  private readonly maxRows: number;
  private readonly maxRowBytes: number;
  private readonly maxKv: number;

  constructor(budget: TrieBudget = {}) {
    this.maxRows = budget.maxRows ?? 100_000;
    this.maxRowBytes = budget.maxRowBytes ?? 256 * 2 ** 20;
    this.maxKv = budget.maxKvCaches ?? 1024;
    for (const [k, v] of Object.entries({ maxRows: this.maxRows, maxRowBytes: this.maxRowBytes, maxKvCaches: this.maxKv })) {
      if (!(v >= 0)) throw new Error(`PrefixTrie: ${k} must be >= 0, got ${v}`);
    }
  }

  /** The node of `prefix`, created (with its path) if absent. */
  node(prefix: readonly number[]): TrieNode {
    let n = this.root;
    for (const t of prefix) {
      let c = n.children.get(t);
      if (!c) {
        c = new TrieNode(t, n, n.depth + 1);
        n.children.set(t, c);
        this.nodes++;
      }
      n = c;
    }
    return n;
  }

  /** The node of `prefix` if it exists. */
  find(prefix: readonly number[]): TrieNode | undefined {
    let n: TrieNode | undefined = this.root;
    for (const t of prefix) {
      n = n.children.get(t);
      if (!n) return undefined;
    }
    return n;
  }

  /** The tokens from the root to `node`. */
  static path(node: TrieNode): number[] {
    const out: number[] = [];
    for (let n: TrieNode | null = node; n && n.parent; n = n.parent) out.push(n.token);
    return out.reverse();
  }

  /** Mark a row as just used. */
  touchRow(n: TrieNode): void {
    if (this.rowLru.delete(n)) this.rowLru.set(n, true);
  }

  /** Mark a cache as just used. */
  touchKv(n: TrieNode): void {
    if (this.kvLru.delete(n)) this.kvLru.set(n, true);
  }

  /** Store a row on a node, then evict down to the budget. */
  setRow(n: TrieNode, row: Float32Array): void {
    if (n.row) this.rowBytes -= n.row.byteLength;
    n.row = row;
    this.rowBytes += row.byteLength;
    this.rowLru.delete(n);
    this.rowLru.set(n, true);
    this.evictRows();
  }

  /** Store a KV cache on a node (disposing one it replaces), then evict down to the budget. */
  setKv(n: TrieNode, kv: KVCache): void {
    if (n.kv && n.kv !== kv) n.kv.dispose();
    n.kv = kv;
    this.kvLru.delete(n);
    this.kvLru.set(n, true);
    this.evictKv();
  }

  /** The deepest proper ancestor-or-self (from `from` upwards) that holds a KV cache, or null. */
  deepestKv(from: TrieNode | null): TrieNode | null {
    for (let n = from; n; n = n.parent) if (n.kv) return n;
    return null;
  }

  /** Remove `n` and its childless, empty ancestors. */
  prune(n: TrieNode): void {
    let x: TrieNode | null = n;
    while (x && x.parent && x.children.size === 0 && !x.row && !x.kv && !x.pending && x.pins === 0) {
      x.parent.children.delete(x.token);
      this.nodes--;
      x = x.parent;
    }
  }

  /** Evict rows least-recently-used first until within budget (pinned nodes are skipped). */
  evictRows(): void {
    if (this.rowLru.size <= this.maxRows && this.rowBytes <= this.maxRowBytes) return;
    for (const n of this.rowLru.keys()) {
      if (this.rowLru.size <= this.maxRows && this.rowBytes <= this.maxRowBytes) break;
      if (n.pins > 0) continue;
      this.rowLru.delete(n);
      this.rowBytes -= n.row!.byteLength;
      n.row = null;
      this.evictedRows++;
      this.prune(n);
    }
  }

  /** Evict KV caches least-recently-used first until within budget, disposing each. */
  evictKv(): void {
    if (this.kvLru.size <= this.maxKv) return;
    for (const n of this.kvLru.keys()) {
      if (this.kvLru.size <= this.maxKv) break;
      if (n.pins > 0) continue;
      this.kvLru.delete(n);
      n.kv!.dispose();
      n.kv = null;
      this.evictedKv++;
      this.prune(n);
    }
  }

  /** Drop every row and dispose every cache. */
  clear(): void {
    for (const n of this.kvLru.keys()) n.kv?.dispose();
    for (const n of this.kvLru.keys()) n.kv = null;
    for (const n of this.rowLru.keys()) n.row = null;
    this.kvLru.clear();
    this.rowLru.clear();
    this.rowBytes = 0;
    // keep nodes that a running pass still waits on; drop the rest
    const keep = (n: TrieNode): boolean => {
      for (const [t, c] of n.children) if (!keep(c)) n.children.delete(t);
      return n.children.size > 0 || n.pending !== null || n.pins > 0;
    };
    keep(this.root);
    let count = 0;
    const walk = (n: TrieNode): void => {
      count++;
      for (const c of n.children.values()) walk(c);
    };
    walk(this.root);
    this.nodes = count;
  }

  /** What the trie holds now and has evicted so far. */
  counts(): TrieCounts {
    return {
      nodes: this.nodes,
      rows: this.rowLru.size,
      rowBytes: this.rowBytes,
      kvCaches: this.kvLru.size,
      evictedRows: this.evictedRows,
      evictedKvCaches: this.evictedKv,
    };
  }
}
