import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { html } from '../html.js';
import { gql, isAbort } from '../api.js';
import { toInput, fromInput, newNode, replaceNode, errorPath, nodeForPath } from '../rule.js';
import { RuleNode } from './RuleNode.js';
import { Preview } from './Preview.js';
import { ExplainPanel } from './ExplainPanel.js';

const PREVIEW = `query($rule: SegmentRuleInput!) { segmentPreview(rule: $rule) { count sample(first: 5) { edges { node { id email traits } } } } }`;
const LOAD = `query($id: ID!) { segment(id: $id) { id name description rule } }`;
const SEGMENTS = `{ segments(first: 200, orderBy: {field: NAME, direction: ASC}) { edges { node { id name } } } }`;
const CREATE = `mutation($input: CreateSegmentInput!) { createSegment(input: $input) { id } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateSegmentInput!) { updateSegment(id: $id, input: $input) { id } }`;

// SegmentBuilder edits a rule tree with a live preview: 300 ms after the last change the rule
// is previewed, and a newer change aborts the request in flight. Errors (incomplete nodes
// here, validation errors from the API) are shown on the node they belong to.
export function SegmentBuilder({ id, can }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [tree, setTree] = useState(() => ({ ...newNode('and'), children: [newNode('trait')] }));
  const [loaded, setLoaded] = useState(!id);
  const [segments, setSegments] = useState([]);
  const [preview, setPreview] = useState({ state: 'idle' });
  const [serverError, setServerError] = useState(null); // {path, message} or {message}
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState('');
  const inflight = useRef(null);

  useEffect(() => {
    gql(SEGMENTS).then((d) => setSegments(d.segments.edges.map((e) => e.node).filter((s) => s.id !== id))).catch(() => {});
    if (id) gql(LOAD, { id }).then((d) => {
      setName(d.segment.name);
      setDescription(d.segment.description || '');
      setTree(fromInput(d.segment.rule));
      setLoaded(true);
    }).catch((e) => setSaveError(e.message));
  }, [id]);

  const { input, paths, problems } = useMemo(() => {
    const paths = {}, problems = {};
    return { input: toInput(tree, 'rule', paths, problems), paths, problems };
  }, [tree]);
  const ruleKey = JSON.stringify(input);
  const incomplete = Object.keys(problems).length > 0;

  useEffect(() => {
    if (!loaded) return;
    inflight.current?.abort();
    setServerError(null);
    if (incomplete) { setPreview({ state: 'incomplete' }); return; }
    const ctl = new AbortController();
    inflight.current = ctl;
    setPreview((p) => ({ ...p, state: 'loading' }));
    const timer = setTimeout(() => {
      gql(PREVIEW, { rule: input }, { signal: ctl.signal })
        .then((d) => setPreview({ state: 'ready', count: d.segmentPreview.count, sample: d.segmentPreview.sample.edges.map((e) => e.node) }))
        .catch((e) => {
          if (isAbort(e)) return;
          const at = errorPath(e.message);
          setServerError(at || { message: e.message });
          setPreview({ state: 'error' });
        });
    }, 300);
    return () => { clearTimeout(timer); ctl.abort(); };
  }, [ruleKey, loaded]);

  const errors = { ...problems };
  if (serverError?.path) {
    const nodeID = nodeForPath(paths, serverError.path);
    if (nodeID) errors[nodeID] = serverError.message;
  }
  const update = (nodeID, fn) => setTree((t) => replaceNode(t, nodeID, fn) || { ...newNode('and') });

  const save = async (e) => {
    e.preventDefault();
    setSaving(true);
    setSaveError('');
    try {
      const payload = { name: name.trim(), description: description.trim() || null, rule: input };
      const d = id ? await gql(UPDATE, { id, input: payload }) : await gql(CREATE, { input: payload });
      location.hash = '#/segments/' + (id ? d.updateSegment.id : d.createSegment.id);
    } catch (err) {
      const at = errorPath(err.message);
      if (at) setServerError(at);
      setSaveError(err.message);
    } finally {
      setSaving(false);
    }
  };

  if (!loaded) return html`<p class="muted">Loading…</p>`;
  return html`
    <form class="builder" onSubmit=${save}>
      <div class="page-head"><h1>${id ? 'Edit segment' : 'New segment'}</h1></div>
      <div class="builder-grid">
        <section class="card" aria-label="Rule">
          <div class="row">
            <label>Name <input id="segment-name" required maxlength="200" value=${name} onInput=${(e) => setName(e.target.value)} /></label>
            <label class="grow">Description <input value=${description} onInput=${(e) => setDescription(e.target.value)} /></label>
          </div>
          <${RuleNode} node=${tree} root=${true} update=${update} errors=${errors} segments=${segments} />
          ${serverError && !serverError.path && html`<p class="error" role="alert">${serverError.message}</p>`}
        </section>
        <${Preview} preview=${preview} />
      </div>
      <div class="actions">
        ${saveError && html`<p class="error" role="alert">${saveError}</p>`}
        <button type="submit" id="save-segment" disabled=${saving || incomplete || !can('write')}>${id ? 'Save changes' : 'Save segment'}</button>
        <a href=${id ? '#/segments/' + id : '#/segments'}>Cancel</a>
      </div>
    </form>
    ${!incomplete && preview.state !== 'error' && html`<${ExplainPanel} rule=${input} />`}`;
}
