/** The steering tab's page wiring (see steer.ts for the work). */
import { imageGridPlot, toSvg } from '../src/plots/index.js';
import { describeError } from './run-model.js';
import { type DigitFrame, steerDigits, steerText } from './steer.js';

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`playground: no #${id} in the page`);
  return el as T;
};
const num = (id: string): number => Number($<HTMLInputElement>(id).value);

/** Run `work` with an AbortController wired to the abort button; `done` counts finished runs on the body (tests wait on it). */
function wire(runId: string, abortId: string, statusId: string, counter: string, work: (signal: AbortSignal, status: (s: string) => void) => Promise<string>): void {
  let runs = 0;
  let current: AbortController | undefined;
  const runBtn = $<HTMLButtonElement>(runId);
  const abortBtn = $<HTMLButtonElement>(abortId);
  const status = (s: string): void => {
    $(statusId).textContent = s;
  };
  runBtn.addEventListener('click', () => {
    const c = new AbortController();
    current = c;
    runBtn.disabled = true;
    abortBtn.disabled = false;
    status('loading the model…');
    void work(c.signal, status)
      .then((s) => status(s), (e: unknown) => status(c.signal.aborted ? 'aborted' : describeError(e)))
      .finally(() => {
        current = undefined;
        runBtn.disabled = false;
        abortBtn.disabled = true;
        document.body.dataset[counter] = String(++runs);
      });
  });
  abortBtn.addEventListener('click', () => current?.abort(new DOMException('Aborted from the playground', 'AbortError')));
}

async function drawDigits(f: DigitFrame, k: number, captions?: string[]): Promise<void> {
  const spec = imageGridPlot(f.pixels, k, 8, 8, { columns: Math.min(8, k), pixel: 6, ...(captions ? { captions } : {}), title: `step ${f.step} / ${f.steps}, ESS ${f.ess.toFixed(1)}` });
  $('digit-plot').innerHTML = await toSvg(spec);
}

/** Wire the steering tab's controls. */
export function setupSteeringTab(): void {
  wire('digit-run', 'digit-abort', 'digit-status', 'digitRuns', async (signal, status) => {
    const k = num('digit-particles');
    const label = num('digit-label');
    const t0 = performance.now();
    const last = await steerDigits({
      label,
      particles: k,
      steps: num('digit-steps'),
      lambda: num('digit-lambda'),
      seed: 1,
      signal,
      onFrame: async (f) => {
        status(`step ${f.step} / ${f.steps}`);
        await drawDigits(f, k);
      },
    });
    await drawDigits(last, k, Array.from(last.weights, (w, i) => `${i}: w ${w.toFixed(2)}`));
    return `done in ${((performance.now() - t0) / 1000).toFixed(1)} s: the classifier reads ${last.hits} of ${k} particles as ${label} (captions: final weights)`;
  });
  wire('text-run', 'text-abort', 'text-status', 'textRuns', async (signal, status) => {
    const t0 = performance.now();
    const out = $('text-out');
    const show = (texts: readonly { text: string; weight: number }[]): void => {
      out.textContent = [...texts].sort((a, b) => b.weight - a.weight).map((p) => `${p.weight.toFixed(3)}  ${JSON.stringify(p.text)}`).join('\n');
    };
    const res = await steerText({
      pattern: $<HTMLInputElement>('text-pattern').value,
      particles: num('text-particles'),
      maxTokens: num('text-tokens'),
      seed: 1,
      signal,
      onFrame: (f) => {
        status(`character ${f.step}`);
        show(f.texts);
      },
    });
    show(res.texts);
    return `done in ${((performance.now() - t0) / 1000).toFixed(1)} s; log Z ≈ ${res.logZ.toFixed(3)} (log probability the model's text satisfies the constraint, estimated)`;
  });
  const tabs: [string, string][] = [
    ['tab-models', 'models'],
    ['tab-steer', 'steering'],
  ];
  for (const [tab, panel] of tabs) {
    $(tab).addEventListener('click', () => {
      for (const [t, p] of tabs) {
        $(t).classList.toggle('active', t === tab);
        $(p).hidden = p !== panel;
      }
    });
  }
}
