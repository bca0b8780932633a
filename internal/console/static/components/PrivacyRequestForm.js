import { useState } from 'preact/hooks';
import { html } from '../html.js';
import { gql } from '../api.js';

const EXPORT = `mutation($t: String!, $v: String!) { requestExport(identityType: $t, identityValue: $v) { id } }`;
const ERASE = `mutation($t: String!, $v: String!) { requestErasure(identityType: $t, identityValue: $v) { id } }`;

// PrivacyRequestForm requests an export or an erasure of the person holding an identifier.
// Erasure cannot be undone, so it asks for confirmation first.
export function PrivacyRequestForm({ onRequested }) {
  const [type, setType] = useState('email');
  const [value, setValue] = useState('');
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const send = async (q) => {
    if (!value.trim()) { setError('Enter the identifier.'); return; }
    setBusy(true);
    setError('');
    try {
      await gql(q, { t: type, v: value.trim() });
      setValue('');
      setConfirming(false);
      onRequested?.();
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  };
  const askErase = () => { if (!value.trim()) { setError('Enter the identifier.'); return; } setError(''); setConfirming(true); };

  return html`
    <form class="card" id="privacy-form" onSubmit=${(e) => { e.preventDefault(); send(EXPORT); }} aria-labelledby="privacy-form-h">
      <h2 id="privacy-form-h">New request</h2>
      <div class="row wrap">
        <label>Identity type
          <select id="privacy-type" value=${type} onChange=${(e) => { setType(e.target.value); setConfirming(false); }}>
            <option value="email">email</option><option value="user_id">user id</option>
            <option value="anonymous_id">anonymous id</option><option value="phone">phone</option>
          </select></label>
        <label class="grow">Identifier <input id="privacy-value" value=${value} autocomplete="off"
          onInput=${(e) => { setValue(e.target.value); setConfirming(false); }} /></label>
        <button type="submit" id="request-export" disabled=${busy}>Request export</button>
        <button type="button" class="secondary" id="request-erasure" disabled=${busy} onClick=${askErase}>Erase…</button>
      </div>
      ${confirming && html`<div class="confirm" role="alertdialog" aria-labelledby="erase-confirm-h">
        <p id="erase-confirm-h"><strong>Erase everything held on the person with ${type} ${value.trim()}?</strong>
          Their profiles, identities, events, consents and contacts at every destination are deleted, and their
          identifiers are suppressed. This cannot be undone.</p>
        <button type="button" class="danger" id="confirm-erasure" disabled=${busy} onClick=${() => send(ERASE)}>Erase permanently</button>
        <button type="button" class="link" onClick=${() => setConfirming(false)}>Cancel</button>
      </div>`}
      ${error && html`<p class="error" role="alert">${error}</p>`}
    </form>`;
}
