import { html, fmtNum, fmtTime } from '../html.js';

// SyncHistory is the table of a campaign's syncs, newest first.
export function SyncHistory({ syncs }) {
  if (syncs.length === 0) return html`<p class="muted">No syncs yet.</p>`;
  return html`
    <table class="list" id="syncs">
      <thead><tr><th>Started</th><th>Finished</th><th>Status</th>
        <th class="num">Added</th><th class="num">Updated</th><th class="num">Removed</th><th class="num">Failed</th><th class="num">Skipped</th></tr></thead>
      <tbody>${syncs.map((s) => html`<tr data-status=${s.status}>
        <td>${fmtTime(s.startedAt)}</td><td>${fmtTime(s.finishedAt)}</td>
        <td><span class=${'status ' + s.status}>${s.status}</span>${s.error && html`<div class="error small">${s.error}</div>`}</td>
        <td class="num">${fmtNum(s.added)}</td><td class="num">${fmtNum(s.updated)}</td><td class="num">${fmtNum(s.removed)}</td>
        <td class="num">${fmtNum(s.failed)}</td>
        <td class="num" title=${`${s.skippedNoEmail} without an email, ${s.skippedNoConsent} without consent`}>${fmtNum(s.skippedNoEmail + s.skippedNoConsent)}</td>
      </tr>`)}</tbody>
    </table>`;
}
