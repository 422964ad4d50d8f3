/**
 * Backend selection: which TensorFlow.js backend tyche runs on.
 *
 * @module
 */
export {
  BACKENDS,
  BACKEND_ENV,
  BROWSER_BACKENDS,
  NODE_BACKENDS,
  backendOrder,
  setWasmPath,
  type BackendInfo,
  type BackendName,
  backendInfo,
  backendName,
  envBackend,
  initBackend,
  isBackendName,
  parseBackendName,
} from './select.js';
export { isBrowser, isNode, importNodeOnly } from './runtime.js';
