import { html } from '../html.js';
import { Suggest } from './Suggest.js';
import { OpValue } from './OpValue.js';

// TraitEditor: traits.<key> <op> <value>.
export function TraitEditor({ node, set }) {
  return html`
    <${Suggest} id=${node.id + '-key'} label="trait" kind="trait" value=${node.key} placeholder="plan" onInput=${(key) => set({ key })} />
    <${OpValue} id=${node.id} op=${node.op} value=${node.value} onChange=${set} />`;
}
