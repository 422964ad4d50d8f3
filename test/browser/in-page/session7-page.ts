/** The in-page entry of browser-session7: tyche chooses its backend at import (src/main.ts), then the scenarios wait for the driver. */
import '../../../src/main.js';
import * as tf from '@tensorflow/tfjs-core';
import { SCENARIOS, abortRun, badInputErrors, nestingRuns, runScenarios } from './session7-scenarios.js';

(globalThis as Record<string, unknown>).tycheS7 = { names: Object.keys(SCENARIOS), runScenarios, abortRun, badInputErrors, nestingRuns, backend: () => tf.getBackend() };
