import { html } from '../html.js';
import { IDENTITY_TYPES } from '../rule.js';

// IdentityEditor: has / has no identity of a type.
export function IdentityEditor({ node, set }) {
  return html`
    <label class="inline">
      <select value=${String(node.exists)} onChange=${(e) => set({ exists: e.target.value === 'true' })}>
        <option value="true">has</option><option value="false">has no</option>
      </select>
    </label>
    <label class="inline">identity
      <input list=${node.id + '-types'} value=${node.type} onInput=${(e) => set({ type: e.target.value })} />
      <datalist id=${node.id + '-types'}>${IDENTITY_TYPES.map((t) => html`<option value=${t} />`)}</datalist>
    </label>`;
}
