import { infer, model, Bernoulli, Normal } from '/work/main/src/index.ts';
const MU = [-1, 2]; const Y = 0.8;
const switched = model(async ({ sample, observe }: any) => {
  const b = await sample('b', Bernoulli(0.3));
  const x = await sample('x', Normal(MU[b === 1 ? 1 : 0]!, 1));
  await observe('y', Normal(x, 0.5), Y);
});
let runs = 0;
const counting = model(async (ctx: any) => { ++runs; await switched.fn(ctx); });
await infer(counting, { method: 'hmc-gibbs', chains: 2, warmup: 1000, samples: 1000, seed: 1 } as any);
console.log('runs', runs);
