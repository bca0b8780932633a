import { html } from '../html.js';
import { COUNT_OPS, OP_LABEL } from '../rule.js';
import { Suggest } from './Suggest.js';
import { OpValue } from './OpValue.js';

// EventEditor: performed <name> [count op n] [in the last n days] [where property conditions].
export function EventEditor({ node, set }) {
  const setWhere = (i, patch) => set({ where: node.where.map((w, j) => (j === i ? { ...w, ...patch } : w)) });
  return html`
    <${Suggest} id=${node.id + '-name'} label="performed" kind="event" value=${node.name} placeholder="Order Completed" onInput=${(name) => set({ name })} />
    <label class="inline"><span class="sr-only">How often</span>
      <select id=${node.id + '-countop'} value=${node.countOp} onChange=${(e) => set({ countOp: e.target.value })}>
        <option value="">at least once</option>
        ${COUNT_OPS.map((o) => html`<option value=${o}>count ${OP_LABEL[o]}</option>`)}
      </select>
    </label>
    ${node.countOp && html`<label class="inline"><span class="sr-only">Count</span>
      <input id=${node.id + '-count'} class="narrow" type="number" min="0" value=${node.countValue} onInput=${(e) => set({ countValue: e.target.value })} /> times</label>`}
    <label class="inline">in the last
      <input id=${node.id + '-days'} class="narrow" type="number" min="1" placeholder="all" value=${node.withinDays} onInput=${(e) => set({ withinDays: e.target.value })} /> days</label>
    <div class="where">
      ${node.where.map((w, i) => html`<div class="row where-row">
        <label class="inline">where property <input id=${node.id + '-w' + i + '-key'} value=${w.key} placeholder="revenue" onInput=${(e) => setWhere(i, { key: e.target.value })} /></label>
        <${OpValue} id=${node.id + '-w' + i} op=${w.op} value=${w.value} onChange=${(p) => setWhere(i, p)} />
        <button type="button" class="icon" aria-label="Remove property condition" onClick=${() => set({ where: node.where.filter((_, j) => j !== i) })}>✕</button>
      </div>`)}
      <button type="button" class="link small" onClick=${() => set({ where: [...node.where, { key: '', op: 'EQ', value: '' }] })}>+ property condition</button>
    </div>`;
}
