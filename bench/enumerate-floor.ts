/**
 * How far sequential enumeration is from re-execution's floor: tyche's lean
 * walk of the dice model against a bare walk of the same model function, in
 * the same process, alternated call by call.
 *
 * The bare walk hands the model a context whose `sample` returns a resolved
 * promise of the current odometer digit and whose `factor` counts the paths
 * that meet the condition, and drives the paths by the same callbacks on each
 * path's promise as the lean walk: the model's own code (its loop, template
 * addresses, `Categorical(DIE)` and its awaits) and nothing of tyche's. What
 * tyche adds is the difference. Calls alternate, so a change of machine load
 * or of the process's mode hits both alike.
 *
 * Run: `npx tsx bench/enumerate-floor.ts [--n 6] [--calls 14]` (the first 4
 * pairs are warm-up). Prints the median CPU ms per call of each and their
 * ratio; the number of kept paths of both walks must match.
 *
 * @module
 */
import type { Ctx } from '../src/core/model.js';
import '../src/infer/enumerate.js';
import { infer } from '../src/infer/registry.js';
import { dice } from './dice-model.js';
import { median } from './util.js';

function argValue(flag: string, fallback: number): number {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** A walk of every path of `dice` with a context that does nothing but hand out the odometer's digits. */
class BareWalk {
  private readonly values = [0, 1, 2, 3, 4, 5].map((v) => Promise.resolve(v));
  private readonly resolved = Promise.resolve(undefined);
  private digits: number[] = [];
  private depth = 0;
  kept = 0;
  private done: () => void = () => {};
  private readonly ctx: Ctx;
  private readonly onEnd = this.end.bind(this);

  constructor(private readonly n: number) {
    const self = this;
    this.ctx = {
      sample: () => self.values[self.digits[self.depth++]],
      factor: (_address: string, w: number) => {
        if (w === 0) self.kept++;
        return self.resolved;
      },
    } as unknown as Ctx;
  }

  run(): Promise<void> {
    this.digits = new Array<number>(this.n).fill(0);
    this.kept = 0;
    return new Promise((resolve) => {
      this.done = resolve;
      this.step();
    });
  }

  private step(): void {
    this.depth = 0;
    (dice.fn(this.ctx, this.n, 5 * this.n) as Promise<number>).then(this.onEnd, this.onEnd);
  }

  private end(): void {
    for (let k = this.n - 1; k >= 0; k--) {
      if (++this.digits[k] < 6) return this.step();
      this.digits[k] = 0;
    }
    this.done();
  }
}

function cpuMs(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
}

async function main(): Promise<void> {
  const n = argValue('--n', 6);
  const calls = argValue('--calls', 14);
  const bare = new BareWalk(n);
  const t: number[] = [];
  const b: number[] = [];
  let kept = 0;
  for (let r = 0; r < calls; r++) {
    let c0 = cpuMs();
    const post = await infer(dice, { method: 'enumerate' }, n, 5 * n);
    const tc = cpuMs() - c0;
    c0 = cpuMs();
    await bare.run();
    const bc = cpuMs() - c0;
    kept = post.draws.length;
    if (kept !== bare.kept) throw new Error(`tyche kept ${kept} paths, the bare walk ${bare.kept}`);
    if (r >= 4) {
      t.push(tc);
      b.push(bc);
    }
  }
  const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ');
  console.log(`dice n=${n}, ${6 ** n} paths (${kept} kept), CPU ms per call, ${t.length} alternated calls after 4 warm-up pairs`);
  console.log(`tyche lean walk: median ${median(t).toFixed(1)} [${fmt(t)}]`);
  console.log(`bare walk:       median ${median(b).toFixed(1)} [${fmt(b)}]`);
  console.log(`ratio tyche / bare: ${(median(t) / median(b)).toFixed(2)}`);
}

await main();
