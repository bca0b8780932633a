import { html } from '../html.js';
import { PURPOSES } from '../rule.js';

// ConsentEditor: the latest consent for a purpose is granted / denied.
export function ConsentEditor({ node, set }) {
  return html`
    <label class="inline">purpose
      <select value=${node.purpose} onChange=${(e) => set({ purpose: e.target.value })}>${PURPOSES.map((p) => html`<option value=${p}>${p}</option>`)}</select>
    </label>
    <label class="inline">is
      <select value=${String(node.granted)} onChange=${(e) => set({ granted: e.target.value === 'true' })}>
        <option value="true">granted</option><option value="false">denied</option>
      </select>
    </label>`;
}
