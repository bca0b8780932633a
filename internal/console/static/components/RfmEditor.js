import { html } from '../html.js';
import { RFM_LABELS } from '../rule.js';

// RfmEditor: RFM label and/or score ranges (1..5).
export function RfmEditor({ node, set }) {
  const score = (name, minK, maxK) => html`
    <fieldset class="inline range"><legend>${name}</legend>
      <label class="inline"><span class="sr-only">${name} min</span><input class="narrow" type="number" min="1" max="5" placeholder="min" value=${node[minK]} onInput=${(e) => set({ [minK]: e.target.value })} /></label>–
      <label class="inline"><span class="sr-only">${name} max</span><input class="narrow" type="number" min="1" max="5" placeholder="max" value=${node[maxK]} onInput=${(e) => set({ [maxK]: e.target.value })} /></label>
    </fieldset>`;
  return html`
    <label class="inline">label
      <select value=${node.label} onChange=${(e) => set({ label: e.target.value })}>
        <option value="">any</option>
        ${RFM_LABELS.map((l) => html`<option value=${l}>${l}</option>`)}
      </select>
    </label>
    ${score('R', 'rMin', 'rMax')} ${score('F', 'fMin', 'fMax')} ${score('M', 'mMin', 'mMax')}`;
}
