// The console's shell: sign-in, navigation by the URL hash, and the pages.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { gql, session } from './api.js';
import { SignIn } from './components/SignIn.js';
import { Nav } from './components/Nav.js';
import { SegmentList } from './components/SegmentList.js';
import { SegmentBuilder } from './components/SegmentBuilder.js';
import { SegmentPage } from './components/SegmentPage.js';
import { ProfileSearch } from './components/ProfileSearch.js';
import { ProfilePage } from './components/ProfilePage.js';
import { LivePage } from './components/LivePage.js';
import { RfmPage } from './components/RfmPage.js';
import { CampaignList } from './components/CampaignList.js';
import { CampaignPage } from './components/CampaignPage.js';
import { PrivacyPage } from './components/PrivacyPage.js';
import { AuditLog } from './components/AuditLog.js';

const VIEWER = `{ viewer { name scopes } }`;

function useHash() {
  const [hash, setHash] = useState(location.hash || '#/segments');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/segments');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

// can reports whether the viewer's scopes allow scope (admin allows everything).
const canFor = (scopes) => (s) => scopes.includes(s) || scopes.includes('admin');

function route(hash, can) {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  switch (parts[0]) {
    case 'segments':
      if (parts[1] === 'new') return can('write') ? html`<${SegmentBuilder} can=${can} />` : html`<p>This key may not create segments (write scope).</p>`;
      if (parts[1] && parts[2] === 'edit') return html`<${SegmentBuilder} id=${parts[1]} can=${can} />`;
      if (parts[1]) return html`<${SegmentPage} id=${parts[1]} can=${can} />`;
      return html`<${SegmentList} can=${can} />`;
    case 'profiles':
      return parts[1] ? html`<${ProfilePage} id=${parts[1]} />` : html`<${ProfileSearch} />`;
    case 'live': return html`<${LivePage} />`;
    case 'rfm': return html`<${RfmPage} can=${can} />`;
    case 'campaigns':
      if (!can('read')) return html`<p>This key may not see campaigns (read scope).</p>`;
      return parts[1] ? html`<${CampaignPage} id=${parts[1]} can=${can} />` : html`<${CampaignList} />`;
    case 'privacy': return can('privacy') ? html`<${PrivacyPage} />` : html`<p>This key may not see privacy requests (privacy scope).</p>`;
    case 'audit': return can('admin') ? html`<${AuditLog} />` : html`<p>This key may not see the audit log (admin scope).</p>`;
  }
  return html`<p>Page not found. <a href="#/segments">Segments</a></p>`;
}

function App() {
  const [viewer, setViewer] = useState(null);
  const [checking, setChecking] = useState(!!session.key());
  const hash = useHash();

  useEffect(() => {
    performance.mark('cairn-interactive'); // the first screen is rendered and listening
    const out = () => setViewer(null);
    addEventListener('cairn:signout', out);
    if (session.key()) {
      gql(VIEWER).then((d) => setViewer(d.viewer)).catch(() => session.clear()).finally(() => setChecking(false));
    }
    return () => removeEventListener('cairn:signout', out);
  }, []);

  if (checking) return html`<p class="boot">Signing in…</p>`;
  if (!viewer) return html`<${SignIn} onSignedIn=${setViewer} query=${VIEWER} />`;
  const can = canFor(viewer.scopes);
  const signOut = () => { session.clear(); setViewer(null); };
  return html`
    <${Nav} hash=${hash} viewer=${viewer} onSignOut=${signOut} />
    <main id="main">${route(hash, can)}</main>`;
}

const root = document.getElementById('app');
root.textContent = ''; // the boot message; Preact renders beside existing children otherwise
render(html`<${App} />`, root);
