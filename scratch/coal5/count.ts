// tfjs runs of the 112-site scalar coal model (tensor-valued runs) in the quick hmc-gibbs command, code from ROOT; with the compile count and sha
import { createHash } from 'node:crypto';
const root = process.env.ROOT ?? '/work/main';
const { initBackend } = await import(`${root}/src/backend/select.ts`);
const { Categorical, Exponential, Poisson, infer, model, toNumber } = await import(`${root}/src/index.ts`);
const { loadCoalData } = await import(`${root}/models/coal.ts`);
await initBackend('cpu');
const d = loadCoalData(); const T = d.counts.length;
let runs = 0;
const m = model(async ({ sample, observe }: any, ys: readonly number[]) => {
  const s = await sample('s', Categorical(new Array(T).fill(1 / T)));
  const early = await sample('early', Exponential(1));
  const late = await sample('late', Exponential(1));
  if (typeof early !== 'number') runs++;
  for (let t = 0; t < ys.length; t++) await observe(`y${t}`, Poisson(t < (s as number) ? early : late), ys[t]!);
});
const seed = Number(process.env.SEED ?? 3);
const post = await infer(m, { method: 'hmc-gibbs', seed, chains: 4, warmup: 50, samples: 50 } as any, d.counts);
const h = createHash('sha256');
for (const dr of post.draws) for (const a of ['s', 'early', 'late']) h.update(String(toNumber(dr.values[a])) + ',');
const dg = post.diagnostics as any;
console.log(root, 'seed', seed, 'tensor runs', runs, 'compiled', dg.compiledConfigurations, 'sha', h.digest('hex').slice(0, 16));
