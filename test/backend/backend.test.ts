/**
 * Backend selection, tested for real: each case starts a fresh Node process
 * (tfjs picks its backend once per process) running
 * test/fixtures/backend-child.ts with a given TYCHE_BACKEND, and checks the
 * backend it reports, the reasons recorded for skipped backends, the exit
 * status and the error text.
 */
import { execFile } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { BACKENDS, BROWSER_BACKENDS, backendInfo, backendOrder, setWasmPath, backendName, initBackend, isBackendName, parseBackendName } from '../../src/backend/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixture = 'test/fixtures/backend-child.ts';
const BANNER = 'looks like you are running TensorFlow.js in Node.js';

interface ChildResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the fixture in a new Node process with `TYCHE_BACKEND` set to `backend` (or unset). */
function runChild(backend: string | undefined, ...flags: string[]): Promise<ChildResult> {
  return runScript(fixture, backend, ...flags);
}

/** Run a fixture script in a new Node process with `TYCHE_BACKEND` set to `backend` (or unset). */
function runScript(script: string, backend: string | undefined, ...flags: string[]): Promise<ChildResult> {
  const env = { ...process.env };
  delete env.TYCHE_BACKEND;
  if (backend !== undefined) env.TYCHE_BACKEND = backend;
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', script, ...flags], { cwd: root, env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

interface Report {
  info: { name: string; tfName: string; skipped: Record<string, string>; forced: boolean; features: Record<string, boolean> };
  name: string;
  same: boolean;
  tfBackend: string;
  sum: number[];
  addedListeners: number;
}

function report(r: ChildResult): Report {
  expect(r.code, `child failed:\n${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as Report;
}

const notBefore = backendName();

describe('backend selection in this process', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  test('nothing is active before initBackend', () => {
    expect(notBefore).toBeUndefined();
  });

  test('initBackend is idempotent and reports the active backend', async () => {
    const info = await initBackend();
    expect(info.name).toBe('cpu');
    expect(backendName()).toBe('cpu');
    expect(backendInfo()).toBe(info);
    expect(await initBackend('cpu')).toBe(info);
  });

  test('switching backends under live tensors is a clear error', async () => {
    const t = tf.scalar(1);
    await expect(initBackend('wasm')).rejects.toThrow(/already initialised as "cpu"; cannot switch to "wasm" in the same process while 1 tensor\(s\) are alive/);
    t.dispose();
  });

  test('backend names are validated with the valid ones listed', async () => {
    expect(BACKENDS).toEqual(['node-gpu', 'node', 'wasm', 'cpu', 'webgl', 'webgpu']);
    expect(backendOrder()).toEqual(['node-gpu', 'node', 'wasm', 'cpu']);
    expect(BROWSER_BACKENDS).toEqual(['webgl', 'webgpu', 'wasm', 'cpu']);
    expect(isBackendName('wasm')).toBe(true);
    expect(isBackendName('gpu')).toBe(false);
    expect(parseBackendName('node')).toBe('node');
    expect(() => parseBackendName('gpu', 'TYCHE_BACKEND')).toThrow('TYCHE_BACKEND="gpu" is not a tyche backend; valid names are node-gpu, node, wasm, cpu, webgl, webgpu');
    await expect(initBackend('gpu' as never)).rejects.toThrow(/valid names are node-gpu, node, wasm, cpu, webgl, webgpu/);
    expect(() => setWasmPath('')).toThrow(/setWasmPath\(prefix\): expected a URL prefix/);
  });
});

describe('backend selection in a fresh process', () => {
  test.concurrent('unset: falls back past the missing native backends to wasm', async () => {
    const r = await runChild(undefined);
    const rep = report(r);
    expect(rep.info.name).toBe('wasm');
    expect(rep.name).toBe('wasm');
    expect(rep.same).toBe(true);
    expect(rep.tfBackend).toBe('wasm');
    expect(rep.info.forced).toBe(false);
    expect(rep.info.skipped).toEqual({
      'node-gpu': '@tensorflow/tfjs-node-gpu is not installed',
      node: '@tensorflow/tfjs-node is not installed',
    });
    // offline, from the package folder: SIMD, no threads in Node
    expect(rep.info.features).toEqual({ simd: true, threads: false });
    expect(rep.sum).toEqual([4, 6]);
    // the Emscripten runtime's rethrowing process listeners are removed
    expect(rep.addedListeners).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(BANNER);
  });

  test.concurrent('TYCHE_BACKEND=cpu: pure JS, without the tfjs-node banner', async () => {
    const r = await runChild('cpu');
    const rep = report(r);
    expect(rep.info).toMatchObject({ name: 'cpu', tfName: 'cpu', forced: true, skipped: {} });
    expect(rep.tfBackend).toBe('cpu');
    expect(rep.sum).toEqual([4, 6]);
    expect(r.stdout + r.stderr).not.toContain(BANNER);
  });

  test.concurrent('no WebAssembly in the runtime: falls back to cpu and says why', async () => {
    const r = await runChild(undefined, '--no-webassembly');
    const rep = report(r);
    expect(rep.info.name).toBe('cpu');
    expect(rep.info.skipped.wasm).toBe('this JavaScript runtime has no WebAssembly');
    expect(Object.keys(rep.info.skipped)).toEqual(['node-gpu', 'node', 'wasm']);
    expect(rep.sum).toEqual([4, 6]);
    expect(r.stdout + r.stderr).not.toContain(BANNER);
  });

  test.concurrent.each(['node', 'node-gpu'])('TYCHE_BACKEND=%s when it is not installed: a clear error and a non-zero exit', async (name) => {
    const r = await runChild(name);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`tyche backend "${name}" was forced but cannot be loaded: @tensorflow/tfjs-${name} is not installed`);
    expect(r.stderr).toContain(`npm install @tensorflow/tfjs-${name}@4.22.0`);
  });

  test.concurrent('TYCHE_BACKEND=webgl under Node: a clear error saying it needs a browser', async () => {
    const r = await runChild('webgl');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('tyche backend "webgl" was forced but cannot be loaded: WebGL needs a browser; under Node use node, wasm or cpu');
  });

  test.concurrent('TYCHE_BACKEND=bogus: a clear error listing the valid names', async () => {
    const r = await runChild('bogus');
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('TYCHE_BACKEND="bogus" is not a tyche backend; valid names are node-gpu, node, wasm, cpu');
  });

  // issue 11, item 1: an int→float cast made on the pure-JS backend before the
  // switch to wasm read back int bits (sum 5.6e-45, and NUTS returned the prior)
  test.concurrent.each([
    ['lazy', 'cpu', /tensor\(s\) were made on the "cpu" backend before tyche chose one; tyche keeps it/],
    ['eager', 'wasm', /^$/],
  ])('tensors made at the top level before inference read back right (%s entry)', async (entry, backend, warning) => {
    const r = await runScript(`test/fixtures/backend-order-${entry}.ts`, undefined);
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { backend: string; sum: number; beta: number[]; oneHotRowSum: number };
    expect(rep.backend).toBe(backend);
    expect(r.stderr.trim()).toMatch(warning);
    expect(rep.sum).toBe(4);
    expect(rep.oneHotRowSum).toBe(120);
    // the data's group log-odds are -2.2, 0, 2.2; the prior's mean is 0 (posterior sd about 0.4)
    expect(rep.beta[0]).toBeLessThan(-1);
    expect(rep.beta[2]).toBeGreaterThan(1);
  });

  test.concurrent('a forced backend that differs from the one live tensors are on is a clear error', async () => {
    const r = await runScript('test/fixtures/backend-order-lazy.ts', 'wasm');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/tyche backend "wasm" cannot be selected: \d+ tensor\(s\) already live on the tfjs "cpu" backend/);
  });

  test.concurrent('an uncaught error after wasm is loaded exits normally (code 1, plain stack)', async () => {
    const r = await runChild(undefined, '--throw');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('thrown after backend initialisation');
    expect(r.stderr).not.toContain('WasmBackendModule');
  });
});
