import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from '../html.js';
import { gql, isAbort } from '../api.js';

const Q = `query($where: InteractionWhereInput) { interactions(first: 50, where: $where) {
  edges { node { id kind event receivedAt occurredAt properties customer { id email traits } } } } }`;
const KINDS = ['track', 'page', 'screen', 'identify', 'group', 'alias'];

// LivePage is the event debugger: the newest events, polled every second, with the profile
// each resolved to, filterable by type and event name.
export function LivePage() {
  const [items, setItems] = useState([]);
  const [kind, setKind] = useState('');
  const [name, setName] = useState('');
  const [paused, setPaused] = useState(false);
  const [error, setError] = useState('');
  const seen = useRef(new Set());
  useEffect(() => {
    if (paused) return;
    const where = {};
    if (kind) where.kind = kind;
    if (name.trim()) where.eventContains = name.trim();
    let stop = false, timer, ctl;
    const poll = async () => {
      ctl = new AbortController();
      try {
        const d = await gql(Q, { where }, { signal: ctl.signal });
        if (stop) return;
        setItems(d.interactions.edges.map((e) => e.node));
        setError('');
      } catch (e) {
        if (!isAbort(e)) setError(e.message);
      }
      if (!stop) timer = setTimeout(poll, 1000);
    };
    poll();
    return () => { stop = true; clearTimeout(timer); ctl?.abort(); };
  }, [kind, name, paused]);
  const fresh = items.filter((i) => !seen.current.has(i.id)).map((i) => i.id);
  useEffect(() => { for (const id of fresh) seen.current.add(id); });
  return html`
    <div class="page-head"><h1>Live events</h1>
      <button type="button" class="secondary" aria-pressed=${paused} onClick=${() => setPaused(!paused)}>${paused ? 'Resume' : 'Pause'}</button></div>
    <form class="card row wrap" onSubmit=${(e) => e.preventDefault()}>
      <label>Type <select id="live-kind" value=${kind} onChange=${(e) => setKind(e.target.value)}><option value="">all</option>${KINDS.map((k) => html`<option value=${k}>${k}</option>`)}</select></label>
      <label class="grow">Event name contains <input id="live-name" value=${name} onInput=${(e) => setName(e.target.value)} /></label>
    </form>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <table class="list live" id="live-events">
      <thead><tr><th>Received</th><th>Type</th><th>Event</th><th>Profile</th></tr></thead>
      <tbody>${items.map((i) => html`<tr key=${i.id} class=${fresh.includes(i.id) && seen.current.size ? 'fresh' : ''} data-event=${i.event || ''}>
        <td><time datetime=${i.receivedAt}>${new Date(i.receivedAt).toLocaleTimeString()}</time></td><td>${i.kind}</td>
        <td><details><summary>${i.event || '—'}</summary><pre>${JSON.stringify(i.properties || {}, null, 2)}</pre></details></td>
        <td><a href=${'#/profiles/' + i.customer.id}>${i.customer.email || i.customer.traits?.name || i.customer.id.slice(0, 8)}</a></td></tr>`)}</tbody>
    </table>
    ${items.length === 0 && html`<p class="muted">No events yet.</p>`}`;
}
