import { useEffect, useState } from 'preact/hooks';
import { html, fmtTime } from '../html.js';
import { gql } from '../api.js';

const Q = `query($after: Cursor) { auditEvents(first: 50, after: $after, orderBy: {field: OCCURRED_AT, direction: DESC}) {
  pageInfo { hasNextPage endCursor } edges { node { id actor action targetType targetID details occurredAt } } } }`;

// AuditLog (admin scope) pages through the audit events, newest first.
export function AuditLog() {
  const [events, setEvents] = useState(null);
  const [page, setPage] = useState(null);
  const [error, setError] = useState('');
  const fetchPage = (after) => gql(Q, { after }).then((d) => {
    const got = d.auditEvents.edges.map((e) => e.node);
    setEvents((prev) => (after ? [...prev, ...got] : got));
    setPage(d.auditEvents.pageInfo);
  }).catch((e) => setError(e.message));
  useEffect(() => { fetchPage(null); }, []);
  return html`
    <div class="page-head"><h1>Audit log</h1></div>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${!events ? html`<p class="muted">Loading…</p>` : events.length === 0 ? html`<p class="muted">No audit events yet.</p>` : html`
      <table class="list" id="audit-events">
        <thead><tr><th>When</th><th>Actor</th><th>Action</th><th>Target</th><th>Details</th></tr></thead>
        <tbody>${events.map((a) => html`<tr data-action=${a.action}>
          <td>${fmtTime(a.occurredAt)}</td><td>${a.actor}</td><td><code>${a.action}</code></td>
          <td>${a.targetType || ''} <span class="muted small">${a.targetID || ''}</span></td>
          <td>${a.details && html`<pre class="details small">${JSON.stringify(a.details)}</pre>`}</td>
        </tr>`)}</tbody>
      </table>`}
    ${page?.hasNextPage && html`<button type="button" class="secondary" onClick=${() => fetchPage(page.endCursor)}>Older events</button>`}`;
}
