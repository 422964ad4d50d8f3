/**
 * Backend selection: which TensorFlow.js backend tyche runs on.
 *
 * @module
 */
export {
  BACKENDS,
  BACKEND_ENV,
  type BackendInfo,
  type BackendName,
  backendInfo,
  backendName,
  envBackend,
  initBackend,
  isBackendName,
  parseBackendName,
} from './select.js';
