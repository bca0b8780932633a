import { useEffect, useState } from 'preact/hooks';
import { html, fmtTime } from '../html.js';
import { gql } from '../api.js';
import { PrivacyRequestForm } from './PrivacyRequestForm.js';
import { RetentionPolicies } from './RetentionPolicies.js';

const Q = `query($after: Cursor) { privacyRequests(first: 50, after: $after, orderBy: {field: REQUESTED_AT, direction: DESC}) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { node { id kind identityType status requestedAt completedAt counts error downloadPath } } } }`;
const OPEN = ['pending', 'running'];

// countsText renders a request's counts ({interactions: 12, …}) compactly.
const countsText = (counts) => Object.entries(counts || {}).map(([k, v]) => `${k} ${v}`).join(', ') || '—';

// PrivacyPage (privacy scope) lists erasure and export requests, newest first, requests new
// ones, and shows the retention policies. While a request is open the list refreshes.
export function PrivacyPage() {
  const [reqs, setReqs] = useState(null);
  const [page, setPage] = useState(null);
  const [total, setTotal] = useState(0);
  const [error, setError] = useState('');
  const [tick, setTick] = useState(0);
  const load = () => gql(Q).then((d) => {
    setReqs(d.privacyRequests.edges.map((e) => e.node));
    setPage(d.privacyRequests.pageInfo);
    setTotal(d.privacyRequests.totalCount);
    setError('');
  }).catch((e) => setError(e.message));
  useEffect(() => { load(); }, [tick]);
  // Poll while any listed request is still open, so its status and counts appear.
  const open = reqs?.some((r) => OPEN.includes(r.status));
  useEffect(() => {
    if (!open) return;
    const t = setTimeout(() => setTick((n) => n + 1), 1000);
    return () => clearTimeout(t);
  }, [open, reqs]);
  const more = () => gql(Q, { after: page.endCursor }).then((d) => {
    setReqs((r) => [...r, ...d.privacyRequests.edges.map((e) => e.node)]);
    setPage(d.privacyRequests.pageInfo);
  }).catch((e) => setError(e.message));

  return html`
    <div class="page-head"><h1>Privacy</h1></div>
    <${PrivacyRequestForm} onRequested=${() => setTick((n) => n + 1)} />
    <section class="card" aria-labelledby="requests-h">
      <h2 id="requests-h">Requests <span class="muted">(${total})</span></h2>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${!reqs ? html`<p class="muted">Loading…</p>` : reqs.length === 0 ? html`<p class="muted">No requests yet.</p>` : html`
        <table class="list" id="privacy-requests">
          <thead><tr><th>Kind</th><th>Identity type</th><th>Status</th><th>Requested</th><th>Completed</th><th>Counts</th></tr></thead>
          <tbody>${reqs.map((r) => html`<tr data-id=${r.id} data-kind=${r.kind} data-status=${r.status}>
            <td>${r.kind}</td><td>${r.identityType}</td>
            <td><span class=${'status ' + r.status}>${r.status}</span>${r.error && html`<div class="error small">${r.error}</div>`}</td>
            <td>${fmtTime(r.requestedAt)}</td><td>${fmtTime(r.completedAt)}</td>
            <td class="small">${countsText(r.counts)}${r.downloadPath && html` <a href=${r.downloadPath} download>Download (once)</a>`}</td>
          </tr>`)}</tbody>
        </table>`}
      ${page?.hasNextPage && html`<button type="button" class="secondary" onClick=${more}>More requests</button>`}
    </section>
    <${RetentionPolicies} />`;
}
