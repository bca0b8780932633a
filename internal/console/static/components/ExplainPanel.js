import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { gql } from '../api.js';
import { ExplainTree } from './ExplainTree.js';

const EXPLAIN = `query($seg: ID, $rule: SegmentRuleInput, $c: ID!) { segmentExplain(segmentId: $seg, rule: $rule, customerId: $c) { matches customer { id email } nodes { path parentPath kind text matched observed } } }`;
const BY_EMAIL = `query($v: String!) { customerByIdentity(type: "email", value: $v) { id } }`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// ExplainPanel answers "why is this customer in or out of the segment?" for a customer id or
// email typed in, or for customerId when given (a member's "Why?" button). It explains the
// saved segment (segmentId) or, in the builder, the rule being built (rule).
export function ExplainPanel({ segmentId, rule, customerId }) {
  const [who, setWho] = useState(customerId || '');
  const [result, setResult] = useState(null);
  const [error, setError] = useState('');
  const run = async (target) => {
    setError('');
    setResult(null);
    try {
      let id = target.trim();
      if (!UUID.test(id)) {
        const d = await gql(BY_EMAIL, { v: id });
        if (!d.customerByIdentity) { setError('No customer with that email.'); return; }
        id = d.customerByIdentity.id;
      }
      const d = await gql(EXPLAIN, segmentId ? { seg: segmentId, c: id } : { rule, c: id });
      setResult(d.segmentExplain);
    } catch (e) {
      setError(e.message);
    }
  };
  useEffect(() => { if (customerId) { setWho(customerId); run(customerId); } }, [customerId]);
  const ruleKey = rule ? JSON.stringify(rule) : '';
  useEffect(() => { if (rule) setResult(null); }, [ruleKey]); // an answer for an older rule would mislead
  return html`
    <section class="card" aria-labelledby="why-h">
      <h2 id="why-h">Why in, why not?</h2>
      <form class="row" onSubmit=${(e) => { e.preventDefault(); run(who); }}>
        <label class="grow">Customer id or email <input id="why-customer" value=${who} onInput=${(e) => setWho(e.target.value)} required /></label>
        <button type="submit" class="secondary">Explain</button>
      </form>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${result && html`<${ExplainTree} explanation=${result} />`}
    </section>`;
}
