import { useEffect, useRef, useState } from 'preact/hooks';
import { html, fmtTime } from '../html.js';
import { gql } from '../api.js';

const Q = `query($id: ID!, $after: Cursor) { customer(id: $id) { interactions(first: 25, after: $after, orderBy: {field: OCCURRED_AT, direction: DESC}) {
  pageInfo { hasNextPage endCursor } edges { node { id kind event occurredAt properties revenue } } } } }`;

// Timeline lists a customer's interactions newest first, loading the next page (connection
// paging) when the end of the list scrolls into view.
export function Timeline({ customerId }) {
  const [items, setItems] = useState([]);
  const [page, setPage] = useState(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState('');
  const end = useRef(null);
  const load = async (after) => {
    setLoading(true);
    try {
      const d = await gql(Q, { id: customerId, after });
      const c = d.customer.interactions;
      setItems((xs) => (after ? [...xs, ...c.edges.map((e) => e.node)] : c.edges.map((e) => e.node)));
      setPage(c.pageInfo);
    } catch (e) {
      setError(e.message);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => { setItems([]); load(null); }, [customerId]);
  useEffect(() => {
    if (!end.current || !page?.hasNextPage) return;
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && !loading) load(page.endCursor);
    });
    io.observe(end.current);
    return () => io.disconnect();
  }, [page, loading]);
  return html`
    <section class="card" aria-labelledby="tl-h">
      <h2 id="tl-h">Timeline</h2>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <ol class="timeline" id="timeline">${items.map((i) => html`<li data-event=${i.event || i.kind}>
        <time datetime=${i.occurredAt}>${fmtTime(i.occurredAt)}</time>
        <strong>${i.event || i.kind}</strong>${i.revenue != null ? html` <span class="muted">${i.revenue}</span>` : ''}
        ${i.properties && Object.keys(i.properties).length > 0 && html`<details><summary>properties</summary><pre>${JSON.stringify(i.properties, null, 2)}</pre></details>`}
      </li>`)}</ol>
      ${!loading && items.length === 0 && html`<p class="muted">No interactions.</p>`}
      <div ref=${end} class="muted small">${loading ? 'Loading…' : page?.hasNextPage ? html`<button type="button" class="link" onClick=${() => load(page.endCursor)}>Load more</button>` : items.length ? 'The beginning.' : ''}</div>
    </section>`;
}
