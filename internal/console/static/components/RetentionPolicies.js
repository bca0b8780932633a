import { useEffect, useState } from 'preact/hooks';
import { html, fmtNum, fmtTime } from '../html.js';
import { gql } from '../api.js';
import { JobStatus } from './JobStatus.js';

const Q = `{ retentionPolicies(first: 100, orderBy: {field: CREATED_AT, direction: ASC}) { edges { node {
  id name kind eventPattern keepDays action enabled lastRunAt rowsAffected sweepInProgress } } } }`;
const RUN = `mutation { runRetention { id state attempt errors finalizedAt } }`;

// RetentionPolicies lists the retention policies with their last run, and runs them all now.
export function RetentionPolicies() {
  const [data, setData] = useState(null);
  const [job, setJob] = useState(null);
  const [error, setError] = useState('');
  const load = () => gql(Q).then(setData).catch((e) => setError(e.message));
  useEffect(() => { load(); }, []);
  const run = () => gql(RUN).then((d) => setJob(d.runRetention)).catch((e) => setError(e.message));
  const policies = data?.retentionPolicies.edges.map((e) => e.node) ?? [];
  return html`
    <section class="card" aria-labelledby="retention-h">
      <div class="page-head">
        <h2 id="retention-h">Retention policies</h2>
        <button type="button" class="secondary" id="run-retention" onClick=${run} disabled=${job && !job.finalizedAt}>Run now</button>
      </div>
      ${job && html`<${JobStatus} key=${job.id} job=${job} label="Retention run" onDone=${(j) => { setJob(j); load(); }} />`}
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${!data ? html`<p class="muted">Loading…</p>` : policies.length === 0 ? html`<p class="muted">No retention policies: interactions are kept indefinitely.</p>` : html`
        <table class="list" id="retention">
          <thead><tr><th>Name</th><th>Applies to</th><th class="num">Keep (days)</th><th>Action</th><th>Last run</th><th class="num">Rows affected</th></tr></thead>
          <tbody>${policies.map((p) => html`<tr data-id=${p.id}>
            <td>${p.name}${!p.enabled && html` <span class="muted small">(disabled)</span>`}</td>
            <td>${p.kind || 'every kind'}, ${p.eventPattern ? html`<code>${p.eventPattern}</code>` : 'every event'}</td>
            <td class="num">${fmtNum(p.keepDays)}</td><td>${p.action}</td>
            <td>${fmtTime(p.lastRunAt)}${p.sweepInProgress && html` <span class="status running">in progress</span>`}</td>
            <td class="num">${fmtNum(p.rowsAffected)}</td>
          </tr>`)}</tbody>
        </table>`}
    </section>`;
}
