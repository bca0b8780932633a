import { html } from '../html.js';

// InSegmentEditor: currently a member of another segment.
export function InSegmentEditor({ node, set, segments }) {
  return html`
    <label class="inline">member of
      <select value=${node.segment} onChange=${(e) => set({ segment: e.target.value })}>
        <option value="">choose a segment…</option>
        ${segments.map((s) => html`<option value=${s.id}>${s.name}</option>`)}
      </select>
    </label>`;
}
