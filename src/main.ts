/**
 * The ESM entry of the `tyche` package (`import ... from 'tyche'`): everything
 * from `./index.js`, with the TensorFlow.js backend chosen before the
 * importing module's body runs (top-level await on {@link initBackend}).
 *
 * So a tensor a user makes at the top level of a module that imports tyche
 * already lives on the backend tyche computes with: tfjs never has to move
 * it between backends (a move that corrupts int→float casts made on the
 * pure-JS backend). `TYCHE_BACKEND` still forces a backend.
 *
 * `require('tyche')` (and tslab notebooks, which `require` their imports)
 * load `./index.js` instead, where the backend is chosen by the first
 * `initBackend()` or `infer`; there, tensors made earlier keep their backend
 * (see {@link initBackend}).
 *
 * @module tyche
 */
import { initBackend } from './backend/select.js';

export * from './index.js';

await initBackend();
