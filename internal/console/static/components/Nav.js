import { html } from '../html.js';

const LINKS = [['#/segments', 'Segments'], ['#/profiles', 'Profiles'], ['#/live', 'Live events'], ['#/rfm', 'RFM']];
// SCOPED are offered only to a key whose scopes allow them (admin allows everything).
const SCOPED = [['#/campaigns', 'Campaigns', 'read'], ['#/privacy', 'Privacy', 'privacy'], ['#/audit', 'Audit log', 'admin']];

// Nav is the top bar: the pages, the key's name and scopes, sign-out.
export function Nav({ hash, viewer, onSignOut }) {
  const can = (scope) => viewer.scopes.includes(scope) || viewer.scopes.includes('admin');
  const links = [...LINKS, ...SCOPED.filter(([, , scope]) => can(scope))];
  return html`
    <header class="top">
      <a class="brand" href="#/segments">Cairn</a>
      <nav aria-label="Pages">
        ${links.map(([href, label]) => html`<a href=${href} aria-current=${hash.startsWith(href) ? 'page' : undefined}>${label}</a>`)}
        <a href="/playground">GraphQL</a>
      </nav>
      <span class="who" title=${'scopes: ' + viewer.scopes.join(', ')}>${viewer.name} · ${viewer.scopes.join(', ')}</span>
      <button type="button" class="link" onClick=${onSignOut}>Sign out</button>
    </header>`;
}
