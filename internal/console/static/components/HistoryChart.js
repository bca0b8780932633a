import { html } from '../html.js';

// HistoryChart draws entries (up, green) and exits (down, red) per day as inline SVG.
export function HistoryChart({ history }) {
  if (!history?.length) return html`<p class="muted">No history yet.</p>`;
  const W = 600, H = 140, mid = H / 2, bw = W / history.length;
  const max = Math.max(1, ...history.map((d) => Math.max(d.entered, d.exited)));
  const total = history.reduce((a, d) => [a[0] + d.entered, a[1] + d.exited], [0, 0]);
  return html`
    <figure class="chart">
      <svg viewBox=${`0 0 ${W} ${H}`} role="img" aria-label=${`Last ${history.length} days: ${total[0]} entries, ${total[1]} exits`} preserveAspectRatio="none">
        <line x1="0" x2=${W} y1=${mid} y2=${mid} stroke="#999" stroke-width="0.5" />
        ${history.map((d, i) => {
          const up = (d.entered / max) * (mid - 4), down = (d.exited / max) * (mid - 4);
          const label = `${d.day.slice(0, 10)}: +${d.entered} −${d.exited}`;
          return html`<g><title>${label}</title>
            <rect x=${i * bw + 1} y=${mid - up} width=${Math.max(bw - 2, 1)} height=${up} fill="#2f855a" />
            <rect x=${i * bw + 1} y=${mid} width=${Math.max(bw - 2, 1)} height=${down} fill="#c53030" /></g>`;
        })}
      </svg>
      <figcaption class="muted small">Entries (up) and exits (down) per day, last ${history.length} days: +${total[0]} −${total[1]}</figcaption>
    </figure>`;
}
