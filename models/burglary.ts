/**
 * Pearl's burglary/earthquake alarm network (Pearl 1988; Russell & Norvig),
 * conditioned on both neighbours calling. Exact answer by enumeration:
 * P(burglary | john, mary) = 0.284172.
 */
import { Bernoulli, model } from '../src/index.js';

export const burglary = model(
  async ({ sample, observe }) => {
    const b = await sample('burglary', Bernoulli(0.001));
    const e = await sample('earthquake', Bernoulli(0.002));
    const pAlarm = b ? (e ? 0.95 : 0.94) : e ? 0.29 : 0.001;
    const alarm = await sample('alarm', Bernoulli(pAlarm));
    await observe('johnCalls', Bernoulli(alarm ? 0.9 : 0.05), 1);
    await observe('maryCalls', Bernoulli(alarm ? 0.7 : 0.01), 1);
    return b;
  },
  { name: 'burglary' },
);
