import { useState } from 'preact/hooks';
import { html } from '../html.js';
import { KINDS, newNode } from '../rule.js';
import { TraitEditor } from './TraitEditor.js';
import { EventEditor } from './EventEditor.js';
import { RfmEditor } from './RfmEditor.js';
import { ConsentEditor } from './ConsentEditor.js';
import { IdentityEditor } from './IdentityEditor.js';
import { InSegmentEditor } from './InSegmentEditor.js';

const EDITORS = { trait: TraitEditor, event: EventEditor, rfm: RfmEditor, consent: ConsentEditor, identity: IdentityEditor, inSegment: InSegmentEditor };

// RuleNode renders one node of the rule tree and, for groups and NOT, its children. update(id,
// fn) replaces a node (fn returning null removes it); errors maps node ids to messages.
export function RuleNode({ node, root, update, errors, segments, onRemove }) {
  const err = errors[node.id];
  const set = (patch) => update(node.id, (n) => ({ ...n, ...patch }));
  const remove = onRemove && html`<button type="button" class="icon" aria-label="Remove this condition" title="Remove" onClick=${onRemove}>✕</button>`;
  const negate = !root && node.kind !== 'not' && html`<button type="button" class="link small" onClick=${() => update(node.id, (n) => ({ ...newNode('not'), child: n }))}>Negate</button>`;
  const errorLine = err && html`<p class="node-error" role="alert" id=${node.id + '-err'}>${err}</p>`;

  if (node.kind === 'and' || node.kind === 'or') {
    return html`
      <fieldset class=${'group ' + node.kind + (err ? ' has-error' : '')} data-node=${node.id} aria-invalid=${err ? 'true' : undefined}>
        <legend>
          <label class="inline">Match
            <select value=${node.kind} onChange=${(e) => set({ kind: e.target.value })}>
              <option value="and">all of (AND)</option>
              <option value="or">any of (OR)</option>
            </select>
          </label>
          ${negate} ${remove}
        </legend>
        ${errorLine}
        <ol class="children">
          ${node.children.map((c) => html`<li key=${c.id}>
            <${RuleNode} node=${c} update=${update} errors=${errors} segments=${segments}
              onRemove=${node.children.length > 1 ? () => update(c.id, () => null) : null} />
          </li>`)}
        </ol>
        <${AddCondition} onAdd=${(kind) => set({ children: [...node.children, newNode(kind)] })} />
      </fieldset>`;
  }
  if (node.kind === 'not') {
    return html`
      <div class=${'not-node' + (err ? ' has-error' : '')} data-node=${node.id}>
        <div class="node-head"><strong>NOT</strong>
          <button type="button" class="link small" onClick=${() => update(node.id, (n) => n.child)}>Remove NOT</button> ${remove}</div>
        ${errorLine}
        <${RuleNode} node=${node.child} update=${update} errors=${errors} segments=${segments} />
      </div>`;
  }
  const Editor = EDITORS[node.kind];
  return html`
    <div class=${'leaf ' + node.kind + (err ? ' has-error' : '')} data-node=${node.id} data-kind=${node.kind} aria-invalid=${err ? 'true' : undefined}>
      <div class="node-head">
        <label class="inline kind">
          <span class="sr-only">Condition type</span>
          <select value=${node.kind} onChange=${(e) => update(node.id, () => newNode(e.target.value))}>
            ${Object.entries(KINDS).map(([k, label]) => html`<option value=${k}>${label}</option>`)}
          </select>
        </label>
        <${Editor} node=${node} set=${set} segments=${segments} />
        <span class="node-tools">${negate} ${remove}</span>
      </div>
      ${errorLine}
    </div>`;
}

// AddCondition adds a condition, a nested group or a NOT to a group.
function AddCondition({ onAdd }) {
  const [kind, setKind] = useState('trait');
  return html`
    <div class="add">
      <label class="inline"><span class="sr-only">New condition type</span>
        <select value=${kind} onChange=${(e) => setKind(e.target.value)}>
          ${Object.entries(KINDS).map(([k, label]) => html`<option value=${k}>${label}</option>`)}
          <option value="and">Group (AND)</option>
          <option value="or">Group (OR)</option>
          <option value="not">NOT …</option>
        </select>
      </label>
      <button type="button" class="secondary add-condition" onClick=${() => onAdd(kind)}>Add condition</button>
    </div>`;
}
