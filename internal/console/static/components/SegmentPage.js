import { useEffect, useState } from 'preact/hooks';
import { html, fmtNum, fmtTime } from '../html.js';
import { gql } from '../api.js';
import { HistoryChart } from './HistoryChart.js';
import { JobStatus } from './JobStatus.js';
import { ExplainPanel } from './ExplainPanel.js';

const Q = `query($id: ID!, $after: Cursor) { segment(id: $id) { id name description ruleText status error memberCount lastComputedAt refreshEverySeconds
  history(days: 30) { day entered exited }
  members(first: 50, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id email traits } } } } }`;
const COMPUTE = `mutation($id: ID!) { computeSegment(id: $id) { id state attempt errors } }`;

// SegmentPage shows a segment: status, size, history, members, computing it, and why a
// customer is in or out.
export function SegmentPage({ id, can }) {
  const [seg, setSeg] = useState(null);
  const [members, setMembers] = useState([]);
  const [page, setPage] = useState(null);
  const [job, setJob] = useState(null);
  const [why, setWhy] = useState(null);
  const [error, setError] = useState('');
  const load = () => gql(Q, { id }).then((d) => {
    if (!d.segment) { setError('No such segment.'); return; }
    setSeg(d.segment);
    setMembers(d.segment.members.edges.map((e) => e.node));
    setPage(d.segment.members.pageInfo);
  }).catch((e) => setError(e.message));
  useEffect(() => { load(); }, [id]);
  const more = () => gql(Q, { id, after: page.endCursor }).then((d) => {
    setMembers((m) => [...m, ...d.segment.members.edges.map((e) => e.node)]);
    setPage(d.segment.members.pageInfo);
  }).catch((e) => setError(e.message));
  const compute = () => gql(COMPUTE, { id }).then((d) => setJob(d.computeSegment)).catch((e) => setError(e.message));

  if (error) return html`<p class="error" role="alert">${error}</p>`;
  if (!seg) return html`<p class="muted">Loading…</p>`;
  return html`
    <div class="page-head">
      <h1>${seg.name}</h1>
      ${can('write') && html`<span class="actions">
        <a class="button secondary" href=${'#/segments/' + id + '/edit'}>Edit</a>
        <button type="button" id="compute" onClick=${compute} disabled=${job && !job.finalizedAt}>Compute now</button></span>`}
    </div>
    ${seg.description && html`<p>${seg.description}</p>`}
    <p class="rule-text"><code>${seg.ruleText}</code></p>
    ${job && html`<${JobStatus} key=${job.id} job=${job} onDone=${(j) => { setJob(j); load(); }} />`}
    <dl class="facts">
      <div><dt>Members</dt><dd id="member-count">${fmtNum(seg.memberCount)}</dd></div>
      <div><dt>Status</dt><dd><span class=${'status ' + seg.status} id="segment-status">${seg.status}</span></dd></div>
      <div><dt>Last computed</dt><dd id="last-computed">${fmtTime(seg.lastComputedAt)}</dd></div>
      <div><dt>Refresh</dt><dd>every ${Math.round(seg.refreshEverySeconds / 60)} min</dd></div>
    </dl>
    ${seg.error && html`<p class="error" role="alert">Last computation failed: ${seg.error}</p>`}
    <section class="card"><h2>Membership history</h2><${HistoryChart} history=${seg.history} /></section>
    <${ExplainPanel} segmentId=${id} customerId=${why} />
    <section class="card">
      <h2>Members <span class="muted">(${fmtNum(seg.members.totalCount)})</span></h2>
      <table class="list members">
        <thead><tr><th>Customer</th><th></th></tr></thead>
        <tbody>${members.map((c) => html`<tr>
          <td><a href=${'#/profiles/' + c.id}>${c.email || c.traits?.name || c.id}</a></td>
          <td><button type="button" class="link small why" onClick=${() => setWhy(c.id)}>Why?</button></td></tr>`)}</tbody>
      </table>
      ${page?.hasNextPage && html`<button type="button" class="secondary" onClick=${more}>More members</button>`}
    </section>`;
}
