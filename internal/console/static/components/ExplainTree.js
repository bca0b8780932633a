import { html } from '../html.js';

// ExplainTree shows segmentExplain's nodes as the rule tree, each marked as holding (✓) or
// not (✗), with what was observed for the customer.
export function ExplainTree({ explanation }) {
  const byParent = {};
  for (const n of explanation.nodes) (byParent[n.parentPath ?? ''] ||= []).push(n);
  const render = (n) => html`
    <li class=${'explain-node ' + (n.matched ? 'pass' : 'fail')} data-path=${n.path} data-matched=${String(n.matched)}>
      <span class="mark" aria-label=${n.matched ? 'holds' : 'does not hold'}>${n.matched ? '✓' : '✗'}</span>
      ${n.kind === 'and' || n.kind === 'or' ? html`<strong>${n.kind === 'and' ? 'all of' : 'any of'}</strong>` : n.kind === 'not' ? html`<strong>NOT</strong>` : html`<span>${n.text}</span>`}
      ${n.observed && html`<span class="observed"> — ${n.observed}</span>`}
      ${byParent[n.path] && html`<ul>${byParent[n.path].map(render)}</ul>`}
    </li>`;
  return html`
    <div class="explain" id="explain-result" data-matches=${String(explanation.matches)}>
      <p><strong>${explanation.matches ? 'In the segment' : 'Not in the segment'}</strong>: the rule ${explanation.matches ? 'holds' : 'does not hold'} for this customer now.</p>
      <ul class="explain-tree">${(byParent[''] || []).map(render)}</ul>
    </div>`;
}
