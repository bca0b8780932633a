import { useEffect, useState } from 'preact/hooks';
import { html, fmtNum, fmtTime } from '../html.js';
import { gql } from '../api.js';

const Q = `{ rfmSummary { scored computedAt grid { recencyScore frequencyScore count } labels { label count } } }`;
const CUSTOMERS = `query($rule: SegmentRuleInput!) { segmentPreview(rule: $rule) { count sample(first: 20) { edges { node { id email traits } } } } }`;
const COMPUTE = `mutation { computeRFM { id state } }`;

// RfmPage draws the 5×5 recency × frequency grid as a heat map and the label counts; a cell or
// label lists its customers.
export function RfmPage({ can }) {
  const [s, setS] = useState(null);
  const [pick, setPick] = useState(null); // {title, list, count}
  const [error, setError] = useState('');
  const [job, setJob] = useState(null);
  useEffect(() => { gql(Q).then((d) => setS(d.rfmSummary)).catch((e) => setError(e.message)); }, []);
  const open = async (title, rfm) => {
    try {
      const d = await gql(CUSTOMERS, { rule: { rfm } });
      setPick({ title, count: d.segmentPreview.count, list: d.segmentPreview.sample.edges.map((e) => e.node) });
    } catch (e) { setError(e.message); }
  };
  if (error) return html`<p class="error" role="alert">${error}</p>`;
  if (!s) return html`<p class="muted">Loading…</p>`;
  const max = Math.max(1, ...s.grid.map((c) => c.count));
  const cell = (r, f) => s.grid.find((c) => c.recencyScore === r && c.frequencyScore === f)?.count ?? 0;
  return html`
    <div class="page-head"><h1>RFM</h1>
      ${can('write') && html`<button type="button" class="secondary" onClick=${() => gql(COMPUTE).then((d) => setJob(d.computeRFM)).catch((e) => setError(e.message))}>Compute now</button>`}</div>
    ${job && html`<p class="muted" role="status">RFM computation ${job.state}; reload in a moment.</p>`}
    <p class="muted">${fmtNum(s.scored)} customers scored · computed ${fmtTime(s.computedAt)}</p>
    <div class="rfm-grid-wrap card">
      <table class="rfm-grid" aria-label="Customers by recency (rows) and frequency (columns) score">
        <thead><tr><th scope="col">R \\ F</th>${[1, 2, 3, 4, 5].map((f) => html`<th scope="col">F${f}</th>`)}</tr></thead>
        <tbody>${[5, 4, 3, 2, 1].map((r) => html`<tr><th scope="row">R${r}</th>${[1, 2, 3, 4, 5].map((f) => {
          const n = cell(r, f);
          const a = n / max;
          return html`<td><button type="button" class="cell" style=${`background: rgba(43,108,176,${(0.08 + 0.92 * a).toFixed(2)}); color: ${a > 0.5 ? '#fff' : '#111'}`}
            aria-label=${`R${r} F${f}: ${n} customers`} onClick=${() => open(`R${r} F${f}`, { recencyScore: { min: r, max: r }, frequencyScore: { min: f, max: f } })}>${fmtNum(n)}</button></td>`;
        })}</tr>`)}</tbody>
      </table>
    </div>
    <section class="card"><h2>Labels</h2>
      <ul class="labels">${s.labels.map((l) => html`<li><button type="button" class="link" onClick=${() => open(l.label, { label: l.label })}>${l.label}</button> <span class="num">${fmtNum(l.count)}</span></li>`)}</ul>
    </section>
    ${pick && html`<section class="card" aria-live="polite"><h2>${pick.title}: ${fmtNum(pick.count)} customers</h2>
      <ul class="people">${pick.list.map((c) => html`<li><a href=${'#/profiles/' + c.id}>${c.email || c.traits?.name || c.id}</a></li>`)}</ul></section>`}`;
}
