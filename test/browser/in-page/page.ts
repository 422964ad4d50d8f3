/** The in-page test entry: tyche chooses its backend at import (src/main.ts), then the checks wait for the driver. */
import '../../../src/main.js';
import { CHECK_NAMES, pageBackend, runChecks } from './checks.js';

(globalThis as Record<string, unknown>).tycheChecks = { CHECK_NAMES, pageBackend, runChecks };
