import { useState } from 'preact/hooks';
import { html } from '../html.js';
import { gql, session } from '../api.js';

// SignIn asks for an API key, checks it with the viewer query, and keeps it in sessionStorage
// (gone when the tab closes; never put in a URL).
export function SignIn({ onSignedIn, query }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const d = await gql(query, {}, { key: key.trim() });
      session.set(key.trim());
      onSignedIn(d.viewer);
    } catch (err) {
      setError(err.status === 401 ? 'That key is not valid or was revoked.' : err.message);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <form class="signin card" onSubmit=${submit}>
      <h1>Cairn</h1>
      <label for="apikey">API key</label>
      <input id="apikey" type="password" autocomplete="off" required value=${key} onInput=${(e) => setKey(e.target.value)} />
      <p class="hint">Create one with <code>cairn keys create --name me --scopes read,write</code>. It is kept for this tab only.</p>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <button type="submit" disabled=${busy}>Sign in</button>
    </form>`;
}
