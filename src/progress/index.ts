/**
 * Progress reporting for long runs: a terminal bar with rate and ETA, and
 * callbacks that plug it into the engines' `onProgress` / `onStep`.
 *
 * @module
 */
export { ProgressBar, progressBar, type ProgressBarOptions, type UpdateInfo, type ProgressCallbacks, type ProgressStream, type McmcProgressLike, type SMCStepLike } from './bar.js';
export { formatDuration, formatRate, renderBar } from './format.js';
