import { html, fmtNum } from '../html.js';

// Preview shows the live count and a sample of the rule being built.
export function Preview({ preview }) {
  const { state, count, sample } = preview;
  return html`
    <aside class="card preview" aria-live="polite" aria-label="Preview">
      <h2>Preview</h2>
      <p class="big"><span id="preview-count" data-state=${state}>${count == null ? '—' : fmtNum(count)}</span> <span class="muted">customers</span></p>
      <p class="muted small" id="preview-state">${
        { idle: '', loading: 'Updating…', ready: 'Matching now', incomplete: 'Complete the highlighted conditions to preview.', error: 'The rule has an error.' }[state]}</p>
      ${sample?.length > 0 && html`
        <ul class="sample">${sample.map((c) => html`<li><a href=${'#/profiles/' + c.id}>${c.email || c.traits?.name || c.id.slice(0, 8)}</a></li>`)}</ul>`}
    </aside>`;
}
