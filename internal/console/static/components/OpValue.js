import { html } from '../html.js';
import { OPS, OP_LABEL } from '../rule.js';

// OpValue edits an operator and its value (none for EXISTS / NOT_EXISTS; a comma-separated
// list for IN).
export function OpValue({ id, op, value, onChange }) {
  const noValue = op === 'EXISTS' || op === 'NOT_EXISTS';
  return html`
    <label class="inline"><span class="sr-only">Operator</span>
      <select id=${id + '-op'} value=${op} onChange=${(e) => onChange({ op: e.target.value })}>
        ${OPS.map((o) => html`<option value=${o}>${OP_LABEL[o]}</option>`)}
      </select>
    </label>
    ${!noValue && html`<label class="inline"><span class="sr-only">Value</span>
      <input id=${id + '-value'} value=${value} placeholder=${op === 'IN' ? 'a, b, c' : 'value'} onInput=${(e) => onChange({ value: e.target.value })} />
    </label>`}`;
}
