/**
 * The playground page: wires the editor, engine choice, options, run and
 * abort buttons to run-model.ts, and shows progress, the summary, errors and
 * the Vega-Lite plots (rendered to SVG by tyche/plots). Importing
 * src/main.ts chooses tyche's backend (WebGL in a browser) before anything
 * runs.
 */
import '../src/main.js';
import { backendInfo } from '../src/backend/select.js';
import { ENGINE_DEFAULTS, EXAMPLES } from './examples.js';
import { type RunResult, describeError, parseOptions, runProgram } from './run-model.js';
import { setupSteeringTab } from './steer-tab.js';

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`playground: no #${id} in the page`);
  return el as T;
};

const exampleSel = $<HTMLSelectElement>('example');
const methodSel = $<HTMLSelectElement>('method');
const editor = $<HTMLTextAreaElement>('editor');
const optionsIn = $<HTMLInputElement>('options');
const runBtn = $<HTMLButtonElement>('run');
const abortBtn = $<HTMLButtonElement>('abort');
const progress = $<HTMLProgressElement>('progress');
const status = $('status');
const errorBox = $('error');
const summary = $('summary');
const plots = $('plots');

let current: AbortController | undefined;
let last: RunResult | undefined;
/** How many runs finished (ok or not): the tests wait on it. */
let runs = 0;

function option(sel: HTMLSelectElement, value: string, text: string): void {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = text;
  sel.append(o);
}

function loadExample(key: string): void {
  const ex = EXAMPLES[key];
  if (!ex) return;
  editor.value = ex.source;
  methodSel.value = ex.method;
  optionsIn.value = JSON.stringify(ex.options);
}

function showError(text: string | undefined): void {
  errorBox.hidden = text === undefined;
  errorBox.textContent = text ?? '';
}

async function run(): Promise<void> {
  current?.abort();
  const controller = new AbortController();
  current = controller;
  runBtn.disabled = true;
  abortBtn.disabled = false;
  showError(undefined);
  status.textContent = 'running…';
  progress.removeAttribute('value');
  try {
    const options = parseOptions(optionsIn.value);
    const result = await runProgram(editor.value, methodSel.value, options, {
      signal: controller.signal,
      onProgress: (f, text) => {
        if (Number.isFinite(f)) progress.value = f;
        status.textContent = text;
      },
    });
    last?.posterior.dispose();
    last = result;
    summary.textContent = `${result.summary}${Number.isFinite(result.logZ) ? `\nlog Z ≈ ${result.logZ.toFixed(4)}` : ''}`;
    plots.innerHTML = result.plots.map((p) => `<figure data-plot="${p.title}">${p.svg}</figure>`).join('');
    status.textContent = `done in ${(result.ms / 1000).toFixed(1)} s`;
    progress.value = 1;
  } catch (err) {
    showError(describeError(err));
    status.textContent = controller.signal.aborted ? 'aborted' : 'failed';
    progress.value = 0;
  } finally {
    if (current === controller) current = undefined;
    runBtn.disabled = false;
    abortBtn.disabled = true;
    runs += 1;
    document.body.dataset.runs = String(runs);
  }
}

for (const [key, ex] of Object.entries(EXAMPLES)) option(exampleSel, key, ex.title);
for (const m of Object.keys(ENGINE_DEFAULTS)) option(methodSel, m, m);
exampleSel.addEventListener('change', () => loadExample(exampleSel.value));
methodSel.addEventListener('change', () => {
  optionsIn.value = JSON.stringify(ENGINE_DEFAULTS[methodSel.value] ?? {});
});
runBtn.addEventListener('click', () => void run());
abortBtn.addEventListener('click', () => current?.abort(new DOMException('Aborted from the playground', 'AbortError')));
editor.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void run();
});

const info = backendInfo();
$('backend').textContent = info ? `backend: ${info.name}${Object.keys(info.skipped).length ? ` (skipped: ${Object.entries(info.skipped).map(([k, v]) => `${k}: ${v}`).join('; ')})` : ''}` : 'backend: not chosen';
loadExample(new URLSearchParams(location.search).get('example') ?? 'coin');
exampleSel.value = new URLSearchParams(location.search).get('example') ?? 'coin';
setupSteeringTab();
if (new URLSearchParams(location.search).get('tab') === 'steering') $('tab-steer').click();
runBtn.disabled = false;
document.body.dataset.ready = 'true';
