import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { gql } from '../api.js';

// Secrets are described by the API as key, configured and a masked hint; their values never
// reach the console.
const Q = `{ destinations(first: 100, orderBy: {field: NAME, direction: ASC}) { edges { node {
  id kind name enabled configured secrets { key configured hint } } } } }`;

// DestinationList lists the email provider connections campaigns sync to.
export function DestinationList() {
  const [data, setData] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => { gql(Q).then(setData).catch((e) => setError(e.message)); }, []);
  return html`
    <section class="card" aria-labelledby="destinations-h">
      <h2 id="destinations-h">Destinations</h2>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${!data ? html`<p class="muted">Loading…</p>` : data.destinations.edges.length === 0 ? html`<p class="muted">No destinations yet.</p>` : html`
        <table class="list" id="destinations">
          <thead><tr><th>Name</th><th>Kind</th><th>Configured</th><th>Secrets</th></tr></thead>
          <tbody>${data.destinations.edges.map(({ node: d }) => html`<tr data-id=${d.id}>
            <td>${d.name}${!d.enabled && html` <span class="muted small">(disabled)</span>`}</td>
            <td>${d.kind}</td>
            <td class=${d.configured ? 'ok' : 'bad'}>${d.configured ? 'yes' : 'no'}</td>
            <td>${d.secrets.map((s) => html`<div class="small"><code>${s.key}</code> ${s.configured ? html`<code class="hint">${s.hint}</code>` : html`<span class="bad">not set</span>`}</div>`)}</td>
          </tr>`)}</tbody>
        </table>`}
    </section>`;
}
