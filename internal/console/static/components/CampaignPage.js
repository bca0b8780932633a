import { useEffect, useState } from 'preact/hooks';
import { html, fmtTime } from '../html.js';
import { gql } from '../api.js';
import { JobStatus } from './JobStatus.js';
import { ScheduleEditor, scheduleText } from './ScheduleEditor.js';
import { SyncHistory } from './SyncHistory.js';

const Q = `query($id: ID!, $after: Cursor) { campaign(id: $id) {
  id name status scheduleKind scheduleAt scheduleCron scheduleTimezone nextRunAt conversionWindowDays
  segment { id name memberCount } destination { id name kind configured }
  syncs(first: 20, after: $after, orderBy: {field: STARTED_AT, direction: DESC}) { totalCount pageInfo { hasNextPage endCursor }
    edges { node { id startedAt finishedAt added updated removed failed skippedNoEmail skippedNoConsent status error } } } } }`;
const RUN = `mutation($id: ID!) { runCampaignSync(id: $id) { id state attempt errors finalizedAt } }`;
const PAUSE = `mutation($id: ID!) { pauseCampaign(id: $id) { id } }`;
const RESUME = `mutation($id: ID!) { resumeCampaign(id: $id) { id } }`;

// CampaignPage shows a campaign: its segment and destination, schedule, sync history, and
// (with write) running a sync now, pausing, resuming and rescheduling.
export function CampaignPage({ id, can }) {
  const [c, setC] = useState(null);
  const [syncs, setSyncs] = useState([]);
  const [page, setPage] = useState(null);
  const [job, setJob] = useState(null);
  const [error, setError] = useState('');
  const load = () => gql(Q, { id }).then((d) => {
    if (!d.campaign) { setError('No such campaign.'); return; }
    setC(d.campaign);
    setSyncs(d.campaign.syncs.edges.map((e) => e.node));
    setPage(d.campaign.syncs.pageInfo);
  }).catch((e) => setError(e.message));
  useEffect(() => { load(); }, [id]);
  const more = () => gql(Q, { id, after: page.endCursor }).then((d) => {
    setSyncs((s) => [...s, ...d.campaign.syncs.edges.map((e) => e.node)]);
    setPage(d.campaign.syncs.pageInfo);
  }).catch((e) => setError(e.message));
  const act = (q) => gql(q, { id }).then(load).catch((e) => setError(e.message));
  const run = () => gql(RUN, { id }).then((d) => setJob(d.runCampaignSync)).catch((e) => setError(e.message));

  if (!c) return error ? html`<p class="error" role="alert">${error}</p>` : html`<p class="muted">Loading…</p>`;
  return html`
    <div class="page-head">
      <h1>${c.name}</h1>
      ${can('write') && html`<span class="actions">
        ${c.status === 'scheduled' && html`<button type="button" class="secondary" id="pause" onClick=${() => act(PAUSE)}>Pause</button>`}
        ${c.status === 'paused' && html`<button type="button" class="secondary" id="resume" onClick=${() => act(RESUME)}>Resume</button>`}
        <button type="button" id="run-sync" onClick=${run} disabled=${job && !job.finalizedAt}>Run sync now</button></span>`}
    </div>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${job && html`<${JobStatus} key=${job.id} job=${job} label="Sync" onDone=${(j) => { setJob(j); load(); }} />`}
    <dl class="facts">
      <div><dt>Status</dt><dd><span class=${'status ' + c.status} id="campaign-status">${c.status}</span></dd></div>
      <div><dt>Segment</dt><dd><a href=${'#/segments/' + c.segment.id}>${c.segment.name}</a></dd></div>
      <div><dt>Destination</dt><dd>${c.destination.name} <span class="muted small">${c.destination.kind}${c.destination.configured ? '' : ', not configured'}</span></dd></div>
      <div><dt>Schedule</dt><dd>${scheduleText(c)}</dd></div>
      <div><dt>Next run</dt><dd id="next-run">${fmtTime(c.nextRunAt)}</dd></div>
    </dl>
    ${can('write') && html`<${ScheduleEditor} key=${c.id + (c.scheduleKind || '') + (c.scheduleCron || '') + (c.scheduleAt || '')} campaign=${c} onSaved=${load} />`}
    <section class="card" aria-labelledby="syncs-h">
      <h2 id="syncs-h">Syncs <span class="muted">(${c.syncs.totalCount})</span></h2>
      <${SyncHistory} syncs=${syncs} />
      ${page?.hasNextPage && html`<button type="button" class="secondary" onClick=${more}>More syncs</button>`}
    </section>`;
}
