import { useEffect, useState } from 'preact/hooks';
import { html, fmtNum, fmtTime } from '../html.js';
import { gql } from '../api.js';
import { DestinationList } from './DestinationList.js';
import { scheduleText } from './ScheduleEditor.js';

const Q = `{ campaigns(first: 100, orderBy: {field: NAME, direction: ASC}) { totalCount edges { node {
  id name status scheduleKind scheduleAt scheduleCron scheduleTimezone nextRunAt
  segment { id name } destination { id name kind }
  syncs(first: 1, orderBy: {field: STARTED_AT, direction: DESC}) { edges { node { id status startedAt added updated removed failed } } } } } } }`;

// CampaignList lists the campaigns with their schedule and latest sync, and the destinations.
export function CampaignList() {
  const [data, setData] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => { gql(Q).then(setData).catch((e) => setError(e.message)); }, []);
  return html`
    <div class="page-head"><h1>Campaigns</h1></div>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${!data ? html`<p class="muted">Loading…</p>` : data.campaigns.edges.length === 0 ? html`<p class="muted">No campaigns yet.</p>` : html`
      <table class="list" id="campaigns">
        <thead><tr><th>Name</th><th>Segment</th><th>Destination</th><th>Status</th><th>Schedule</th><th>Next run</th><th>Latest sync</th></tr></thead>
        <tbody>${data.campaigns.edges.map(({ node: c }) => {
          const last = c.syncs.edges[0]?.node;
          return html`<tr data-id=${c.id}>
            <td><a href=${'#/campaigns/' + c.id}>${c.name}</a></td>
            <td><a href=${'#/segments/' + c.segment.id}>${c.segment.name}</a></td>
            <td>${c.destination.name} <span class="muted small">${c.destination.kind}</span></td>
            <td><span class=${'status ' + c.status}>${c.status}</span></td>
            <td>${scheduleText(c)}</td>
            <td>${fmtTime(c.nextRunAt)}</td>
            <td>${last ? html`<span class=${'status ' + last.status}>${last.status}</span>
              <span class="small"> +${fmtNum(last.added)} ~${fmtNum(last.updated)} −${fmtNum(last.removed)}${last.failed ? ` ✗${fmtNum(last.failed)}` : ''}</span>
              <div class="muted small">${fmtTime(last.startedAt)}</div>` : html`<span class="muted">never</span>`}</td>
          </tr>`;
        })}</tbody>
      </table>`}
    <${DestinationList} />`;
}
