/**
 * Registers the gradient of every tfjs op with tfjs-core (a side-effect
 * module: `import '../backend/gradients.js'`).
 *
 * `@tensorflow/tfjs-core` alone registers no gradients. Its
 * `dist/register_all_gradients.js` is an ES module whose own imports have no
 * file extensions, so plain Node (and `tsx`) cannot load it — only bundlers
 * and vitest can. The Node build of `@tensorflow/tfjs` (a dependency of
 * tyche) registers the same gradients on the same, CommonJS, tfjs-core
 * instance that tyche imports, so importing it works everywhere.
 *
 * @module
 */
import '@tensorflow/tfjs';

import * as tf from '@tensorflow/tfjs-core';
// leaner arithmetic gradients over tfjs's (after '@tensorflow/tfjs' registered its own)
import './lean-gradients.js';

/**
 * Comparison, logical and boolean-reduction ops have boolean outputs, so their gradient is zero,
 * but tfjs registers none: `tf.where(tf.less(x, 0), a, b)` on a gradient path
 * (support masks, piecewise formulas) would throw "gradient function not found
 * for Less". Register zero gradients for them (float32, as the tape requires).
 */
function registerZeroGradient(kernelName: string, inputs: readonly string[]): void {
  if (tf.getGradient(kernelName) !== undefined) return;
  tf.registerGradient({
    kernelName,
    inputsToSave: [...inputs],
    gradFunc: (_dy, saved) => Object.fromEntries(inputs.map((name, i) => [name, () => tf.zeros(saved[i].shape)])),
  });
}
for (const k of ['Less', 'LessEqual', 'Greater', 'GreaterEqual', 'Equal', 'NotEqual', 'LogicalAnd', 'LogicalOr', 'LogicalXor']) registerZeroGradient(k, ['a', 'b']);
for (const k of ['LogicalNot', 'All', 'Any', 'IsNan', 'IsFinite', 'IsInf']) registerZeroGradient(k, ['x']);
