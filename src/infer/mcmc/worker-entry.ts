/**
 * The body of a chain worker thread (started by `worker-pool.ts`): initialise
 * the main thread's tfjs backend, import the user's module, take the model
 * from the named export, and run the assigned chains one after the other with
 * the sequential sampler, each on its own split of the run's seed, posting
 * progress, each finished chain, and any error back to the main thread.
 *
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type BackendName, initBackend, isBackendName } from '../../backend/select.js';
import { Model } from '../../core/model.js';
import { type McmcProgress, sampleHmc, sampleNuts } from './sampler.js';
import { layoutOf, logDensityFn } from './potential.js';
import { statsSince } from './compiled-density.js';
import { rngFrom } from '../../core/rng.js';
import { conditionCheckpoint, conditionVisitsSince, conditionedAddresses } from '../../core/handlers.js';
import { type WorkerJob, type WorkerMessage, chainStream, serializeError } from './worker-protocol.js';

function post(message: WorkerMessage): void {
  parentPort!.postMessage(message);
}

/** Imports the job's module and returns its model export. */
async function importModel(job: WorkerJob): Promise<Model<unknown[], unknown>> {
  const mod = (await import(job.module)) as Record<string, unknown>;
  const m = mod[job.exportName];
  if (!(m instanceof Model)) {
    const what = m === undefined ? 'is missing' : `is not a tyche Model (got ${typeof m}); export the value made by model(...), from the same tyche build`;
    throw new Error(`workers: export "${job.exportName}" of ${job.module} ${what}`);
  }
  return m;
}

/**
 * Runs the job's chains and posts their results; returns the conditioned
 * addresses its runs reached (a site reached only here must count for the
 * main thread's check that each `condition()` address was reached).
 */
async function run(job: WorkerJob): Promise<string[][]> {
  await initBackend(job.backend !== undefined && isBackendName(job.backend) ? (job.backend as BackendName) : undefined);
  const m = await importModel(job);
  const visits = conditionCheckpoint(m);
  const args = [...job.args];
  const { layout } = await layoutOf(m, args, rngFrom(`${job.seed}/probe`));
  if (layout.names.join(',') !== job.names.join(',')) {
    throw new Error(
      `workers: export "${job.exportName}" of ${job.module} is not the model passed to infer: its coordinates are ` +
        `[${layout.names.join(', ')}], expected [${job.names.join(', ')}]`,
    );
  }
  // the same latents do not make the same model: a copy conditioned on other data would sample another posterior
  const conditioned = conditionedAddresses(m);
  if (JSON.stringify(conditioned) !== JSON.stringify(job.conditioned)) {
    const show = (c: readonly (readonly string[])[]): string => (c.length === 0 ? 'nothing' : c.map((a) => `[${a.join(', ')}]`).join(' then '));
    throw new Error(
      `workers: export "${job.exportName}" of ${job.module} is not the model passed to infer: it conditions ${show(conditioned)} (condition()), ` +
        `the model passed to infer ${show(job.conditioned)}; export the conditioned model itself`,
    );
  }
  const target = logDensityFn(m, args, layout, { compile: job.compile });
  for (const chain of job.assigned) {
    const options = {
      ...job.sampler,
      dim: layout.dim,
      chains: 1,
      seed: chainStream(job.seed, chain),
      init: typeof job.init === 'string' ? job.init : [job.init[chain]!],
      onProgress: (p: McmcProgress) => post({ type: 'progress', chain, completed: p.completed }),
    };
    const before = target.compileStats();
    const r = job.method === 'nuts' ? await sampleNuts(target, options) : await sampleHmc(target, options);
    post({
      type: 'chain',
      result: {
        chain,
        samples: r.samples[0]!,
        stats: r.stats[0]!,
        stepSize: r.stepSize[0]!,
        inverseMetric: r.inverseMetric[0]!,
        metricKind: r.metricKind[0]!,
        gradientEvaluations: r.gradientEvaluations[0]!,
        warmupMs: r.timing.warmupMs,
        samplingMs: r.timing.samplingMs,
        compiled: target.compileStatus(),
        compileStats: statsSince(before, target.compileStats()),
        // the ascent ends go back with the chain: the hidden-mode check runs on the main thread
        ...(r.initEnds !== undefined ? { initEnds: r.initEnds[0]! } : {}),
      },
    });
  }
  return conditionVisitsSince(m, visits);
}

if (parentPort !== null) {
  try {
    const conditionVisits = await run((workerData as { job: WorkerJob }).job);
    post({ type: 'done', conditionVisits });
  } catch (err) {
    post({ type: 'error', error: serializeError(err) });
  }
}
