import { useEffect, useState } from 'preact/hooks';
import { html, fmtNum, fmtTime } from '../html.js';
import { gql } from '../api.js';

const Q = `{ segments(first: 100, orderBy: {field: NAME, direction: ASC}) { totalCount edges { node { id name memberCount status lastComputedAt ruleText } } } }`;

// SegmentList lists the segments with their size and status.
export function SegmentList({ can }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => { gql(Q).then(setData).catch((e) => setError(e.message)); }, []);
  return html`
    <div class="page-head">
      <h1>Segments</h1>
      ${can('write') && html`<a class="button" href="#/segments/new">New segment</a>`}
    </div>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${!data ? html`<p class="muted">Loading…</p>` : data.segments.edges.length === 0 ? html`<p class="muted">No segments yet.</p>` : html`
      <table class="list">
        <thead><tr><th>Name</th><th class="num">Members</th><th>Status</th><th>Last computed</th></tr></thead>
        <tbody>${data.segments.edges.map(({ node: s }) => html`
          <tr>
            <td><a href=${'#/segments/' + s.id}>${s.name}</a><div class="muted small">${s.ruleText}</div></td>
            <td class="num">${fmtNum(s.memberCount)}</td>
            <td><span class=${'status ' + s.status}>${s.status}</span></td>
            <td>${fmtTime(s.lastComputedAt)}</td>
          </tr>`)}
        </tbody>
      </table>`}`;
}
