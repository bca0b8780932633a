import { useEffect, useState } from 'preact/hooks';
import { html, fmtTime } from '../html.js';
import { gql } from '../api.js';
import { Timeline } from './Timeline.js';
import { ExplainPanel } from './ExplainPanel.js';

const Q = `query($id: ID!) { customer(id: $id) { id email phone traits firstSeenAt lastSeenAt
  identities { type value lastSeenAt }
  consents { purpose granted source recordedAt }
  segments { id name }
  rfm { recency frequency monetary score label computedAt }
  mergedFrom { id mergedAt } } }`;

// ProfilePage shows one customer: identities, traits, consent history, segments (with why),
// RFM, merges, and the interaction timeline.
export function ProfilePage({ id }) {
  const [c, setC] = useState(null);
  const [why, setWhy] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => { gql(Q, { id }).then((d) => (d.customer ? setC(d.customer) : setError('No such customer.'))).catch((e) => setError(e.message)); }, [id]);
  if (error) return html`<p class="error" role="alert">${error}</p>`;
  if (!c) return html`<p class="muted">Loading…</p>`;
  const consents = [...(c.consents || [])].sort((a, b) => b.recordedAt.localeCompare(a.recordedAt));
  return html`
    <div class="page-head"><h1>${c.email || c.traits?.name || 'Customer'}</h1></div>
    <p class="muted small">${c.id} · first seen ${fmtTime(c.firstSeenAt)} · last seen ${fmtTime(c.lastSeenAt)}</p>
    <div class="profile-grid">
      <div>
        <section class="card"><h2>Identities</h2>
          <ul class="kv">${(c.identities || []).map((i) => html`<li><span class="k">${i.type}</span> <span class="v">${i.value}</span></li>`)}</ul></section>
        <section class="card"><h2>Traits</h2>
          <ul class="kv">${Object.entries(c.traits || {}).map(([k, v]) => html`<li><span class="k">${k}</span> <span class="v">${typeof v === 'object' ? JSON.stringify(v) : String(v)}</span></li>`)}</ul></section>
        <section class="card"><h2>Segments</h2>
          ${c.segments.length === 0 ? html`<p class="muted">None.</p>` : html`<ul class="kv">${c.segments.map((s) => html`<li>
            <a href=${'#/segments/' + s.id}>${s.name}</a> <button type="button" class="link small" onClick=${() => setWhy(s.id)}>Why?</button></li>`)}</ul>`}</section>
        ${why && html`<${ExplainPanel} key=${why} segmentId=${why} customerId=${c.id} />`}
        <section class="card"><h2>RFM</h2>
          ${c.rfm ? html`<p><strong>${c.rfm.label}</strong> (${c.rfm.score}) · ${c.rfm.frequency} orders · ${c.rfm.monetary} revenue · last order ${c.rfm.recency} days before ${fmtTime(c.rfm.computedAt)}</p>` : html`<p class="muted">No orders in the window.</p>`}</section>
        <section class="card"><h2>Consent history</h2>
          ${consents.length === 0 ? html`<p class="muted">None recorded.</p>` : html`<ul class="kv">${consents.map((k) => html`<li>
            <span class="k">${k.purpose}</span> <span class=${k.granted ? 'ok' : 'bad'}>${k.granted ? 'granted' : 'denied'}</span> <span class="muted small">${fmtTime(k.recordedAt)}${k.source ? ' · ' + k.source : ''}</span></li>`)}</ul>`}</section>
        ${c.mergedFrom?.length > 0 && html`<section class="card"><h2>Merged from</h2>
          <ul class="kv">${c.mergedFrom.map((m) => html`<li><span class="v">${m.id}</span> <span class="muted small">${fmtTime(m.mergedAt)}</span></li>`)}</ul></section>`}
      </div>
      <${Timeline} customerId=${c.id} />
    </div>`;
}
