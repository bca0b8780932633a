import { useEffect, useState } from 'preact/hooks';
import { html, fmtTime } from '../html.js';
import { gql } from '../api.js';

const RECENT = `{ customers(first: 20, orderBy: {field: LAST_SEEN_AT, direction: DESC}) { edges { node { id email traits lastSeenAt } } } }`;
const BY_IDENTITY = `query($t: String!, $v: String!) { customerByIdentity(type: $t, value: $v) { id } }`;
const BY_TRAIT = `query($rule: SegmentRuleInput!) { segmentPreview(rule: $rule) { count sample(first: 25) { edges { node { id email traits lastSeenAt } } } } }`;

// ProfileSearch finds a profile by an identifier (email, user id, anonymous id, phone) or by a
// trait value, and lists the most recently seen ones.
export function ProfileSearch() {
  const [type, setType] = useState('email');
  const [value, setValue] = useState('');
  const [traitKey, setTraitKey] = useState('');
  const [list, setList] = useState(null);
  const [title, setTitle] = useState('Recently seen');
  const [error, setError] = useState('');
  useEffect(() => { gql(RECENT).then((d) => setList(d.customers.edges.map((e) => e.node))).catch((e) => setError(e.message)); }, []);

  const search = async (e) => {
    e.preventDefault();
    setError('');
    try {
      if (type === 'trait') {
        const d = await gql(BY_TRAIT, { rule: { trait: { key: traitKey.trim(), op: 'EQ', value: value.trim() } } });
        setTitle(`${d.segmentPreview.count} with traits.${traitKey.trim()} = ${value.trim()}`);
        setList(d.segmentPreview.sample.edges.map((x) => x.node));
        return;
      }
      const d = await gql(BY_IDENTITY, { t: type, v: value.trim() });
      if (d.customerByIdentity) location.hash = '#/profiles/' + d.customerByIdentity.id;
      else setError(`No profile holds ${type} ${value.trim()}.`);
    } catch (err) {
      setError(err.message);
    }
  };
  return html`
    <h1>Profiles</h1>
    <form class="card row wrap" onSubmit=${search} role="search">
      <label>Search by
        <select id="search-type" value=${type} onChange=${(e) => setType(e.target.value)}>
          <option value="email">email</option><option value="user_id">user id</option>
          <option value="anonymous_id">anonymous id</option><option value="phone">phone</option>
          <option value="trait">trait</option>
        </select>
      </label>
      ${type === 'trait' && html`<label>Trait key <input value=${traitKey} required onInput=${(e) => setTraitKey(e.target.value)} /></label>`}
      <label class="grow">Value <input id="search-value" value=${value} required onInput=${(e) => setValue(e.target.value)} /></label>
      <button type="submit">Search</button>
    </form>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <h2>${title}</h2>
    ${!list ? html`<p class="muted">Loading…</p>` : html`<ul class="people">${list.map((c) => html`<li>
      <a href=${'#/profiles/' + c.id}>${c.email || c.traits?.name || c.id}</a> <span class="muted small">seen ${fmtTime(c.lastSeenAt)}</span></li>`)}</ul>`}`;
}
